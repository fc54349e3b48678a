/*
 * endpoint.c: one outbound endpoint, parsed and checked from its JSON
 * definition (endpoint.h).
 *
 * The parser reads every key it knows, reports every problem it finds (a
 * user fixing a config or an API body sees them all at once, not one per
 * attempt) and only then decides: a definition with any problem yields no
 * endpoint. Problems are "key: message" with the dotted path of the key;
 * messages quote what the user wrote only where it is not a credential, and
 * cut and clean it so a message stays one short line. The parsed endpoint
 * is never changed afterwards, so threads share it without locks.
 */
#include "delivery/endpoint.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

#include "config/units.h"
#include "core/alloc.h"
#include "core/crypto.h"
#include "core/error.h"
#include "delivery/backoff.h"
#include "ingest/normalize.h"

/* Bounds on what one definition may hold. Lists are bounded so that a
 * definition from the API cannot make the engine do unbounded work per
 * event; the numbers are far above any sensible use. */
#define DH__URL_MAX 2048
#define DH__LIST_MAX 100      /* events, sources, event_names */
#define DH__SECRETS_MAX 10    /* two are enough for a rotation */
#define DH__SECRET_MAX 1024   /* bytes of one decoded key */
#define DH__HEADERS_MAX 32
#define DH__HEADER_NAME_MAX 128
#define DH__HEADER_VALUE_MAX 8192
#define DH__CREDENTIAL_MAX 4096 /* bearer token, user name, password */
#define DH__CIDRS_MAX 64
#define DH__SCHEDULE_MAX 50
#define DH__QUOTE_MAX 48

#define DH__TIMEOUT_MIN_MS 100ull
#define DH__TIMEOUT_MAX_MS (15ull * 60 * 1000)
#define DH__TIMEOUT_DEFAULT_MS 30000ull
#define DH__INTERVAL_MAX_MS (7ull * 24 * 3600 * 1000)
#define DH__ATTEMPTS_MAX 1000
#define DH__IN_FLIGHT_DEFAULT 100
#define DH__IN_FLIGHT_MAX 10000
#define DH__BREAKER_FAILURES_DEFAULT 5
#define DH__BREAKER_FAILURES_MAX 1000
#define DH__COOLDOWN_MIN_MS 100ull
#define DH__COOLDOWN_MAX_MS (24ull * 3600 * 1000)
#define DH__COOLDOWN_DEFAULT_MS 30000ull
#define DH__PAYLOAD_DEFAULT (1ull << 20)
#define DH__PAYLOAD_MAX (64ull << 20)

#define DH__MASK "********"
#define DH__SECRET_HINT "make one with `deskhook secret --scheme standard-webhooks`"

/* Every key a definition may have, in the order the header lists them. */
static const char *const dh__keys[] = {
    "name",          "url",           "method",       "auth",
    "events",        "sources",       "signing",      "secrets",
    "format",        "template",      "timeout",      "retry",
    "event_names",   "max_in_flight", "rate",         "active",
    "allow_private", "follow_redirects", "pause_on_gone", "breaker",
    "max_payload",   "tls",
};

/* Headers the formatter writes itself, or that frame the request: a custom
 * header must not replace them. Authorization is refused separately, only
 * when bearer or basic already sets it. */
static const char *const dh__reserved_headers[] = {
    "Content-Type",      "Content-Length", "Transfer-Encoding", "Connection",
    "Host",              "User-Agent",     "X-Webhook-Event",   "X-Webhook-Id",
    "X-Webhook-Signature", "webhook-id",   "webhook-timestamp", "webhook-signature",
};

/* The problems found so far, joined into the caller's buffer. */
struct dh__errs {
    char *buf;
    size_t cap;
    size_t len;
    unsigned n;
};

static void dh__problem(struct dh__errs *pe, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void dh__problem(struct dh__errs *pe, const char *key, const char *fmt, ...)
{
    va_list ap;
    int w;

    pe->n++;
    if (pe->cap == 0 || pe->len + 1 >= pe->cap)
        return; /* full: the count still says there was a problem */
    w = snprintf(pe->buf + pe->len, pe->cap - pe->len, "%s%s: ", pe->n > 1 ? "; " : "", key);
    if (w < 0 || (size_t)w >= pe->cap - pe->len) {
        pe->len = pe->cap - 1;
        return;
    }
    pe->len += (size_t)w;
    va_start(ap, fmt);
    w = vsnprintf(pe->buf + pe->len, pe->cap - pe->len, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= pe->cap - pe->len)
        pe->len = pe->cap - 1;
    else
        pe->len += (size_t)w;
}

/* Copies user text into q (DH__QUOTE_MAX bytes) for a message: control
 * bytes become '?', and long text is cut (not inside a UTF-8 sequence) and
 * ends in "...". Never used on credentials. Returns q. */
static const char *dh__quote(char *q, const char *s)
{
    size_t n = strlen(s), keep = n;

    if (keep > DH__QUOTE_MAX - 1) {
        keep = DH__QUOTE_MAX - 4;
        while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
            keep--;
    }
    for (size_t i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)s[i];
        q[i] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
    }
    if (keep < n) {
        memcpy(q + keep, "...", 3);
        keep += 3;
    }
    q[keep] = '\0';
    return q;
}

