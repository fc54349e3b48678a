/*
 * server.c: libmicrohttpd glue for both listeners (server.h).
 */
#include "http/server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "api/admin.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "core/template.h"
#include "http/respond.h"
#include "ingest/normalize.h"

#define DH__ADDR_MAX 300
#define DH__URI_MAX 4096
#define DH__XFF_MAX 1024 /* longer X-Forwarded-For chains fail closed */

struct dh_server {
    struct dh_server_deps d;
    struct MHD_Daemon *pub;
    struct MHD_Daemon *adm;
    char pub_addr[DH__ADDR_MAX];
    char adm_addr[DH__ADDR_MAX];
    struct dh_api *api;
    atomic_int in_flight; /* public requests between first call and completion */
    atomic_int stopping;
};

enum dh__phase { DH__NEW, DH__READING, DH__COMMITTING, DH__ANSWERED };

/* One public request. Owned by its connection's event thread; the commit
 * thread writes only item's results and then resumes the connection. */
struct dh__req {
    struct dh_server *srv;
    struct MHD_Connection *conn;
    enum dh__phase phase;
    const struct dh_ingest_source *src;
    char event_type[DH_EVENT_TYPE_MAX + 1];
    struct dh_buf body;
    char *uri; /* raw, as sent: some schemes sign it */
    char *xff; /* X-Forwarded-For, all lines joined; allocated when asked for */
    int counted; /* included in srv->in_flight */
    int64_t start_us;
    int64_t deadline_ms;
    int batch;    /* POST .../batch */
    int early_rc; /* an error found while reading, answered once it is read */
    struct dh_commit_item item;
    struct dh_ingest_result res;
};

/* Collects every line of one header, joined with ", " as RFC 9110 5.3
 * says several lines of a list header mean. */
struct dh__join {
    const char *name;
    char *buf;
    size_t len, cap;
};

static enum MHD_Result dh__join_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct dh__join *j = cls;
    if (key == NULL || value == NULL || strcasecmp(key, j->name) != 0)
        return MHD_YES;
    size_t n = strlen(value);
    if (j->len + n + 3 > j->cap)
        return MHD_NO; /* longer than any real chain: stop, the check fails closed */
    if (j->len > 0) {
        memcpy(j->buf + j->len, ", ", 2);
        j->len += 2;
    }
    memcpy(j->buf + j->len, value, n);
    j->len += n;
    j->buf[j->len] = '\0';
    return MHD_YES;
}

