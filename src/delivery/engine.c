/*
 * engine.c: the delivery thread (engine.h).
 *
 * One loop: take what the commit thread finished (claims, results), start
 * transfers for claimed deliveries, let libcurl run, turn finished transfers
 * into results and breaker updates, submit the next claim and the next
 * batch of results, then sleep in curl_multi_poll until a socket, a wakeup
 * or the next due time. At most one claim and one result batch are in the
 * commit queue at a time; whatever finishes meanwhile waits for the next.
 */
#include "delivery/engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/log.h"
#include "delivery/backoff.h"
#include "delivery/format.h"
#include "delivery/outcome.h"
#include "delivery/ssrf.h"

#define DH__BODY_KEEP 4096         /* response bytes kept per attempt */
#define DH__HEADERS_KEEP 8192      /* response header bytes kept per attempt */
#define DH__IDLE_POLL_MS 1000      /* look for due work at least this often */

enum dh__breaker { DH__BR_CLOSED, DH__BR_OPEN, DH__BR_HALF_OPEN };
static const char *const dh__br_names[] = {"closed", "open", "half_open"};

/* Runtime state of one endpoint id. Fields are written by the engine
 * thread; those the API shows are written under status_lock. */
struct dh__eprt {
    char *id;
    unsigned in_flight;
    int breaker;
    unsigned fails;       /* consecutive retryable failures */
    int64_t probe_at_ms;  /* open: when the probe may go */
    double tokens;        /* rate bucket */
    int64_t tokens_ms;
    int backlog;          /* the last claim came back full */
    int64_t next_due_ms;  /* the earliest waiting delivery, 0: none known */
    atomic_int resume;    /* set by dh_engine_resume */
};

struct dh__xfer {
    struct dh_engine *eng;
    struct dh__eprt *rt;
    struct dh_ep_entry *ent;
    CURL *h;
    struct curl_slist *hdrs;
    struct dh_outbound out;
    struct dh_dlv_claimed row;
    unsigned attempt;
    int64_t started_ms;
    int64_t t0_us;
    char body[DH__BODY_KEEP];
    size_t body_len;
    int truncated;
    json_t *rh;
    size_t rh_bytes;
    int64_t retry_after_ms;
    int ssrf;
    char ssrf_ip[64];
    char errbuf[CURL_ERROR_SIZE];
    struct dh__xfer *prev, *next; /* the engine's transfers in flight */
};

struct dh__claim_job {
    struct dh_commit_item item;
    struct dh_engine *eng;
    struct dh_dlv_claim *claims;
    struct dh__eprt **rts;
    size_t n;
    int64_t now_ms, lease_until_ms;
};

struct dh__results_job {
    struct dh_commit_item item;
    struct dh_engine *eng;
    struct dh_dlv_result *res;
    size_t n;
    char **pause_ids; /* endpoints a 410 paused */
    size_t npause;
};

struct dh_engine {
    struct dh_store *st;
    struct dh_committer *com;
    struct dh_registry *reg;
    CURLM *multi;
    pthread_t thread;
    int started;
    atomic_int stop;
    atomic_int kicked;
    struct dh_cidr *allow; /* delivery.allow_private + DESKHOOK_ALLOW_PRIVATE */
    size_t nallow;
    unsigned max_in_flight;
    unsigned in_flight;
    int64_t lease_margin_ms; /* a lease outlives the endpoint's timeout by this */
    uint64_t rng;

    pthread_mutex_t status_lock; /* rts array growth, fields the API reads */
    struct dh__eprt **rts;
    size_t nrts;

    struct dh__claim_job *claim;     /* in the commit queue, or NULL */
    atomic_int claim_done;
    struct dh__results_job *results; /* in the commit queue, or NULL */
    atomic_int results_done;
    struct dh_dlv_result *pending;   /* results not yet submitted */
    size_t npending, cap_pending;
    char **pause_pending;
    size_t npause_pending;
    int64_t next_claim_ms;
    CURL **idle;                     /* easy handles kept for reuse */
    size_t nidle;
    struct dh__xfer *active;         /* added to the multi handle */
    size_t rr;                       /* where the next claim starts sharing */
};

/* --- runtime state ------------------------------------------------------ */

static struct dh__eprt *dh__rt(struct dh_engine *eng, const char *id, int create)
{
    for (size_t i = 0; i < eng->nrts; i++)
        if (strcmp(eng->rts[i]->id, id) == 0)
            return eng->rts[i];
    if (!create)
        return NULL;
    struct dh__eprt *rt = dh_new(struct dh__eprt);
    rt->id = dh_strdup(id);
    atomic_init(&rt->resume, 0);
    pthread_mutex_lock(&eng->status_lock);
    eng->rts = dh_realloc(eng->rts, (eng->nrts + 1) * sizeof(*eng->rts));
    eng->rts[eng->nrts++] = rt;
    pthread_mutex_unlock(&eng->status_lock);
    return rt;
}