/* A member, with null standing for "not given" (so a definition may spell
 * out a default as null, as a merge patch does). Borrowed. */
static const json_t *dh__get(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

static int dh__has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7F)
            return 1;
    return 0;
}

/* The string v holds, or NULL after reporting why not. */
static const char *dh__string(struct dh__errs *pe, const char *key, const json_t *v,
                              int allow_empty, size_t max)
{
    const char *s;

    if (!json_is_string(v)) {
        dh__problem(pe, key, "must be a string");
        return NULL;
    }
    s = json_string_value(v);
    if (strlen(s) != json_string_length(v)) {
        dh__problem(pe, key, "must not contain a NUL character");
        return NULL;
    }
    if (!allow_empty && *s == '\0') {
        dh__problem(pe, key, "must not be empty");
        return NULL;
    }
    if (strlen(s) > max) {
        dh__problem(pe, key, "must be at most %zu characters", max);
        return NULL;
    }
    return s;
}

/* A boolean member; dflt when absent. */
static int dh__bool(struct dh__errs *pe, const json_t *spec, const char *key, int dflt)
{
    const json_t *v = dh__get(spec, key);
    if (v == NULL)
        return dflt;
    if (!json_is_boolean(v)) {
        dh__problem(pe, key, "must be true or false");
        return dflt;
    }
    return json_is_true(v);
}

/* A whole number in [lo, hi]; *out keeps dflt when absent or wrong. */
static void dh__uint(struct dh__errs *pe, const char *key, const json_t *v, unsigned lo,
                     unsigned hi, unsigned dflt, unsigned *out)
{
    *out = dflt;
    if (v == NULL)
        return;
    if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)lo ||
        json_integer_value(v) > (json_int_t)hi) {
        dh__problem(pe, key, "must be a whole number from %u to %u", lo, hi);
        return;
    }
    *out = (unsigned)json_integer_value(v);
}

/* A duration string in [lo, hi]; *out keeps dflt when absent or wrong. */
static void dh__duration(struct dh__errs *pe, const char *key, const json_t *v, uint64_t lo,
                         uint64_t hi, uint64_t dflt, uint64_t *out)
{
    char uerr[160], a[DH_UNITS_DURATION_LEN], b[DH_UNITS_DURATION_LEN];
    uint64_t ms = 0;

    *out = dflt;
    if (v == NULL)
        return;
    if (!json_is_string(v)) {
        dh__problem(pe, key, "must be a duration with a unit, such as \"30s\"");
        return;
    }
    if (dh_units_parse_duration(json_string_value(v), &ms, uerr, sizeof(uerr)) < 0) {
        dh__problem(pe, key, "%s", uerr);
        return;
    }
    if (ms < lo || ms > hi) {
        dh_units_format_duration(lo, a, sizeof(a));
        dh_units_format_duration(hi, b, sizeof(b));
        dh__problem(pe, key, "must be between %s and %s", a, b);
        return;
    }
    *out = ms;
}

static void dh__strv_free(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int dh__name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > DH_ENDPOINT_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
            return 0;
    return 1;
}

/* "*", "prefix.*" with a valid prefix, or an exact event type. */
static int dh__pattern_valid(const char *s)
{
    size_t n = strlen(s);
    char prefix[DH_EVENT_TYPE_MAX + 1];

    if (strcmp(s, "*") == 0)
        return 1;
    if (n > 2 && strcmp(s + n - 2, ".*") == 0) {
        if (n - 2 > DH_EVENT_TYPE_MAX)
            return 0;
        memcpy(prefix, s, n - 2);
        prefix[n - 2] = '\0';
        return dh_normalize_event_type_valid(prefix);
    }
    return dh_normalize_event_type_valid(s);
}

/* RFC 9110 token characters, the only ones a header name may have. */
static int dh__header_name_valid(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL)
            return 0;
    return 1;
}

/* Checks a URL's shape: http or https, a host, no credentials, nothing a
 * request line could not carry. Where it points is for the SSRF guard at
 * connect time, since a name can resolve anywhere. */
static void dh__url(struct dh__errs *pe, struct dh_endpoint *e, const json_t *v)
{
    const char *s, *auth, *end;
    size_t skip;

    if (v == NULL) {
        dh__problem(pe, "url", "required");
        return;
    }
    if ((s = dh__string(pe, "url", v, 0, DH__URL_MAX)) == NULL)
        return;
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7F) {
            dh__problem(pe, "url", "must not contain spaces or control characters");
            return;
        }
    }
    if (strncasecmp(s, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(s, "https://", 8) == 0)
        skip = 8;
    else {
        dh__problem(pe, "url", "must start with http:// or https://");
        return;
    }
    auth = s + skip;
    end = auth + strcspn(auth, "/?#");
    if (end == auth) {
        dh__problem(pe, "url", "has no host");
        return;
    }
    if (memchr(auth, '@', (size_t)(end - auth)) != NULL) {
        /* The URL is shown by the API unmasked; credentials go in auth. */
        dh__problem(pe, "url", "must not contain a user or password (use auth.basic)");
        return;
    }
    e->url = dh_strdup(s);
}