static const char *dh__get_header(void *ctx, const char *name)
{
    struct dh__req *r = ctx;
    if (strcasecmp(name, "X-Forwarded-For") == 0) {
        if (r->xff == NULL)
            r->xff = dh_malloc(DH__XFF_MAX);
        struct dh__join j = {name, r->xff, 0, DH__XFF_MAX};
        r->xff[0] = '\0';
        MHD_get_connection_values(r->conn, MHD_HEADER_KIND, dh__join_cb, &j);
        return j.len > 0 ? r->xff : NULL;
    }
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

static void dh__access_log(struct dh__req *r, unsigned status, const char *event_id)
{
    if (!r->srv->d.cfg->log_access)
        return;
    dh_info("webhook", DH_LS("event_id", event_id),
            DH_LS("source", r->src ? r->src->cfg->name : NULL),
            DH_LS("ticket_id", r->item.nevs == 1 ? r->item.evs[0].ticket_id : NULL),
            DH_LN("events", r->item.nevs), DH_LN("status", status),
            DH_LN("latency_us", dh_clock_mono_us() - r->start_us));
}

static enum MHD_Result dh__answer_error(struct dh__req *r, int rc, const char *msg,
                                        int64_t retry_after)
{
    r->phase = DH__ANSWERED;
    dh_ingest_count(r->src, rc, 0);
    dh__access_log(r, (unsigned)dh_error_status(rc), NULL);
    return dh_http_respond_error_tmpl(r->conn, rc, msg, retry_after, NULL,
                                      r->src ? r->src->cfg->error_body : NULL);
}

/* Commit thread: the item's results are written; wake the connection. */
/* Counts what a commit did for the source, when it is known: a client
 * that hung up meanwhile gets no answer, but its events were stored. */
static void dh__count_commit(struct dh__req *r)
{
    struct dh_commit_item *it = &r->item;

    if (it->kind != DH_COMMIT_EVENT)
        return;
    if (it->rc < 0) {
        dh_ingest_count(r->src, it->rc == DH_E_SHUTTING_DOWN ? DH_E_SHUTTING_DOWN
                                                             : DH_E_STORE_UNAVAILABLE, 0);
        return;
    }
    if (!r->res.array) {
        dh_ingest_count(r->src, 0, it->evs[0].duplicate);
        return;
    }
    for (size_t i = 0; i < r->res.nelements; i++) {
        const struct dh_ingest_element *el = &r->res.elements[i];
        if (el->ev < 0)
            dh_ingest_count(r->src, el->rc, 0);
        else
            dh_ingest_count(r->src, 0, it->evs[el->ev].duplicate);
    }
}

static void dh__commit_done(struct dh_commit_item *item)
{
    struct dh__req *r = item->arg;
    dh__count_commit(r);
    MHD_resume_connection(r->conn);
}

static enum MHD_Result dh__suspend_and_submit(struct dh__req *r)
{
    int rc;

    r->phase = DH__COMMITTING;
    r->item.done = dh__commit_done;
    r->item.arg = r;
    MHD_suspend_connection(r->conn);
    rc = dh_commit_submit(r->srv->d.committer, &r->item);
    if (rc < 0) {
        /* The commit thread has stopped: answer at once. */
        r->item.rc = rc;
        dh__count_commit(r);
        MHD_resume_connection(r->conn);
    }
    return MHD_YES;
}

/* The answer to an array body: a batch's per-element results, or a
 * platform's multi-event request's ids. */
static enum MHD_Result dh__answer_array(struct dh__req *r)
{
    struct dh_ingest_result *res = &r->res;
    json_t *results = json_array(), *ids = json_array(), *body;
    size_t created = 0, failed = 0, dups = 0;

    for (size_t i = 0; i < res->nelements; i++) {
        struct dh_ingest_element *el = &res->elements[i];
        json_t *one;
        if (el->ev < 0) {
            one = json_pack("{s:I,s:{s:s,s:s}}", "index", (json_int_t)i, "error", "code",
                            dh_error_code(el->rc), "message", el->message);
            failed++;
        } else {
            struct dh_event_rec *ev = &r->item.evs[el->ev];
            const char *id = ev->duplicate ? ev->existing_id : ev->id;
            one = json_pack("{s:I,s:s}", "index", (json_int_t)i, "id", id);
            if (ev->duplicate) {
                json_object_set_new(one, "status", json_string("duplicate"));
                dups++;
            } else {
                created++;
            }
            json_array_append_new(ids, json_string(id));
        }
        json_array_append_new(results, one);
    }
    if (r->batch) {
        body = json_pack("{s:I,s:I,s:I,s:o}", "created_count", (json_int_t)created,
                         "failed_count", (json_int_t)failed, "duplicate_count", (json_int_t)dups,
                         "results", results);
        json_decref(ids);
    } else {
        body = json_pack("{s:s,s:o}", "status", "accepted", "ids", ids);
        if (failed > 0)
            json_object_set_new(body, "results", results);
        else
            json_decref(results);
    }
    dh__access_log(r, 200, NULL);
    return dh_http_respond_json(r->conn, 200, body, NULL);
}

/* A source's own success body: its template over the stored document,
 * with "status" saying accepted or duplicate. */
static enum MHD_Result dh__answer_shaped(struct dh__req *r, const char *id)
{
    struct dh_event_rec *ev = &r->item.evs[0];
    json_t *ctx = json_loads(ev->doc, JSON_ALLOW_NUL, NULL);
    json_t *body;
    struct dh_http_header extra[] = {{"X-Deskhook-Event-Id", id}, {NULL, NULL}};

    if (ctx == NULL)
        ctx = json_object();
    json_object_set_new(ctx, "id", json_string(id));
    json_object_set_new(ctx, "status", json_string(ev->duplicate ? "duplicate" : "accepted"));
    body = dh_template_render(r->src->cfg->response_body, ctx);
    json_decref(ctx);
    dh__access_log(r, r->src->cfg->response_status, id);
    return dh_http_respond_json(r->conn, r->src->cfg->response_status, body, extra);
}

static enum MHD_Result dh__answer_commit(struct dh__req *r)
{
    struct dh_commit_item *it = &r->item;
    char body[160];
    const char *id;
    int n;

    r->phase = DH__ANSWERED;
    if (it->kind == DH_COMMIT_PROBE) {
        json_t *j;
        if (it->rc < 0)
            j = json_pack("{s:s,s:s,s:s}", "status", "unavailable", "store", "error", "error",
                          it->rc == DH_E_SHUTTING_DOWN ? "shutting down"
                                                       : "the store cannot write");
        else
            j = json_pack("{s:s,s:s,s:s,s:I}", "status", "ok", "store", "ok", "version",
                          DH_VERSION, "sources", (json_int_t)r->srv->d.ingest->nsources);
        return dh_http_respond_json(r->conn, it->rc < 0 ? 503 : 200, j, NULL);
    }
    if (it->rc < 0) {
        int code = it->rc == DH_E_SHUTTING_DOWN ? DH_E_SHUTTING_DOWN : DH_E_STORE_UNAVAILABLE;
        dh_warn("webhook not stored", DH_LS("source", r->src->cfg->name),
                DH_LS("error", dh_strerror(it->rc)));
        dh__access_log(r, 503, NULL);
        return dh_http_respond_error(r->conn, code, NULL, 5, NULL);
    }
    if (r->res.array)
        return dh__answer_array(r);
    id = it->evs[0].duplicate ? it->evs[0].existing_id : it->evs[0].id;
    if (r->src->cfg->response_body != NULL)
        return dh__answer_shaped(r, id);
    n = snprintf(body, sizeof(body), "{\"id\":\"%s\",\"status\":\"%s\"}", id,
                 it->evs[0].duplicate ? "duplicate" : "accepted");
    struct dh_http_header extra[] = {{"X-Deskhook-Event-Id", id}, {NULL, NULL}};
    dh__access_log(r, 200, id);
    return dh_http_respond(r->conn, 200, body, (size_t)n, "application/json", extra);
}

static const struct sockaddr *dh__peer(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return ci != NULL ? ci->client_addr : NULL;
}

static enum MHD_Result dh__finish_webhook(struct dh__req *r)
{
    struct dh_ingest_error err;
    struct dh_ingest_request rq = {
        .src = r->src,
        .path_event_type = r->event_type,
        .batch = r->batch,
        .get_header = dh__get_header,
        .hctx = r,
        .method = "POST",
        .uri = r->uri,
        .peer = dh__peer(r->conn),
        .content_type = dh__get_header(r, MHD_HTTP_HEADER_CONTENT_TYPE),
        .body = r->body.data ? r->body.data : "",
        .len = r->body.len,
    };
    int rc = dh_ingest_prepare(r->srv->d.ingest, &rq, &r->item, &r->res, &err);

    dh_buf_free(&r->body);
    if (rc < 0)
        return dh__answer_error(r, rc, err.message, err.retry_after_s);
    if (r->item.nevs == 0) { /* a batch in which every element failed */
        dh__count_commit(r);
        return dh__answer_array(r);
    }
    return dh__suspend_and_submit(r);
}

static enum MHD_Result dh__begin(struct dh__req *r, const char *url, const char *method)
{
    struct dh_server *s = r->srv;
    const char *cl;
    int64_t content_length = -1;
    int rc;

    if (atomic_load(&s->stopping)) {
        static const struct dh_http_header close_hdr[] = {{"Connection", "close"}, {NULL, NULL}};
        char body[] = "{\"error\":{\"code\":\"shutting_down\",\"message\":\"the gateway is "
                      "shutting down; retry\"}}";
        r->phase = DH__ANSWERED;
        return dh_http_respond(r->conn, 503, body, sizeof(body) - 1, "application/json",
                               close_hdr);
    }
    if (strcmp(url, "/health") == 0) {
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
            r->phase = DH__ANSWERED;
            return dh_http_respond_error(r->conn, DH_E_METHOD, "use GET /health", 0, NULL);
        }
        r->item.kind = DH_COMMIT_PROBE;
        return dh__suspend_and_submit(r);
    }
    for (size_t i = 0; i < s->d.ingest->nsources; i++) {
        const struct dh_config_source *cs = s->d.ingest->sources[i].cfg;
        if (cs->health_path != NULL && strcmp(cs->health_path, url) == 0) {
            r->phase = DH__ANSWERED;
            return dh_http_respond_json(r->conn, 200, json_deep_copy(cs->health_body), NULL);
        }
    }
    rc = dh_ingest_route(s->d.ingest, url, &r->src, r->event_type, sizeof(r->event_type),
                         &r->batch);
    if (rc < 0) {
        char msg[200];
        if (rc == DH_E_UNKNOWN_SOURCE)
            snprintf(msg, sizeof(msg), "no source is configured for %.120s", url);
        else if (rc == DH_E_INVALID_EVENT_TYPE)
            snprintf(msg, sizeof(msg),
                     "the event type in the path must be 1 to 64 of A-Z a-z 0-9 . _ : -");
        else
            snprintf(msg, sizeof(msg), "nothing is served at %.120s", url);
        return dh__answer_error(r, rc, msg, 0);
    }
    if (strcmp(method, "POST") != 0) {
        static const struct dh_http_header allow[] = {{"Allow", "POST"}, {NULL, NULL}};
        if (r->src->cfg->error_body != NULL)
            return dh__answer_error(r, DH_E_METHOD, "webhooks are sent with POST", 0);
        r->phase = DH__ANSWERED;
        dh_ingest_count(r->src, DH_E_METHOD, 0);
        dh__access_log(r, 405, NULL);
        return dh_http_respond_json(r->conn, 405,
                                    json_pack("{s:{s:s,s:s}}", "error", "code",
                                              "method_not_allowed", "message",
                                              "webhooks are sent with POST"),
                                    allow);
    }
    cl = dh__get_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL) {
        char *end = NULL;
        long long v = strtoll(cl, &end, 10);
        if (end != cl && *end == '\0' && v >= 0)
            content_length = v;
    }
    rc = dh_ingest_check_headers(r->src, dh__get_header(r, MHD_HTTP_HEADER_CONTENT_TYPE),
                                 content_length);
    if (rc < 0) {
        char msg[200];
        if (rc == DH_E_TOO_LARGE)
            snprintf(msg, sizeof(msg), "the body is larger than the %llu bytes source %s allows",
                     (unsigned long long)r->src->cfg->max_body, r->src->cfg->name);
        else
            snprintf(msg, sizeof(msg), "Content-Type must be application/json");
        return dh__answer_error(r, rc, msg, 0);
    }
    r->phase = DH__READING;
    dh_buf_init(&r->body, r->src->cfg->max_body);
    r->deadline_ms = dh_clock_mono_ms() + (int64_t)s->d.cfg->request_timeout_ms;
    return MHD_YES;
}