static double dh__rand01(struct dh_engine *eng)
{
    /* xorshift64*: jitter only needs to spread retries, not to be secret. */
    uint64_t x = eng->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    eng->rng = x;
    return (double)((x * 0x2545F4914F6CDD1Dull) >> 11) / (double)(1ull << 53);
}

static void dh__breaker_set(struct dh_engine *eng, struct dh__eprt *rt, const char *name, int to,
                            int64_t probe_at)
{
    pthread_mutex_lock(&eng->status_lock);
    int from = rt->breaker;
    rt->breaker = to;
    rt->probe_at_ms = probe_at;
    if (to == DH__BR_CLOSED)
        rt->fails = 0;
    pthread_mutex_unlock(&eng->status_lock);
    if (from == to)
        return;
    if (to == DH__BR_OPEN)
        dh_warn("breaker opened", DH_LS("endpoint", name), DH_LN("consecutive_failures", rt->fails),
                DH_LN("probe_in_ms", probe_at - dh_clock_wall_ms()));
    else if (to == DH__BR_CLOSED)
        dh_info("breaker closed", DH_LS("endpoint", name));
    else
        dh_info("breaker probing", DH_LS("endpoint", name));
}

/* --- curl callbacks (engine thread) ------------------------------------ */

static int dh__addr_allowed(struct dh__xfer *x, const struct sockaddr *sa)
{
    const struct dh_endpoint *ep = x->ent->ep;
    return dh_ssrf_allowed(sa, ep->allow_private, ep->nallow) ||
           dh_ssrf_allowed(sa, x->eng->allow, x->eng->nallow);
}

static curl_socket_t dh__opensocket(void *clientp, curlsocktype purpose,
                                    struct curl_sockaddr *addr)
{
    struct dh__xfer *x = clientp;
    if (!dh__addr_allowed(x, &addr->addr)) {
        /* curl reports this as a failed connect: remember the real reason. */
        x->ssrf = 1;
        dh_cidr_format_sa(&addr->addr, x->ssrf_ip, sizeof(x->ssrf_ip));
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

static int dh__prereq(void *clientp, char *conn_primary_ip, char *conn_local_ip,
                      int conn_primary_port, int conn_local_port)
{
    struct dh__xfer *x = clientp;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    /* Runs for every request, also on a reused connection, which the
     * open-socket callback never sees. */
    if (strchr(conn_primary_ip, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, conn_primary_ip, &s6->sin6_addr) != 1)
            goto refuse;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        if (inet_pton(AF_INET, conn_primary_ip, &s4->sin_addr) != 1)
            goto refuse;
    }
    if (dh__addr_allowed(x, (struct sockaddr *)&ss))
        return CURL_PREREQFUNC_OK;
refuse:
    x->ssrf = 1;
    snprintf(x->ssrf_ip, sizeof(x->ssrf_ip), "%s", conn_primary_ip);
    return CURL_PREREQFUNC_ABORT;
}

static size_t dh__write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct dh__xfer *x = userdata;
    size_t n = size * nmemb;
    size_t room = sizeof(x->body) - x->body_len;
    /* Keep the start, drop the rest: a short count would abort the
     * transfer and turn a fine answer into a failure. */
    if (n > room)
        x->truncated = 1;
    memcpy(x->body + x->body_len, ptr, n < room ? n : room);
    x->body_len += n < room ? n : room;
    return n;
}

static size_t dh__header(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct dh__xfer *x = userdata;
    size_t n = size * nitems;
    char name[128], value[1024];
    const char *colon;
    size_t nl, vl;

    if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        /* A new response (after a 1xx or a redirect): keep only the last. */
        json_object_clear(x->rh);
        x->rh_bytes = 0;
        x->retry_after_ms = 0;
        return n;
    }
    colon = memchr(buf, ':', n);
    if (colon == NULL)
        return n;
    nl = (size_t)(colon - buf);
    if (nl == 0 || nl >= sizeof(name))
        return n;
    for (size_t i = 0; i < nl; i++)
        name[i] = (char)(buf[i] >= 'A' && buf[i] <= 'Z' ? buf[i] - 'A' + 'a' : buf[i]);
    name[nl] = '\0';
    colon++;
    while (colon < buf + n && (*colon == ' ' || *colon == '\t'))
        colon++;
    vl = (size_t)(buf + n - colon);
    while (vl > 0 && (colon[vl - 1] == '\r' || colon[vl - 1] == '\n' || colon[vl - 1] == ' '))
        vl--;
    if (vl >= sizeof(value))
        vl = sizeof(value) - 1;
    memcpy(value, colon, vl);
    value[vl] = '\0';
    if (strcmp(name, "retry-after") == 0) {
        char *end = NULL;
        long long secs = strtoll(value, &end, 10);
        if (end != value && *end == '\0' && secs >= 0) {
            x->retry_after_ms = secs > 86400 ? 86400000 : secs * 1000;
        } else {
            time_t t = curl_getdate(value, NULL);
            int64_t d = (int64_t)t * 1000 - dh_clock_wall_ms();
            if (t > 0 && d > 0)
                x->retry_after_ms = d;
        }
    }
    if (x->rh_bytes + nl + vl <= DH__HEADERS_KEEP) {
        json_t *v = json_stringn(value, vl); /* NULL when not UTF-8: dropped */
        if (v != NULL) {
            x->rh_bytes += nl + vl;
            json_object_set_new(x->rh, name, v);
        }
    }
    return n;
}