static void dh__method(struct dh__errs *pe, struct dh_endpoint *e, const json_t *v)
{
    char m[8];
    const char *s;
    size_t n;

    if (v == NULL) {
        e->method = dh_strdup("POST");
        return;
    }
    if ((s = dh__string(pe, "method", v, 0, 16)) == NULL)
        return;
    n = strlen(s);
    if (n < sizeof(m)) {
        for (size_t i = 0; i <= n; i++)
            m[i] = (char)toupper((unsigned char)s[i]);
        if (strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0) {
            e->method = dh_strdup(m);
            return;
        }
    }
    dh__problem(pe, "method", "must be POST, PUT or PATCH");
}

/* A credential: a non-empty string without control characters. Its value
 * never appears in a message. */
static const char *dh__credential(struct dh__errs *pe, const char *key, const json_t *v,
                                  int allow_empty)
{
    const char *s = dh__string(pe, key, v, allow_empty, DH__CREDENTIAL_MAX);
    if (s != NULL && dh__has_ctl(s)) {
        dh__problem(pe, key, "must not contain control characters");
        return NULL;
    }
    return s;
}

static void dh__basic(struct dh__errs *pe, struct dh_endpoint *e, const json_t *v)
{
    const json_t *mv;
    const char *k, *user = NULL, *pass = NULL;
    char q[DH__QUOTE_MAX];

    if (!json_is_object(v)) {
        dh__problem(pe, "auth.basic", "must be an object {username, password}");
        return;
    }
    json_object_foreach((json_t *)v, k, mv)
    {
        if (strcmp(k, "username") != 0 && strcmp(k, "password") != 0)
            dh__problem(pe, "auth.basic", "unknown key \"%s\" (expected username, password)",
                        dh__quote(q, k));
    }
    if ((mv = dh__get(v, "username")) == NULL)
        dh__problem(pe, "auth.basic.username", "required");
    else if ((user = dh__credential(pe, "auth.basic.username", mv, 0)) != NULL &&
             strchr(user, ':') != NULL) {
        dh__problem(pe, "auth.basic.username", "must not contain ':'");
        user = NULL;
    }
    if ((mv = dh__get(v, "password")) == NULL)
        dh__problem(pe, "auth.basic.password", "required");
    else
        pass = dh__credential(pe, "auth.basic.password", mv, 1);
    if (user != NULL && pass != NULL)
        e->basic = dh_asprintf("%s:%s", user, pass);
}

static void dh__headers(struct dh__errs *pe, struct dh_endpoint *e, const json_t *v)
{
    const json_t *hv;
    const char *k;
    char q[DH__QUOTE_MAX], key[DH__HEADER_NAME_MAX + 16];
    size_t n;

    if (!json_is_object(v)) {
        dh__problem(pe, "auth.headers", "must be an object of header names and values");
        return;
    }
    n = json_object_size(v);
    if (n > DH__HEADERS_MAX) {
        dh__problem(pe, "auth.headers", "at most %d headers", DH__HEADERS_MAX);
        return;
    }
    e->header_names = dh_calloc(n ? n : 1, sizeof(char *));
    e->header_values = dh_calloc(n ? n : 1, sizeof(char *));
    json_object_foreach((json_t *)v, k, hv)
    {
        const char *val;
        int reserved = 0;

        if (strlen(k) > DH__HEADER_NAME_MAX || !dh__header_name_valid(k)) {
            dh__problem(pe, "auth.headers", "\"%s\" is not a valid header name",
                        dh__quote(q, k));
            continue;
        }
        snprintf(key, sizeof(key), "auth.headers.%s", k);
        for (size_t i = 0; i < sizeof(dh__reserved_headers) / sizeof(*dh__reserved_headers); i++)
            if (strcasecmp(k, dh__reserved_headers[i]) == 0)
                reserved = 1;
        if (reserved) {
            dh__problem(pe, key, "is set by deskhook and cannot be replaced");
            continue;
        }
        val = dh__string(pe, key, hv, 1, DH__HEADER_VALUE_MAX);
        if (val == NULL)
            continue;
        for (const char *p = val; *p; p++) {
            if (((unsigned char)*p < 0x20 && *p != '\t') || (unsigned char)*p == 0x7F) {
                dh__problem(pe, key, "must not contain control characters");
                val = NULL;
                break;
            }
        }
        if (val == NULL)
            continue;
        e->header_names[e->nheaders] = dh_strdup(k);
        e->header_values[e->nheaders] = dh_strdup(val);
        e->nheaders++;
    }
}