static enum MHD_Result dh__pub_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                       const char *method, const char *version,
                                       const char *upload_data, size_t *upload_data_size,
                                       void **con_cls)
{
    struct dh_server *s = cls;
    struct dh__req *r = *con_cls;

    if (r == NULL) { /* no URI callback ran: cannot happen, but be safe */
        r = dh_new(struct dh__req);
        *con_cls = r;
    }
    if (r->phase == DH__NEW && !r->counted) {
        r->srv = s;
        r->conn = conn;
        r->start_us = dh_clock_mono_us();
        r->counted = 1;
        atomic_fetch_add(&s->in_flight, 1);
        return dh__begin(r, url, method);
    }
    switch (r->phase) {
    case DH__READING:
        if (*upload_data_size > 0) {
            if (dh_clock_mono_ms() > r->deadline_ms) {
                dh_warn("request timed out while its body arrived",
                        DH_LS("source", r->src->cfg->name), DH_LN("received", r->body.len));
                return MHD_NO; /* closes the connection */
            }
            if (r->early_rc == 0 && dh_buf_append(&r->body, upload_data, *upload_data_size) < 0) {
                /* Chunked body over the limit: read and drop the rest, then
                 * answer 413 (MHD cannot answer mid-body). */
                r->early_rc = DH_E_TOO_LARGE;
                dh_buf_free(&r->body);
            }
            *upload_data_size = 0;
            return MHD_YES;
        }
        if (r->early_rc != 0)
            return dh__answer_error(r, r->early_rc, "the body is larger than the source allows",
                                    0);
        return dh__finish_webhook(r);
    case DH__COMMITTING:
        if (*upload_data_size > 0) { /* a body on GET /health: ignore it */
            *upload_data_size = 0;
            return MHD_YES;
        }
        return dh__answer_commit(r);
    default:
        *upload_data_size = 0;
        return MHD_YES;
    }
}