/* --- transfers ---------------------------------------------------------- */

static void dh__result_push(struct dh_engine *eng, struct dh_dlv_result *r)
{
    if (eng->npending == eng->cap_pending) {
        eng->cap_pending = eng->cap_pending ? eng->cap_pending * 2 : 256;
        eng->pending = dh_realloc(eng->pending, eng->cap_pending * sizeof(*eng->pending));
    }
    eng->pending[eng->npending++] = *r;
}

static void dh__xfer_free(struct dh_engine *eng, struct dh__xfer *x)
{
    if (x->h != NULL) {
        if (x->prev != NULL)
            x->prev->next = x->next;
        else
            eng->active = x->next;
        if (x->next != NULL)
            x->next->prev = x->prev;
        curl_multi_remove_handle(eng->multi, x->h);
        curl_easy_reset(x->h);
        eng->idle = dh_realloc(eng->idle, (eng->nidle + 1) * sizeof(*eng->idle));
        eng->idle[eng->nidle++] = x->h;
    }
    curl_slist_free_all(x->hdrs);
    dh_outbound_clear(&x->out);
    dh_dlv_claimed_clear(&x->row);
    json_decref(x->rh);
    dh_ep_entry_unref(x->ent);
    free(x);
}

/* Turns an attempt's outcome into the delivery's next state, the breaker's
 * next state, and a result row. */
static void dh__conclude(struct dh_engine *eng, struct dh__xfer *x, enum dh_outcome o,
                         int status, const char *error)
{
    const struct dh_endpoint *ep = x->ent->ep;
    struct dh__eprt *rt = x->rt;
    struct dh_dlv_result r;
    int64_t now = dh_clock_wall_ms();
    int retryable = dh_outcome_retryable(o, status);

    memset(&r, 0, sizeof(r));
    snprintf(r.id, sizeof(r.id), "%s", x->row.id);
    r.attempt = x->attempt;
    r.started_ms = x->started_ms;
    r.duration_ms = x->t0_us ? (dh_clock_mono_us() - x->t0_us) / 1000 : 0;
    r.status = status;
    r.outcome = dh_outcome_name(o);
    r.error = error && error[0] ? dh_strdup(error) : NULL;
    if (x->rh != NULL && json_object_size(x->rh) > 0)
        r.resp_headers = json_dumps(x->rh, JSON_COMPACT);
    if (x->body_len > 0) {
        r.resp_body = dh_malloc(x->body_len);
        memcpy(r.resp_body, x->body, x->body_len);
        r.resp_body_len = x->body_len;
    }
    r.body_truncated = x->truncated;
    if (o == DH_OUT_HTTP_2XX) {
        r.state = DH_DLV_DELIVERED;
    } else if (retryable && x->attempt < ep->max_attempts) {
        r.state = DH_DLV_RETRY_WAIT;
        r.next_at_ms = now + (int64_t)dh_backoff_delay(ep->schedule_ms, ep->nschedule,
                                                       x->attempt + 1, dh__rand01(eng),
                                                       (uint64_t)x->retry_after_ms);
    } else {
        r.state = DH_DLV_DEAD;
    }
    dh__result_push(eng, &r);

    if (o == DH_OUT_HTTP_2XX)
        dh_debug("delivered", DH_LS("delivery", x->row.id), DH_LS("endpoint", ep->name),
                 DH_LN("status", status), DH_LN("attempt", x->attempt));
    else if (strcmp(r.state, DH_DLV_DEAD) == 0)
        dh_warn("delivery dead", DH_LS("delivery", x->row.id), DH_LS("event", x->row.event_id),
                DH_LS("endpoint", ep->name), DH_LS("outcome", r.outcome),
                DH_LN("status", status), DH_LN("attempt", x->attempt));
    else
        dh_info("delivery attempt failed", DH_LS("delivery", x->row.id),
                DH_LS("endpoint", ep->name), DH_LS("outcome", r.outcome),
                DH_LN("status", status), DH_LN("attempt", x->attempt),
                DH_LN("retry_in_ms", r.next_at_ms - now));

    if (status == 410 && ep->pause_on_gone && !atomic_load(&x->ent->paused)) {
        /* Standard Webhooks: 410 Gone means stop sending. */
        dh_registry_mark_paused(eng->reg, x->ent, "the endpoint answered 410 Gone");
        eng->pause_pending =
            dh_realloc(eng->pause_pending, (eng->npause_pending + 1) * sizeof(char *));
        eng->pause_pending[eng->npause_pending++] = dh_strdup(ep->id);
        dh_warn("endpoint paused", DH_LS("endpoint", ep->name),
                DH_LS("reason", "the endpoint answered 410 Gone"));
    }

    /* The breaker counts only failures that say the receiver is down; a
     * considered HTTP answer (even a 4xx) says it is up. */
    if (retryable) {
        pthread_mutex_lock(&eng->status_lock);
        rt->fails++;
        pthread_mutex_unlock(&eng->status_lock);
        if (rt->breaker == DH__BR_HALF_OPEN ||
            (rt->breaker == DH__BR_CLOSED && rt->fails >= ep->breaker_failures))
            dh__breaker_set(eng, rt, ep->name, DH__BR_OPEN,
                            now + (int64_t)ep->breaker_cooldown_ms);
    } else if (status > 0) {
        if (rt->breaker != DH__BR_CLOSED || rt->fails > 0)
            dh__breaker_set(eng, rt, ep->name, DH__BR_CLOSED, 0);
    }
}