static void dh__auth(struct dh__errs *pe, struct dh_endpoint *e, const json_t *v)
{
    const json_t *mv;
    const char *k, *s;
    char q[DH__QUOTE_MAX];

    if (v == NULL)
        return;
    if (!json_is_object(v)) {
        dh__problem(pe, "auth", "must be an object with bearer, basic or headers");
        return;
    }
    json_object_foreach((json_t *)v, k, mv)
    {
        if (strcmp(k, "bearer") != 0 && strcmp(k, "basic") != 0 && strcmp(k, "headers") != 0)
            dh__problem(pe, "auth", "unknown key \"%s\" (expected bearer, basic, headers)",
                        dh__quote(q, k));
    }
    if (dh__get(v, "bearer") != NULL && dh__get(v, "basic") != NULL)
        dh__problem(pe, "auth", "bearer and basic cannot both be set");
    if ((mv = dh__get(v, "bearer")) != NULL && (s = dh__credential(pe, "auth.bearer", mv, 0)))
        e->bearer = dh_strdup(s);
    if ((mv = dh__get(v, "basic")) != NULL)
        dh__basic(pe, e, mv);
    if ((mv = dh__get(v, "headers")) != NULL) {
        dh__headers(pe, e, mv);
        if (dh__get(v, "bearer") != NULL || dh__get(v, "basic") != NULL) {
            for (size_t i = 0; i < e->nheaders; i++)
                if (strcasecmp(e->header_names[i], "Authorization") == 0)
                    dh__problem(pe, "auth.headers.Authorization",
                                "conflicts with auth.%s, which sets it",
                                dh__get(v, "bearer") ? "bearer" : "basic");
        }
    }
}

/* A list of strings, each passing valid (when given). Returns the copies
 * (*n of them) or NULL after reporting. */
static char **dh__strings(struct dh__errs *pe, const char *key, const json_t *v, size_t max,
                          int (*valid)(const char *), const char *what, size_t *n)
{
    char **out;
    char q[DH__QUOTE_MAX];
    size_t i, bad = 0;
    const json_t *item;

    *n = 0;
    if (!json_is_array(v)) {
        dh__problem(pe, key, "must be a list of %s", what);
        return NULL;
    }
    if (json_array_size(v) == 0) {
        dh__problem(pe, key, "must not be empty");
        return NULL;
    }
    if (json_array_size(v) > max) {
        dh__problem(pe, key, "at most %zu items", max);
        return NULL;
    }
    out = dh_calloc(json_array_size(v), sizeof(char *));
    json_array_foreach(v, i, item)
    {
        const char *s = json_is_string(item) ? json_string_value(item) : NULL;
        if (s == NULL || strlen(s) != json_string_length(item) || *s == '\0' ||
            strlen(s) > 256 || (valid != NULL && !valid(s))) {
            if (s != NULL)
                dh__problem(pe, key, "\"%s\" is not %s", dh__quote(q, s), what);
            else
                dh__problem(pe, key, "item %zu is not a string", i + 1);
            bad++;
            continue;
        }
        out[(*n)++] = dh_strdup(s);
    }
    if (bad > 0) {
        dh__strv_free(out, *n);
        *n = 0;
        return NULL;
    }
    return out;
}

static int dh__source_valid(const char *s)
{
    return !dh__has_ctl(s);
}

static int dh__cidr_valid(const char *s)
{
    struct dh_cidr c;
    return dh_cidr_parse(s, &c) == 0;
}

/* Parses the secrets for the chosen signing; called once signing is known
 * to be valid. Messages name the item's position, never its value. */
static void dh__secrets(struct dh__errs *pe, struct dh_endpoint *e, const json_t *v)
{
    unsigned char kb[DH__SECRET_MAX];
    const json_t *item;
    size_t i;

    if (e->signing == DH_SIGN_NONE)
        return; /* nothing is signed; the list, if any, is only kept in spec */
    if (v == NULL || (json_is_array(v) && json_array_size(v) == 0)) {
        if (e->signing == DH_SIGN_STANDARD)
            dh__problem(pe, "secrets",
                        "signing standard-webhooks needs at least one whsec_ secret "
                        "(" DH__SECRET_HINT ")");
        else
            dh__problem(pe, "secrets", "signing hex needs at least one secret");
        return;
    }
    if (!json_is_array(v)) {
        dh__problem(pe, "secrets", "must be a list of strings");
        return;
    }
    if (json_array_size(v) > DH__SECRETS_MAX) {
        dh__problem(pe, "secrets", "at most %d secrets", DH__SECRETS_MAX);
        return;
    }
    e->secrets = dh_calloc(json_array_size(v), sizeof(*e->secrets));
    json_array_foreach(v, i, item)
    {
        const char *s = json_is_string(item) ? json_string_value(item) : NULL;
        int n;

        if (s == NULL || strlen(s) != json_string_length(item)) {
            dh__problem(pe, "secrets", "item %zu must be a string", i + 1);
            continue;
        }
        if (e->signing == DH_SIGN_HEX) {
            if (*s == '\0') {
                dh__problem(pe, "secrets", "item %zu is empty", i + 1);
                continue;
            }
            if (strlen(s) > DH__SECRET_MAX) {
                dh__problem(pe, "secrets", "item %zu is longer than %d bytes", i + 1,
                            DH__SECRET_MAX);
                continue;
            }
            n = (int)strlen(s);
            memcpy(kb, s, (size_t)n);
        } else {
            n = strncmp(s, "whsec_", 6) == 0
                    ? dh_base64_decode(s + 6, strlen(s + 6), kb, sizeof(kb))
                    : -1;
            if (n <= 0) {
                dh__problem(pe, "secrets",
                            "item %zu is not a whsec_<base64> secret (" DH__SECRET_HINT ")",
                            i + 1);
                continue;
            }
        }
        e->secrets[e->nsecrets].key = dh_malloc((size_t)n);
        memcpy(e->secrets[e->nsecrets].key, kb, (size_t)n);
        e->secrets[e->nsecrets].len = (size_t)n;
        e->nsecrets++;
    }
    explicit_bzero(kb, sizeof(kb));
}