static void dh__pub_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    struct dh_server *s = cls;
    struct dh__req *r = *con_cls;

    if (r == NULL)
        return;
    dh_buf_free(&r->body);
    dh_ingest_item_clear(&r->item);
    dh_ingest_result_clear(&r->res);
    if (r->counted)
        atomic_fetch_sub(&s->in_flight, 1);
    free(r->uri);
    free(r->xff);
    free(r);
    *con_cls = NULL;
}

/* Called with the request line's URI exactly as sent, before any decoding;
 * what it returns becomes the request's state. */
static void *dh__pub_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct dh__req *r = dh_new(struct dh__req);
    r->uri = dh_strndup(uri, strnlen(uri, DH__URI_MAX));
    return r;
}

/* An admin request's body, gathered before the API sees it. */
struct dh__adm_req {
    char *body;
    size_t len;
    int too_large;
};

#define DH__ADMIN_MAX_BODY (1u << 20)

static enum MHD_Result dh__adm_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                       const char *method, const char *version,
                                       const char *upload_data, size_t *upload_data_size,
                                       void **con_cls)
{
    struct dh_server *s = cls;
    struct dh__adm_req *r = *con_cls;

    if (r == NULL) {
        *con_cls = dh_new(struct dh__adm_req);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        if (!r->too_large && r->len + n <= DH__ADMIN_MAX_BODY) {
            r->body = dh_realloc(r->body, r->len + n + 1);
            memcpy(r->body + r->len, upload_data, n);
            r->len += n;
            r->body[r->len] = '\0';
        } else {
            r->too_large = 1;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->too_large)
        return dh_http_respond_error(conn, DH_E_TOO_LARGE, "admin request bodies are 1 MiB at most",
                                     0, NULL);
    return dh_api_handle(s->api, conn, url, method, r->body, r->len);
}

static void dh__adm_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    struct dh__adm_req *r = *con_cls;
    if (r != NULL) {
        free(r->body);
        free(r);
    }
    *con_cls = NULL;
}