static enum dh_outcome dh__curl_outcome(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return DH_OUT_DNS_FAILED;
    case CURLE_COULDNT_CONNECT:
        return DH_OUT_CONNECT_FAILED;
    case CURLE_OPERATION_TIMEDOUT:
        return DH_OUT_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
        return DH_OUT_TLS_FAILED;
    case CURLE_TOO_MANY_REDIRECTS:
        return DH_OUT_HTTP_3XX;
    default:
        return DH_OUT_NETWORK_ERROR;
    }
}

static void dh__xfer_done(struct dh_engine *eng, CURL *h, CURLcode cc)
{
    struct dh__xfer *x = NULL;
    long status = 0;
    char err[200];

    curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&x);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (x->ssrf) {
        snprintf(err, sizeof(err),
                 "%s is a private or reserved address; allow it with allow_private",
                 x->ssrf_ip);
        dh__conclude(eng, x, DH_OUT_SSRF_REFUSED, 0, err);
    } else if (cc == CURLE_OK) {
        dh__conclude(eng, x, dh_outcome_of_status((int)status), (int)status, NULL);
    } else {
        snprintf(err, sizeof(err), "%.190s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc));
        enum dh_outcome o = dh__curl_outcome(cc);
        dh__conclude(eng, x, o, o == DH_OUT_HTTP_3XX ? (int)status : 0, err);
    }
    eng->in_flight--;
    pthread_mutex_lock(&eng->status_lock);
    x->rt->in_flight--;
    pthread_mutex_unlock(&eng->status_lock);
    dh__xfer_free(eng, x);
}

static void dh__xfer_start(struct dh_engine *eng, struct dh__eprt *rt, struct dh_ep_entry *ent,
                           struct dh_dlv_claimed *row)
{
    const struct dh_endpoint *ep = ent->ep;
    struct dh__xfer *x = dh_new(struct dh__xfer);
    struct dh_event_view v = {row->event_id, row->source, row->type, row->received_ms, row->doc,
                              row->doc_len};
    char err[300];
    int rc;

    x->eng = eng;
    x->rt = rt;
    x->ent = ent;
    dh_ep_entry_ref(ent);
    x->row = *row;
    memset(row, 0, sizeof(*row));
    x->attempt = x->row.attempts + 1;
    x->started_ms = dh_clock_wall_ms();
    x->rh = json_object();
    eng->in_flight++;
    pthread_mutex_lock(&eng->status_lock);
    rt->in_flight++;
    pthread_mutex_unlock(&eng->status_lock);

    err[0] = '\0';
    rc = dh_format_build(ep, &v, x->row.id, x->started_ms / 1000, &x->out, err, sizeof(err));
    if (rc < 0) {
        dh__conclude(eng, x, rc == DH_E_TOO_LARGE ? DH_OUT_TOO_LARGE : DH_OUT_PAYLOAD_ERROR, 0,
                     err);
        goto fail;
    }
    for (size_t i = 0; i < x->out.nheaders; i++)
        x->hdrs = curl_slist_append(x->hdrs, x->out.headers[i]);
    /* No "Expect: 100-continue" round trip before larger bodies. */
    x->hdrs = curl_slist_append(x->hdrs, "Expect:");

    x->h = eng->nidle > 0 ? eng->idle[--eng->nidle] : curl_easy_init();
    if (x->h == NULL) {
        dh__conclude(eng, x, DH_OUT_NETWORK_ERROR, 0, "cannot create a transfer");
        goto fail;
    }
    CURL *h = x->h;
    curl_easy_setopt(h, CURLOPT_PRIVATE, x);
    curl_easy_setopt(h, CURLOPT_URL, ep->url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->out.body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->out.len);
    if (strcmp(ep->method, "POST") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, ep->method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)ep->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(ep->timeout_ms < 10000 ? ep->timeout_ms : 10000));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    /* An environment proxy would hide the real destination from the guard. */
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, ep->follow_redirects ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, dh__opensocket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, x);
    curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, dh__prereq);
    curl_easy_setopt(h, CURLOPT_PREREQDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, dh__write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, dh__header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    if (ep->ca_file != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, ep->ca_file);
    if (strncmp(ep->url, "https://", 8) == 0) {
        /* HTTP/2 when the server offers it in TLS; wait for the handshake
         * to tell, so requests multiplex over one connection. */
        curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L);
    } else {
        /* Plain HTTP/1.1: said outright, since with PIPEWAIT a new request
         * would queue behind a busy connection instead of opening another. */
        curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    }
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    x->t0_us = dh_clock_mono_us();
    if (curl_multi_add_handle(eng->multi, h) != CURLM_OK) {
        dh__conclude(eng, x, DH_OUT_NETWORK_ERROR, 0, "cannot start the transfer");
        goto fail;
    }
    x->next = eng->active;
    if (eng->active != NULL)
        eng->active->prev = x;
    eng->active = x;
    return;