static void dh__retry(struct dh__errs *pe, struct dh_endpoint *e, const json_t *v)
{
    const json_t *mv, *sched = NULL;
    const char *k;
    char q[DH__QUOTE_MAX], key[48];
    size_t i;
    int ok = 1;

    if (v != NULL && !json_is_object(v)) {
        dh__problem(pe, "retry", "must be an object {schedule, max_attempts}");
        v = NULL;
    }
    if (v != NULL) {
        json_object_foreach((json_t *)v, k, mv)
        {
            if (strcmp(k, "schedule") != 0 && strcmp(k, "max_attempts") != 0)
                dh__problem(pe, "retry", "unknown key \"%s\" (expected schedule, max_attempts)",
                            dh__quote(q, k));
        }
        sched = dh__get(v, "schedule");
    }
    if (sched == NULL) {
        e->nschedule = dh_backoff_default_len;
        e->schedule_ms = dh_calloc(e->nschedule, sizeof(uint64_t));
        memcpy(e->schedule_ms, dh_backoff_default_schedule, e->nschedule * sizeof(uint64_t));
    } else if (!json_is_array(sched) || json_array_size(sched) == 0 ||
               json_array_size(sched) > DH__SCHEDULE_MAX) {
        dh__problem(pe, "retry.schedule", "must be a list of 1 to %d durations",
                    DH__SCHEDULE_MAX);
        ok = 0;
    } else {
        e->schedule_ms = dh_calloc(json_array_size(sched), sizeof(uint64_t));
        json_array_foreach(sched, i, mv)
        {
            unsigned before = pe->n;
            snprintf(key, sizeof(key), "retry.schedule[%zu]", i);
            dh__duration(pe, key, mv, 0, DH__INTERVAL_MAX_MS, 0, &e->schedule_ms[i]);
            if (pe->n != before)
                ok = 0;
        }
        e->nschedule = json_array_size(sched);
    }
    /* The default is one attempt per interval; with a broken schedule it
     * cannot be known, and the endpoint is refused anyway. */
    dh__uint(pe, "retry.max_attempts", v ? dh__get(v, "max_attempts") : NULL, 1,
             DH__ATTEMPTS_MAX, ok && e->nschedule <= DH__ATTEMPTS_MAX ? (unsigned)e->nschedule : 1,
             &e->max_attempts);
}

static void dh__renames(struct dh__errs *pe, struct dh_endpoint *e, const json_t *v)
{
    const json_t *mv;
    const char *k;
    char q[DH__QUOTE_MAX], q2[DH__QUOTE_MAX];
    size_t n;

    if (v == NULL)
        return;
    if (!json_is_object(v)) {
        dh__problem(pe, "event_names", "must be an object {our type: their name}");
        return;
    }
    n = json_object_size(v);
    if (n > DH__LIST_MAX) {
        dh__problem(pe, "event_names", "at most %d renames", DH__LIST_MAX);
        return;
    }
    e->rename_from = dh_calloc(n ? n : 1, sizeof(char *));
    e->rename_to = dh_calloc(n ? n : 1, sizeof(char *));
    json_object_foreach((json_t *)v, k, mv)
    {
        const char *to = json_is_string(mv) ? json_string_value(mv) : NULL;
        if (!dh_normalize_event_type_valid(k)) {
            dh__problem(pe, "event_names", "\"%s\" is not an event type", dh__quote(q, k));
            continue;
        }
        if (to == NULL || strlen(to) != json_string_length(mv)) {
            dh__problem(pe, "event_names", "the name for %s must be a string", dh__quote(q, k));
            continue;
        }
        if (!dh_normalize_event_type_valid(to)) {
            dh__problem(pe, "event_names",
                        "the name for %s, \"%s\", must be 1 to %d of A-Z a-z 0-9 . _ : -",
                        dh__quote(q, k), dh__quote(q2, to), DH_EVENT_TYPE_MAX);
            continue;
        }
        e->rename_from[e->nrenames] = dh_strdup(k);
        e->rename_to[e->nrenames] = dh_strdup(to);
        e->nrenames++;
    }
}

static void dh__allow(struct dh__errs *pe, struct dh_endpoint *e, const json_t *v)
{
    char **txt;
    size_t n = 0;

    if (v == NULL)
        return;
    if (json_is_array(v) && json_array_size(v) == 0)
        return; /* written out as "none" */
    txt = dh__strings(pe, "allow_private", v, DH__CIDRS_MAX, dh__cidr_valid,
                      "an address or CIDR range", &n);
    if (txt == NULL)
        return;
    e->allow_private = dh_calloc(n, sizeof(*e->allow_private));
    for (size_t i = 0; i < n; i++)
        dh_cidr_parse(txt[i], &e->allow_private[i]);
    e->nallow = n;
    dh__strv_free(txt, n);
}