static void dh__mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];
    if (dh_log_threshold > DH_LOG_DEBUG)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    dh_debug("http", DH_LS("detail", msg));
}

/* Creates, binds and listens on HOST:PORT; writes the bound address. */
static int dh__listen(const char *hostport, int *fd_out, char *bound, size_t boundlen, char *err,
                      size_t errlen)
{
    char host[256], portstr[16];
    unsigned port;
    struct addrinfo hints = {0}, *ai = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = -1, one = 1, rc;

    *fd_out = -1;
    if (dh_config_split_addr(hostport, host, sizeof(host), &port) < 0) {
        snprintf(err, errlen, "\"%s\" is not HOST:PORT", hostport);
        return -EINVAL;
    }
    snprintf(portstr, sizeof(portstr), "%u", port);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host, portstr, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve listen address %s: %s", host, gai_strerror(rc));
        return -EINVAL;
    }
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto out;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot listen on %s: %s%s", hostport, strerror(errno),
                 errno == EADDRINUSE ? " (is another deskhook or server using that port?)" : "");
        goto out;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        char h[128], p[16];
        if (getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), p, sizeof(p),
                        NI_NUMERICHOST | NI_NUMERICSERV) == 0)
            snprintf(bound, boundlen, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", h, p);
    }
    *fd_out = fd;
    fd = -1;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return rc;
}