fail:
    eng->in_flight--;
    pthread_mutex_lock(&eng->status_lock);
    rt->in_flight--;
    pthread_mutex_unlock(&eng->status_lock);
    if (x->h != NULL) {
        eng->idle = dh_realloc(eng->idle, (eng->nidle + 1) * sizeof(*eng->idle));
        eng->idle[eng->nidle++] = x->h;
        curl_easy_reset(x->h);
        x->h = NULL;
    }
    dh__xfer_free(eng, x);
}

/* --- claims and results through the commit thread ----------------------- */

static int dh__claim_call(struct dh_store *st, struct dh_commit_item *item)
{
    struct dh__claim_job *j = item->call_arg;
    return st->ops->dlv_claim(st, j->claims, j->n, j->now_ms, j->lease_until_ms);
}

static void dh__claim_done(struct dh_commit_item *item)
{
    struct dh__claim_job *j = item->call_arg;
    struct dh_engine *eng = j->eng;
    /* The engine may free j as soon as the flag is set. */
    atomic_store(&eng->claim_done, 1);
    curl_multi_wakeup(eng->multi);
}

static void dh__claim_free(struct dh__claim_job *j)
{
    for (size_t i = 0; i < j->n; i++) {
        for (size_t r = 0; r < j->claims[i].nrows; r++)
            dh_dlv_claimed_clear(&j->claims[i].rows[r]);
        free(j->claims[i].rows);
        free((char *)j->claims[i].endpoint_id);
    }
    free(j->claims);
    free(j->rts);
    free(j);
}

static int dh__results_call(struct dh_store *st, struct dh_commit_item *item)
{
    struct dh__results_job *j = item->call_arg;
    int64_t now = dh_clock_wall_ms();
    int rc = st->ops->dlv_finish(st, j->res, j->n);
    for (size_t i = 0; rc == 0 && i < j->npause; i++)
        rc = st->ops->ep_set_paused(st, j->pause_ids[i], 1, "the endpoint answered 410 Gone",
                                    now);
    for (size_t i = 0; i < j->n; i++)
        if (strcmp(j->res[i].state, DH_DLV_RETRY_WAIT) == 0)
            item->ndue++;
    return rc;
}

static void dh__results_done(struct dh_commit_item *item)
{
    struct dh__results_job *j = item->call_arg;
    struct dh_engine *eng = j->eng;
    /* The engine may free j as soon as the flag is set. */
    atomic_store(&eng->results_done, 1);
    curl_multi_wakeup(eng->multi);
}

static void dh__results_free(struct dh__results_job *j)
{
    for (size_t i = 0; i < j->n; i++)
        dh_dlv_result_clear(&j->res[i]);
    free(j->res);
    for (size_t i = 0; i < j->npause; i++)
        free(j->pause_ids[i]);
    free(j->pause_ids);
    free(j);
}

static void dh__submit_results(struct dh_engine *eng)
{
    struct dh__results_job *j;

    if (eng->results != NULL || (eng->npending == 0 && eng->npause_pending == 0))
        return;
    j = dh_new(struct dh__results_job);
    j->eng = eng;
    j->res = eng->pending;
    j->n = eng->npending;
    j->pause_ids = eng->pause_pending;
    j->npause = eng->npause_pending;
    eng->pending = NULL;
    eng->npending = eng->cap_pending = 0;
    eng->pause_pending = NULL;
    eng->npause_pending = 0;
    j->item.kind = DH_COMMIT_CALL;
    j->item.call = dh__results_call;
    j->item.call_arg = j;
    j->item.done = dh__results_done;
    atomic_store(&eng->results_done, 0);
    if (dh_commit_submit(eng->com, &j->item) < 0) {
        /* Shutting down: the leases make these go out again after a
         * restart. */
        dh__results_free(j);
        return;
    }
    eng->results = j;
}

static void dh__results_finished(struct dh_engine *eng)
{
    struct dh__results_job *j = eng->results;
    if (j->item.rc < 0)
        dh_error("cannot record delivery results; they will be retried when their leases end",
                 DH_LN("results", j->n), DH_LS("error", dh_strerror(j->item.rc)));
    eng->results = NULL;
    dh__results_free(j);
}