static void dh__breaker(struct dh__errs *pe, struct dh_endpoint *e, const json_t *v)
{
    const json_t *mv;
    const char *k;
    char q[DH__QUOTE_MAX];

    if (v != NULL && !json_is_object(v)) {
        dh__problem(pe, "breaker", "must be an object {failures, cooldown}");
        v = NULL;
    }
    if (v != NULL) {
        json_object_foreach((json_t *)v, k, mv)
        {
            if (strcmp(k, "failures") != 0 && strcmp(k, "cooldown") != 0)
                dh__problem(pe, "breaker", "unknown key \"%s\" (expected failures, cooldown)",
                            dh__quote(q, k));
        }
    }
    dh__uint(pe, "breaker.failures", v ? dh__get(v, "failures") : NULL, 1,
             DH__BREAKER_FAILURES_MAX, DH__BREAKER_FAILURES_DEFAULT, &e->breaker_failures);
    dh__duration(pe, "breaker.cooldown", v ? dh__get(v, "cooldown") : NULL, DH__COOLDOWN_MIN_MS,
                 DH__COOLDOWN_MAX_MS, DH__COOLDOWN_DEFAULT_MS, &e->breaker_cooldown_ms);
}

static void dh__max_payload(struct dh__errs *pe, struct dh_endpoint *e, const json_t *v)
{
    char uerr[160];
    uint64_t bytes = 0;

    e->max_payload = DH__PAYLOAD_DEFAULT;
    if (v == NULL)
        return;
    if (!json_is_string(v)) {
        dh__problem(pe, "max_payload", "must be a size with a unit, such as \"1MiB\"");
        return;
    }
    if (dh_units_parse_size(json_string_value(v), &bytes, uerr, sizeof(uerr)) < 0) {
        dh__problem(pe, "max_payload", "%s", uerr);
        return;
    }
    if (bytes < 1 || bytes > DH__PAYLOAD_MAX) {
        dh__problem(pe, "max_payload", "must be between 1B and 64MiB");
        return;
    }
    e->max_payload = bytes;
}

/* tls: {ca_file}: the CA bundle that verifies this endpoint (a private CA
 * of an on-premises helpdesk); verification itself is never turned off. */
static void dh__tls(struct dh__errs *pe, struct dh_endpoint *e, const json_t *v)
{
    const json_t *mv;
    const char *k;
    char q[DH__QUOTE_MAX];

    if (v == NULL)
        return;
    if (!json_is_object(v)) {
        dh__problem(pe, "tls", "must be an object {ca_file}");
        return;
    }
    json_object_foreach((json_t *)v, k, mv)
    {
        if (strcmp(k, "ca_file") != 0)
            dh__problem(pe, "tls", "unknown key \"%s\" (expected ca_file)", dh__quote(q, k));
    }
    mv = dh__get(v, "ca_file");
    if (mv == NULL)
        return;
    if (!json_is_string(mv) || json_string_value(mv)[0] != '/' ||
        strlen(json_string_value(mv)) > 4096) {
        dh__problem(pe, "tls.ca_file", "must be an absolute path to a PEM file");
        return;
    }
    if (access(json_string_value(mv), R_OK) != 0) {
        dh__problem(pe, "tls.ca_file", "cannot read %s", dh__quote(q, json_string_value(mv)));
        return;
    }
    e->ca_file = dh_strdup(json_string_value(mv));
}

static void dh__rate(struct dh__errs *pe, struct dh_endpoint *e, const json_t *v)
{
    e->rate = 0;
    if (v == NULL)
        return;
    if (!json_is_number(v) || json_number_value(v) < 0) {
        dh__problem(pe, "rate", "must be a number of requests per second, 0 for no limit");
        return;
    }
    e->rate = json_number_value(v);
}

/* signing and format, whose defaults depend on each other: Slack's
 * incoming webhooks check no signature, so slack defaults to none. */
static int dh__signing_format(struct dh__errs *pe, struct dh_endpoint *e, const json_t *spec,
                              int *signing_ok)
{
    const json_t *fv = dh__get(spec, "format"), *sv = dh__get(spec, "signing");
    const char *s;
    int format_ok = 1;

    e->format = DH_FORMAT_STANDARD;
    if (fv != NULL) {
        s = json_is_string(fv) ? json_string_value(fv) : "";
        if (strcmp(s, "standard") == 0)
            e->format = DH_FORMAT_STANDARD;
        else if (strcmp(s, "slack") == 0)
            e->format = DH_FORMAT_SLACK;
        else if (strcmp(s, "template") == 0)
            e->format = DH_FORMAT_TEMPLATE;
        else {
            dh__problem(pe, "format", "must be standard, slack or template");
            format_ok = 0;
        }
    }
    *signing_ok = 1;
    e->signing = e->format == DH_FORMAT_SLACK ? DH_SIGN_NONE : DH_SIGN_STANDARD;
    if (sv != NULL) {
        s = json_is_string(sv) ? json_string_value(sv) : "";
        if (strcmp(s, "standard-webhooks") == 0)
            e->signing = DH_SIGN_STANDARD;
        else if (strcmp(s, "hex") == 0)
            e->signing = DH_SIGN_HEX;
        else if (strcmp(s, "none") == 0)
            e->signing = DH_SIGN_NONE;
        else {
            dh__problem(pe, "signing", "must be standard-webhooks, hex or none");
            *signing_ok = 0;
        }
    }
    return format_ok;
}