int dh_server_start(const struct dh_server_deps *deps, struct dh_server **out, char *err,
                    size_t errlen)
{
    struct dh_server *s = dh_new(struct dh_server);
    const struct dh_config *c = deps->cfg;
    int pub_fd = -1, adm_fd = -1, rc;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;

    s->d = *deps;
    atomic_init(&s->in_flight, 0);
    atomic_init(&s->stopping, 0);
    rc = dh__listen(deps->listen, &pub_fd, s->pub_addr, sizeof(s->pub_addr), err, errlen);
    if (rc < 0)
        goto out;
    rc = dh__listen(deps->admin_listen, &adm_fd, s->adm_addr, sizeof(s->adm_addr), err, errlen);
    if (rc < 0)
        goto out;

    struct MHD_OptionItem pub_opts[] = {
        {MHD_OPTION_LISTEN_SOCKET, pub_fd, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)c->max_connections, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)(c->idle_timeout_ms / 1000), NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)c->max_header_bytes, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)dh__pub_completed, s},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)dh__pub_uri, s},
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)dh__mhd_log, NULL},
        {c->http_threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
         (intptr_t)c->http_threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    s->pub = MHD_start_daemon(flags, 0, NULL, NULL, dh__pub_handler, s, MHD_OPTION_ARRAY,
                              pub_opts, MHD_OPTION_END);
    if (s->pub == NULL) {
        snprintf(err, errlen, "cannot start the HTTP server on %s", deps->listen);
        rc = -EIO;
        goto out;
    }
    pub_fd = -1; /* the daemon owns it now */

    {
        struct dh_api_deps ad = {c, deps->store, deps->ingest, deps->committer, deps->registry,
                                 deps->engine};
        s->api = dh_api_new(&ad);
    }
    struct MHD_OptionItem adm_opts[] = {
        {MHD_OPTION_LISTEN_SOCKET, adm_fd, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, 256, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, 30, NULL},
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)dh__mhd_log, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)dh__adm_completed, s},
        {MHD_OPTION_END, 0, NULL},
    };
    s->adm = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                              dh__adm_handler, s, MHD_OPTION_ARRAY, adm_opts, MHD_OPTION_END);
    if (s->adm == NULL) {
        snprintf(err, errlen, "cannot start the admin server on %s", deps->admin_listen);
        rc = -EIO;
        goto out;
    }
    adm_fd = -1;
    rc = 0;
out:
    if (pub_fd >= 0)
        close(pub_fd);
    if (adm_fd >= 0)
        close(adm_fd);
    if (rc < 0) {
        if (s->pub != NULL)
            MHD_stop_daemon(s->pub);
        dh_api_free(s->api);
        free(s);
        s = NULL;
    }
    *out = s;
    return rc;
}

void dh_server_addresses(struct dh_server *s, char *pub, size_t publen, char *adm, size_t admlen)
{
    snprintf(pub, publen, "%s", s->pub_addr);
    snprintf(adm, admlen, "%s", s->adm_addr);
}

static int dh__wait_idle(struct dh_server *s, int64_t timeout_ms)
{
    int64_t until = dh_clock_mono_ms() + timeout_ms;
    int n;
    while ((n = atomic_load(&s->in_flight)) > 0 && dh_clock_mono_ms() < until)
        usleep(5000);
    return n;
}

int dh_server_quiesce(struct dh_server *s, int64_t timeout_ms)
{
    MHD_socket fd;

    atomic_store(&s->stopping, 1);
    fd = MHD_quiesce_daemon(s->pub);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    return dh__wait_idle(s, timeout_ms);
}

void dh_server_stop(struct dh_server *s, int64_t timeout_ms)
{
    if (s == NULL)
        return;
    atomic_store(&s->stopping, 1);
    dh__wait_idle(s, timeout_ms);
    MHD_stop_daemon(s->pub);
    MHD_stop_daemon(s->adm);
    dh_api_free(s->api);
    free(s);
}