/* How many deliveries the endpoint may take now, by its own limits. */
static unsigned dh__capacity(struct dh_engine *eng, struct dh_ep_entry *ent, struct dh__eprt *rt,
                             int64_t now, int64_t *wake)
{
    const struct dh_endpoint *ep = ent->ep;
    unsigned cap;

    if (atomic_exchange(&rt->resume, 0) && rt->breaker != DH__BR_CLOSED)
        dh__breaker_set(eng, rt, ep->name, DH__BR_CLOSED, 0);
    if (atomic_load(&ent->paused) || !ep->active)
        return 0;
    if (rt->breaker == DH__BR_OPEN) {
        if (now < rt->probe_at_ms) {
            if (rt->probe_at_ms < *wake)
                *wake = rt->probe_at_ms;
            return 0;
        }
        dh__breaker_set(eng, rt, ep->name, DH__BR_HALF_OPEN, 0);
    }
    if (rt->breaker == DH__BR_HALF_OPEN)
        return rt->in_flight == 0 ? 1 : 0; /* one probe at a time */
    cap = rt->in_flight < ep->max_in_flight ? ep->max_in_flight - rt->in_flight : 0;
    if (ep->rate > 0) {
        double burst = ep->rate < 1 ? 1 : ep->rate;
        rt->tokens += (double)(now - rt->tokens_ms) * ep->rate / 1000.0;
        if (rt->tokens > burst)
            rt->tokens = burst;
        rt->tokens_ms = now;
        if (rt->tokens < 1) {
            int64_t t = now + (int64_t)((1 - rt->tokens) * 1000.0 / ep->rate) + 1;
            if (t < *wake)
                *wake = t;
            return 0;
        }
        if (cap > (unsigned)rt->tokens)
            cap = (unsigned)rt->tokens;
    }
    return cap;
}

static void dh__maybe_claim(struct dh_engine *eng, struct dh_epset *set, int64_t now)
{
    int kicked = atomic_exchange(&eng->kicked, 0);
    int64_t wake = now + DH__IDLE_POLL_MS;
    struct dh__claim_job *j;
    int due = kicked || now >= eng->next_claim_ms;
    unsigned global = eng->in_flight < eng->max_in_flight ? eng->max_in_flight - eng->in_flight : 0;

    if (eng->claim != NULL) {
        if (kicked)
            atomic_store(&eng->kicked, 1); /* look again once this one is back */
        return;
    }
    j = dh_new(struct dh__claim_job);
    j->claims = dh_calloc(set->n ? set->n : 1, sizeof(*j->claims));
    j->rts = dh_calloc(set->n ? set->n : 1, sizeof(*j->rts));
    unsigned *caps = dh_calloc(set->n ? set->n : 1, sizeof(*caps));
    struct dh__eprt **rts = dh_calloc(set->n ? set->n : 1, sizeof(*rts));
    size_t nwant = 0;
    for (size_t i = 0; i < set->n; i++) {
        struct dh_ep_entry *ent = set->v[i];
        struct dh__eprt *rt = rts[i] = dh__rt(eng, ent->ep->id, 1);
        unsigned cap = dh__capacity(eng, ent, rt, now, &wake);
        int want = due || (rt->backlog && cap > 0) ||
                   (rt->next_due_ms > 0 && rt->next_due_ms <= now);
        if (rt->next_due_ms > now && rt->next_due_ms < wake)
            wake = rt->next_due_ms;
        caps[i] = want ? cap : 0;
        nwant += caps[i] > 0;
    }
    /* delivery.max_in_flight is shared: each endpoint that wants work gets
     * an equal part, and the first in line moves round, so one busy
     * endpoint cannot keep the others waiting. */
    unsigned share = nwant > 0 ? (unsigned)(global / nwant) : 0;
    if (share == 0 && global > 0)
        share = 1;
    for (size_t k = 0; k < set->n && global > 0; k++) {
        size_t i = (eng->rr + k) % set->n;
        struct dh_ep_entry *ent = set->v[i];
        unsigned cap = caps[i] < share ? caps[i] : share;
        if (cap == 0)
            continue;
        j->claims[j->n].endpoint_id = dh_strdup(ent->ep->id);
        j->claims[j->n].limit = cap;
        j->rts[j->n] = rts[i];
        global -= cap;
        if (now + (int64_t)ent->ep->timeout_ms + eng->lease_margin_ms > j->lease_until_ms)
            j->lease_until_ms = now + (int64_t)ent->ep->timeout_ms + eng->lease_margin_ms;
        j->n++;
    }
    eng->rr++;
    free(caps);
    free(rts);
    eng->next_claim_ms = wake;
    if (j->n == 0) {
        dh__claim_free(j);
        return;
    }
    /* Only one claim is out at a time, so the room it asked for stays free
     * until its rows come back. */
    j->eng = eng;
    j->now_ms = now;
    j->item.kind = DH_COMMIT_CALL;
    j->item.call = dh__claim_call;
    j->item.call_arg = j;
    j->item.done = dh__claim_done;
    atomic_store(&eng->claim_done, 0);
    if (dh_commit_submit(eng->com, &j->item) < 0) {
        dh__claim_free(j);
        return;
    }
    eng->claim = j;
}