int dh_endpoint_parse(const json_t *spec, const char *id, int from_config,
                      struct dh_endpoint **out, char *err, size_t errlen)
{
    struct dh__errs pe = {err, errlen, 0, 0};
    struct dh_endpoint *e = NULL;
    const json_t *v;
    const char *k, *s;
    char q[DH__QUOTE_MAX];
    int signing_ok = 1, format_ok;
    int rc = 0;

    *out = NULL;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (!json_is_object(spec)) {
        dh__problem(&pe, "endpoint", "must be a JSON object");
        rc = DH_E_BAD_REQUEST;
        goto out;
    }
    e = dh_new(struct dh_endpoint);
    e->from_config = from_config;

    json_object_foreach((json_t *)spec, k, v)
    {
        size_t i, nkeys = sizeof(dh__keys) / sizeof(dh__keys[0]);
        for (i = 0; i < nkeys; i++)
            if (strcmp(k, dh__keys[i]) == 0)
                break;
        if (i == nkeys)
            dh__problem(&pe, dh__quote(q, k), "unknown key");
    }

    /* The name is required of both origins: the API fills in a generated
     * one before parsing when the body has none. */
    if ((v = dh__get(spec, "name")) == NULL)
        dh__problem(&pe, "name", "required");
    else if ((s = dh__string(&pe, "name", v, 0, 1024)) != NULL) {
        if (dh__name_valid(s))
            e->name = dh_strdup(s);
        else
            dh__problem(&pe, "name", "must be 1 to %d of a-z, 0-9, - and _",
                        DH_ENDPOINT_NAME_MAX);
    }
    e->id = dh_strdup(id != NULL ? id : e->name);

    dh__url(&pe, e, dh__get(spec, "url"));
    dh__method(&pe, e, dh__get(spec, "method"));
    dh__auth(&pe, e, dh__get(spec, "auth"));

    if ((v = dh__get(spec, "events")) == NULL) {
        e->events = dh_calloc(1, sizeof(char *));
        e->events[0] = dh_strdup("*");
        e->nevents = 1;
    } else {
        e->events = dh__strings(&pe, "events", v, DH__LIST_MAX, dh__pattern_valid,
                                "an event type, \"*\" or \"prefix.*\"", &e->nevents);
    }
    if ((v = dh__get(spec, "sources")) != NULL)
        e->sources = dh__strings(&pe, "sources", v, DH__LIST_MAX, dh__source_valid,
                                 "a source name", &e->nsources);

    format_ok = dh__signing_format(&pe, e, spec, &signing_ok);
    if (signing_ok)
        dh__secrets(&pe, e, dh__get(spec, "secrets"));
    else if ((v = dh__get(spec, "secrets")) != NULL && !json_is_array(v))
        dh__problem(&pe, "secrets", "must be a list of strings");

    v = dh__get(spec, "template");
    if (format_ok && e->format == DH_FORMAT_TEMPLATE) {
        if (v == NULL)
            dh__problem(&pe, "template", "required with format: template");
        else if (!json_is_object(v) && !json_is_array(v))
            dh__problem(&pe, "template", "must be a JSON object or array");
        else
            e->tmpl = json_deep_copy(v);
    } else if (format_ok && v != NULL) {
        dh__problem(&pe, "template", "only used with format: template");
    }

    dh__duration(&pe, "timeout", dh__get(spec, "timeout"), DH__TIMEOUT_MIN_MS,
                 DH__TIMEOUT_MAX_MS, DH__TIMEOUT_DEFAULT_MS, &e->timeout_ms);
    dh__retry(&pe, e, dh__get(spec, "retry"));
    dh__renames(&pe, e, dh__get(spec, "event_names"));
    dh__uint(&pe, "max_in_flight", dh__get(spec, "max_in_flight"), 1, DH__IN_FLIGHT_MAX,
             DH__IN_FLIGHT_DEFAULT, &e->max_in_flight);
    dh__rate(&pe, e, dh__get(spec, "rate"));
    e->active = dh__bool(&pe, spec, "active", 1);
    dh__allow(&pe, e, dh__get(spec, "allow_private"));
    e->follow_redirects = dh__bool(&pe, spec, "follow_redirects", 0);
    e->pause_on_gone = dh__bool(&pe, spec, "pause_on_gone", 1);
    dh__breaker(&pe, e, dh__get(spec, "breaker"));
    dh__max_payload(&pe, e, dh__get(spec, "max_payload"));
    dh__tls(&pe, e, dh__get(spec, "tls"));

    if (pe.n > 0) {
        rc = DH_E_BAD_REQUEST;
        goto out;
    }
    e->spec = json_deep_copy(spec);
    *out = e;
    e = NULL;
out:
    dh_endpoint_free(e);
    return rc;
}

void dh_endpoint_free(struct dh_endpoint *e)
{
    if (e == NULL)
        return;
    free(e->id);
    free(e->name);
    free(e->url);
    free(e->method);
    if (e->bearer != NULL)
        explicit_bzero(e->bearer, strlen(e->bearer));
    free(e->bearer);
    if (e->basic != NULL)
        explicit_bzero(e->basic, strlen(e->basic));
    free(e->basic);
    dh__strv_free(e->header_names, e->nheaders);
    dh__strv_free(e->header_values, e->nheaders);
    dh__strv_free(e->events, e->nevents);
    dh__strv_free(e->sources, e->nsources);
    for (size_t i = 0; i < e->nsecrets; i++) {
        explicit_bzero(e->secrets[i].key, e->secrets[i].len);
        free(e->secrets[i].key);
    }
    free(e->secrets);
    json_decref(e->tmpl);
    free(e->schedule_ms);
    dh__strv_free(e->rename_from, e->nrenames);
    dh__strv_free(e->rename_to, e->nrenames);
    free(e->allow_private);
    free(e->ca_file);
    json_decref(e->spec);
    free(e);
}

int dh_endpoint_pattern_match(const char *pattern, const char *type)
{
    size_t n = strlen(pattern);

    if (strcmp(pattern, "*") == 0)
        return 1;
    if (n >= 2 && strcmp(pattern + n - 2, ".*") == 0)
        /* "ticket.*": the prefix with its dot, and something after it. */
        return strncmp(type, pattern, n - 1) == 0 && type[n - 1] != '\0';
    return strcmp(pattern, type) == 0;
}

int dh_endpoint_matches(const struct dh_endpoint *e, const char *source, const char *type)
{
    int subscribed = 0;

    if (!e->active)
        return 0;
    for (size_t i = 0; i < e->nevents && !subscribed; i++)
        subscribed = dh_endpoint_pattern_match(e->events[i], type);
    if (!subscribed)
        return 0;
    if (e->sources == NULL)
        return 1;
    for (size_t i = 0; i < e->nsources; i++)
        if (strcmp(e->sources[i], source) == 0)
            return 1;
    return 0;
}

const char *dh_endpoint_event_name(const struct dh_endpoint *e, const char *type)
{
    for (size_t i = 0; i < e->nrenames; i++)
        if (strcmp(e->rename_from[i], type) == 0)
            return e->rename_to[i];
    return type;
}

/* Replaces every value of the object or array v with the mask (an object's
 * keys stay: a header's name is not secret). */
static void dh__mask_all(json_t *v)
{
    const char *k;
    json_t *mv;
    size_t i;

    if (json_is_object(v)) {
        json_object_foreach(v, k, mv)
        {
            json_object_set_new(v, k, json_string(DH__MASK));
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, mv)
        {
            json_array_set_new(v, i, json_string(DH__MASK));
        }
    }
}

json_t *dh_endpoint_to_json(const struct dh_endpoint *e)
{
    json_t *spec = json_deep_copy(e->spec);
    json_t *o = json_object(), *auth, *v;
    const char *k;

    if (spec == NULL)
        spec = json_object();
    if (json_object_get(spec, "secrets") != NULL) {
        v = json_object_get(spec, "secrets");
        if (json_is_array(v))
            dh__mask_all(v);
        else
            json_object_set_new(spec, "secrets", json_string(DH__MASK));
    }
    auth = json_object_get(spec, "auth");
    if (json_is_object(auth)) {
        if (json_object_get(auth, "bearer") != NULL)
            json_object_set_new(auth, "bearer", json_string(DH__MASK));
        v = json_object_get(auth, "basic");
        if (json_is_object(v) && json_object_get(v, "password") != NULL)
            json_object_set_new(v, "password", json_string(DH__MASK));
        dh__mask_all(json_object_get(auth, "headers"));
    }

    if (e->format == DH_FORMAT_SLACK && e->url != NULL) {
        /* A Slack incoming-webhook URL is itself the credential: show only
         * where it goes. */
        const char *host = strstr(e->url, "://");
        size_t n = host ? (size_t)(strcspn(host + 3, "/?#") + (size_t)(host + 3 - e->url)) : 0;
        char *masked = dh_asprintf("%.*s/" DH__MASK, (int)n, e->url);
        json_object_set_new(spec, "url", json_string(masked));
        free(masked);
    }

    json_object_set_new(o, "id", json_string(e->id ? e->id : ""));
    json_object_set_new(o, "name", json_string(e->name ? e->name : ""));
    json_object_set_new(o, "origin", json_string(e->from_config ? "config" : "api"));
    json_object_foreach(spec, k, v)
    {
        if (strcmp(k, "id") != 0 && strcmp(k, "name") != 0 && strcmp(k, "origin") != 0)
            json_object_set(o, k, v);
    }
    json_decref(spec);
    return o;
}

/* RFC 7386 over an object target, in place: each member of the object
 * patch merges into target's (null deletes it); a member that is not an
 * object replaces target's. */
static void dh__merge_into(json_t *target, const json_t *patch)
{
    const char *k;
    json_t *pv, *cur;

    json_object_foreach((json_t *)patch, k, pv)
    {
        if (json_is_null(pv)) {
            json_object_del(target, k);
        } else if (json_is_object(pv)) {
            cur = json_object_get(target, k);
            if (!json_is_object(cur)) {
                cur = json_object();
                json_object_set_new(target, k, cur);
            }
            dh__merge_into(cur, pv);
        } else {
            json_object_set_new(target, k, json_deep_copy(pv));
        }
    }
}

json_t *dh_endpoint_merge(const json_t *spec, const json_t *patch)
{
    json_t *res;

    if (!json_is_object(patch))
        return json_deep_copy(patch);
    res = json_is_object(spec) ? json_deep_copy(spec) : json_object();
    dh__merge_into(res, patch);
    return res;
}