static void dh__claim_finished(struct dh_engine *eng, struct dh_epset *set)
{
    struct dh__claim_job *j = eng->claim;
    eng->claim = NULL;
    if (j->item.rc < 0) {
        dh_error("cannot claim deliveries", DH_LS("error", dh_strerror(j->item.rc)));
        eng->next_claim_ms = dh_clock_wall_ms() + DH__IDLE_POLL_MS;
        dh__claim_free(j);
        return;
    }
    for (size_t i = 0; i < j->n; i++) {
        struct dh_dlv_claim *c = &j->claims[i];
        struct dh__eprt *rt = j->rts[i];
        struct dh_ep_entry *ent = dh_epset_find(set, c->endpoint_id);
        rt->backlog = c->nrows == c->limit;
        rt->next_due_ms = c->next_due_ms;
        for (size_t r = 0; r < c->nrows; r++) {
            if (ent == NULL) {
                /* Deleted meanwhile: the store marked its deliveries dead. */
                continue;
            }
            if (ent->ep->rate > 0)
                rt->tokens -= 1;
            dh__xfer_start(eng, rt, ent, &c->rows[r]);
        }
    }
    dh__claim_free(j);
}

/* --- the thread --------------------------------------------------------- */

static void dh__drain_curl(struct dh_engine *eng)
{
    CURLMsg *m;
    int left = 0;
    while ((m = curl_multi_info_read(eng->multi, &left)) != NULL)
        if (m->msg == CURLMSG_DONE)
            dh__xfer_done(eng, m->easy_handle, m->data.result);
}

static void *dh__engine_main(void *arg)
{
    struct dh_engine *eng = arg;
    int running = 0;

    pthread_setname_np(pthread_self(), "dh-delivery");
    while (!atomic_load(&eng->stop)) {
        struct dh_epset *set = dh_registry_acquire(eng->reg);
        int64_t now = dh_clock_wall_ms();

        if (eng->results != NULL && atomic_load(&eng->results_done))
            dh__results_finished(eng);
        if (eng->claim != NULL && atomic_load(&eng->claim_done))
            dh__claim_finished(eng, set);
        curl_multi_perform(eng->multi, &running);
        dh__drain_curl(eng);
        dh__submit_results(eng);
        dh__maybe_claim(eng, set, dh_clock_wall_ms());
        dh_epset_release(set);

        /* With a claim in the queue, its done callback wakes the loop; a
         * kick meanwhile is kept for when it is back. curl_multi_poll also
         * honours libcurl's own timers. */
        int64_t wait = eng->claim != NULL ? DH__IDLE_POLL_MS : eng->next_claim_ms - now;
        if ((eng->claim == NULL && atomic_load(&eng->kicked)) ||
            (eng->claim != NULL && atomic_load(&eng->claim_done)) ||
            (eng->results != NULL && atomic_load(&eng->results_done)))
            wait = 0;
        if (wait < 0)
            wait = 0;
        if (wait > DH__IDLE_POLL_MS)
            wait = DH__IDLE_POLL_MS;
        curl_multi_poll(eng->multi, NULL, 0, (int)wait, NULL);
    }

    /* Stopping: transfers in flight are abandoned (leased, so sent again
     * after the next start); finished results are written. */
    while (eng->claim != NULL || eng->results != NULL || eng->npending > 0 ||
           eng->npause_pending > 0) {
        if (eng->claim != NULL && atomic_load(&eng->claim_done)) {
            dh__claim_free(eng->claim);
            eng->claim = NULL;
        }
        if (eng->results != NULL && atomic_load(&eng->results_done))
            dh__results_finished(eng);
        if (eng->results == NULL && (eng->npending > 0 || eng->npause_pending > 0)) {
            dh__submit_results(eng);
            if (eng->results == NULL)
                break; /* the committer is gone */
        }
        curl_multi_poll(eng->multi, NULL, 0, 100, NULL);
    }
    return NULL;
}

/* --- public ------------------------------------------------------------- */

int dh_engine_start(const struct dh_config *cfg, struct dh_store *st, struct dh_committer *com,
                    struct dh_registry *reg, struct dh_engine **out, char *err, size_t errlen)
{
    struct dh_engine *eng = dh_new(struct dh_engine);
    const char *env = getenv("DESKHOOK_ALLOW_PRIVATE");
    int rc = 0;

    *out = NULL;
    eng->st = st;
    eng->com = com;
    eng->reg = reg;
    eng->max_in_flight = cfg->delivery_max_in_flight ? (unsigned)cfg->delivery_max_in_flight
                                                     : 4096;
    eng->lease_margin_ms = cfg->delivery_lease_margin_ms ? (int64_t)cfg->delivery_lease_margin_ms
                                                         : 60000;
    atomic_init(&eng->stop, 0);
    atomic_init(&eng->kicked, 1);
    atomic_init(&eng->claim_done, 0);
    atomic_init(&eng->results_done, 0);
    pthread_mutex_init(&eng->status_lock, NULL);
    dh_crypto_random(&eng->rng, sizeof(eng->rng));
    eng->rng |= 1;

    eng->allow = dh_calloc(cfg->ndelivery_allow + 1, sizeof(*eng->allow));
    for (size_t i = 0; i < cfg->ndelivery_allow; i++) {
        if (dh_cidr_parse(cfg->delivery_allow[i], &eng->allow[eng->nallow]) < 0) {
            snprintf(err, errlen, "delivery.allow_private: \"%s\" is not a CIDR range",
                     cfg->delivery_allow[i]);
            rc = -EINVAL;
            goto out;
        }
        eng->nallow++;
    }
    if (env != NULL && env[0] != '\0') {
        struct dh_cidr *more = NULL;
        size_t nmore = 0;
        char why[200];
        if (dh_ssrf_parse_list(env, &more, &nmore, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "DESKHOOK_ALLOW_PRIVATE: %s", why);
            rc = -EINVAL;
            goto out;
        }
        eng->allow = dh_realloc(eng->allow, (eng->nallow + nmore + 1) * sizeof(*eng->allow));
        memcpy(eng->allow + eng->nallow, more, nmore * sizeof(*more));
        eng->nallow += nmore;
        free(more);
        dh_warn("the SSRF guard allows extra ranges from DESKHOOK_ALLOW_PRIVATE",
                DH_LS("ranges", env));
    }
    eng->multi = curl_multi_init();
    if (eng->multi == NULL) {
        snprintf(err, errlen, "cannot start libcurl");
        rc = DH_E_INTERNAL;
        goto out;
    }
    curl_multi_setopt(eng->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(eng->multi, CURLMOPT_MAXCONNECTS, (long)eng->max_in_flight);
    dh_commit_set_kick(com, dh_engine_kick, eng);
    rc = -pthread_create(&eng->thread, NULL, dh__engine_main, eng);
    if (rc < 0) {
        snprintf(err, errlen, "cannot start the delivery thread");
        goto out;
    }
    eng->started = 1;
    *out = eng;
out:
    if (rc < 0)
        dh_engine_free(eng);
    return rc;
}

void dh_engine_kick(void *arg)
{
    struct dh_engine *eng = arg;
    atomic_store(&eng->kicked, 1);
    curl_multi_wakeup(eng->multi);
}

void dh_engine_resume(struct dh_engine *eng, const char *endpoint_id)
{
    pthread_mutex_lock(&eng->status_lock);
    struct dh__eprt *rt = dh__rt(eng, endpoint_id, 0);
    if (rt != NULL)
        atomic_store(&rt->resume, 1);
    pthread_mutex_unlock(&eng->status_lock);
    dh_engine_kick(eng);
}

json_t *dh_engine_status(struct dh_engine *eng, const char *endpoint_id)
{
    int breaker = DH__BR_CLOSED;
    unsigned fails = 0, in_flight = 0;
    int64_t probe_at = 0;
    char ts[40];

    pthread_mutex_lock(&eng->status_lock);
    for (size_t i = 0; i < eng->nrts; i++) {
        struct dh__eprt *rt = eng->rts[i];
        if (strcmp(rt->id, endpoint_id) != 0)
            continue;
        breaker = rt->breaker;
        fails = rt->fails;
        in_flight = rt->in_flight;
        probe_at = rt->breaker == DH__BR_OPEN ? rt->probe_at_ms : 0;
    }
    pthread_mutex_unlock(&eng->status_lock);
    if (probe_at > 0)
        dh_clock_format_iso(probe_at, ts, sizeof(ts));
    return json_pack("{s:{s:s,s:i,s:o},s:i}", "breaker", "state", dh__br_names[breaker],
                     "consecutive_failures", (int)fails, "probe_at",
                     probe_at > 0 ? json_string(ts) : json_null(), "in_flight", (int)in_flight);
}

void dh_engine_stop(struct dh_engine *eng)
{
    if (eng == NULL || !eng->started)
        return;
    atomic_store(&eng->stop, 1);
    curl_multi_wakeup(eng->multi);
    pthread_join(eng->thread, NULL);
    eng->started = 0;
}

void dh_engine_free(struct dh_engine *eng)
{
    if (eng == NULL)
        return;
    dh_engine_stop(eng);
    while (eng->active != NULL)
        dh__xfer_free(eng, eng->active);
    for (size_t i = 0; i < eng->nidle; i++)
        curl_easy_cleanup(eng->idle[i]);
    free(eng->idle);
    if (eng->multi != NULL)
        curl_multi_cleanup(eng->multi);
    for (size_t i = 0; i < eng->npending; i++)
        dh_dlv_result_clear(&eng->pending[i]);
    free(eng->pending);
    for (size_t i = 0; i < eng->npause_pending; i++)
        free(eng->pause_pending[i]);
    free(eng->pause_pending);
    for (size_t i = 0; i < eng->nrts; i++) {
        free(eng->rts[i]->id);
        free(eng->rts[i]);
    }
    free(eng->rts);
    free(eng->allow);
    pthread_mutex_destroy(&eng->status_lock);
    free(eng);
}
