/*
 * config.c: the option table and the loader (config.h).
 *
 * Every scalar option lives in one table: its dotted name, type, bounds,
 * default and help. The loader walks the YAML tree against the table, so an
 * unknown key, a bare number where a unit belongs or an out-of-range value
 * is reported with its line, and every problem in the file is reported at
 * once. Structured keys (sources, auth) have small hand-written walkers that
 * reuse the same scalar parsers.
 */
#include "config/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/units.h"
#include "core/cidr.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"

#define DH_CONFIG_MAX_FILE (4u << 20)

enum dh__opt_type {
    DH_OPT_STR,
    DH_OPT_SECRET, /* a string that must not be empty */
    DH_OPT_ADDR,   /* HOST:PORT */
    DH_OPT_DURATION,
    DH_OPT_SIZE,
    DH_OPT_UINT,
    DH_OPT_BOOL,
    DH_OPT_RATE,
    DH_OPT_STRLIST,
    DH_OPT_LOGLEVEL,
};

struct dh__opt {
    const char *name;
    enum dh__opt_type type;
    size_t off;  /* char * / uint64_t / int / char ** */
    size_t off2; /* DH_OPT_STRLIST: size_t count; DH_OPT_RATE: period */
    uint64_t min, max;
    const char *def; /* NULL: no default (absent stays unset) */
    const char *help;
};

#define DH__C(field) offsetof(struct dh_config, field)
#define DH__S(field) offsetof(struct dh_config_source, field)

/* The top-level options. Sections (admin, log, limits) are dotted names. */
static const struct dh__opt dh__global_opts[] = {
    {"listen", DH_OPT_ADDR, DH__C(listen), 0, 0, 0, "127.0.0.1:8080",
     "public listener for webhooks and /health"},
    {"admin.listen", DH_OPT_ADDR, DH__C(admin_listen), 0, 0, 0, "127.0.0.1:8081",
     "admin API listener (keep it on loopback or a private network)"},
    {"admin.token", DH_OPT_SECRET, DH__C(admin_token), 0, 0, 0, NULL,
     "bearer token the admin API requires (required; `deskhook secret` makes one)"},
    {"store", DH_OPT_STR, DH__C(store), 0, 0, 0, "sqlite:deskhook.db",
     "where events are kept: sqlite:PATH"},
    {"dedupe_window", DH_OPT_DURATION, DH__C(dedupe_window_ms), 0, 1000, 366ull * 86400000,
     "24h", "how long a delivery is remembered to drop repeats"},
    {"log.level", DH_OPT_LOGLEVEL, DH__C(log_level), 0, 0, 0, "info", "debug, info, warn or error"},
    {"log.access", DH_OPT_BOOL, DH__C(log_access), 0, 0, 0, "true",
     "one log line per webhook request"},
    {"limits.max_connections", DH_OPT_UINT, DH__C(max_connections), 0, 16, 1000000, "10000",
     "concurrent connections on the public listener"},
    {"limits.http_threads", DH_OPT_UINT, DH__C(http_threads), 0, 1, 64, "1",
     "event-loop threads of the public listener"},
    {"limits.request_timeout", DH_OPT_DURATION, DH__C(request_timeout_ms), 0, 100, 3600000,
     "30s", "a request must arrive whole within this time"},
    {"limits.idle_timeout", DH_OPT_DURATION, DH__C(idle_timeout_ms), 0, 1000, 3600000, "60s",
     "an idle keep-alive connection is closed after this time"},
    {"limits.max_header_bytes", DH_OPT_SIZE, DH__C(max_header_bytes), 0, 4096, 1u << 20, "32KiB",
     "memory for one request's headers"},
    {"limits.max_json_depth", DH_OPT_UINT, DH__C(max_json_depth), 0, 2, 1000, "64",
     "deepest nesting a JSON body may have"},
    {"limits.commit_max_batch", DH_OPT_UINT, DH__C(commit_max_batch), 0, 1, 100000, "4096",
     "most events committed in one transaction"},
    {"delivery.allow_private", DH_OPT_STRLIST, DH__C(delivery_allow), DH__C(ndelivery_allow), 0,
     0, NULL,
     "CIDRs every endpoint may reach despite the SSRF guard (also DESKHOOK_ALLOW_PRIVATE)"},
    {"delivery.max_in_flight", DH_OPT_UINT, DH__C(delivery_max_in_flight), 0, 1, 100000, "4096",
     "outbound requests in flight over all endpoints"},
    {"delivery.lease_margin", DH_OPT_DURATION, DH__C(delivery_lease_margin_ms), 0, 1000, 3600000,
     "60s",
     "a claimed delivery is sent again if its result is not stored within the endpoint's "
     "timeout plus this"},
    {"limits.shutdown_timeout", DH_OPT_DURATION, DH__C(shutdown_timeout_ms), 0, 100, 600000,
     "10s", "how long a stop waits for requests in flight"},
};

/* The options of one source. */
static const struct dh__opt dh__source_opts[] = {
    {"name", DH_OPT_STR, DH__S(name), 0, 0, 0, NULL,
     "unique name; webhooks arrive at /webhooks/NAME"},
    {"preset", DH_OPT_STR, DH__S(preset), 0, 0, 0, "generic",
     "provider preset: how payloads map to the ticket model"},
    {"paths", DH_OPT_STRLIST, DH__S(paths), DH__S(npaths), 0, 0, NULL,
     "extra paths the source is also mounted on"},
    {"default_event", DH_OPT_STR, DH__S(default_event), 0, 0, 0, NULL,
     "event type when neither path nor payload gives one"},
    {"max_body", DH_OPT_SIZE, DH__S(max_body), 0, 16, 64u << 20, "1MiB",
     "largest body accepted (413 above)"},
    {"dedupe_window", DH_OPT_DURATION, DH__S(dedupe_window_ms), 0, 1000, 366ull * 86400000,
     NULL, "overrides the global dedupe_window for this source"},
    {"rate_limit", DH_OPT_RATE, DH__S(rate_count), DH__S(rate_period_ms), 0, 0, NULL,
     "token bucket, e.g. 100/60s, or {rate: 100/1m, key: platform} for one bucket per value "
     "of a field (429 above)"},
    {"required", DH_OPT_STRLIST, DH__S(required), DH__S(nrequired), 0, 0, NULL,
     "ticket-model fields that must be present (400 missing_field)"},
    {"required_message", DH_OPT_STR, DH__S(required_message), 0, 0, 0, NULL,
     "the message of that 400, e.g. \"Title or subject is required\""},
};

#define DH__NOPTS(t) (sizeof(t) / sizeof((t)[0]))

struct dh__loader {
    const char *file;
    struct dh_errlist *el;
};

static const char *dh__type_name(enum dh__opt_type t)
{
    switch (t) {
    case DH_OPT_DURATION:
        return "duration";
    case DH_OPT_SIZE:
        return "size";
    case DH_OPT_UINT:
        return "number";
    case DH_OPT_BOOL:
        return "true/false";
    case DH_OPT_RATE:
        return "rate";
    case DH_OPT_STRLIST:
        return "list";
    case DH_OPT_ADDR:
        return "host:port";
    default:
        return "string";
    }
}

int dh_config_split_addr(const char *s, char *host, size_t hostlen, unsigned *port)
{
    const char *colon;
    char *end = NULL;
    unsigned long p;
    size_t hl;

    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (rb == NULL || rb[1] != ':')
            return -EINVAL;
        hl = (size_t)(rb - s - 1);
        s++;
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return -EINVAL;
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= hostlen)
        return -EINVAL;
    memcpy(host, s, hl);
    host[hl] = '\0';
    errno = 0;
    p = strtoul(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || end == colon + 1 || p > 65535)
        return -EINVAL;
    *port = (unsigned)p;
    return 0;
}

/* Parses one scalar (or list) into base+opt->off; defaults come through
 * here too, as nodes at line 0. */
static void dh__set_opt(struct dh__loader *L, const struct dh__opt *o, void *base,
                        const struct dh_ynode *v)
{
    char err[256] = "";
    char *p = (char *)base + o->off;
    int line = v->line;

    if (o->type == DH_OPT_STRLIST) {
        char ***list = (char ***)p;
        size_t *cnt = (size_t *)((char *)base + o->off2);
        if (v->kind == DH_Y_SCALAR && !v->plain_null) {
            *list = dh_calloc(1, sizeof(char *));
            (*list)[0] = dh_strdup(v->value);
            *cnt = 1;
            return;
        }
        if (v->kind != DH_Y_SEQ) {
            dh_errlist_add(L->el, L->file, line, "%s must be a list", o->name);
            return;
        }
        *list = dh_calloc(v->n ? v->n : 1, sizeof(char *));
        *cnt = 0;
        for (size_t i = 0; i < v->n; i++) {
            if (v->items[i]->kind != DH_Y_SCALAR) {
                dh_errlist_add(L->el, L->file, v->items[i]->line, "%s: items must be strings",
                               o->name);
                continue;
            }
            (*list)[(*cnt)++] = dh_strdup(v->items[i]->value);
        }
        return;
    }
    if (v->kind != DH_Y_SCALAR) {
        dh_errlist_add(L->el, L->file, line, "%s must be a %s, not a %s", o->name,
                       dh__type_name(o->type), v->kind == DH_Y_MAP ? "map" : "list");
        return;
    }
    const char *s = v->value;
    switch (o->type) {
    case DH_OPT_STR:
    case DH_OPT_SECRET:
        if (o->type == DH_OPT_SECRET && s[0] == '\0') {
            dh_errlist_add(L->el, L->file, line, "%s is empty: a secret must not be empty",
                           o->name);
            return;
        }
        free(*(char **)p);
        *(char **)p = dh_strdup(s);
        return;
    case DH_OPT_ADDR: {
        char host[256];
        unsigned port;
        if (dh_config_split_addr(s, host, sizeof(host), &port) < 0) {
            dh_errlist_add(L->el, L->file, line, "%s: \"%s\" is not HOST:PORT", o->name, s);
            return;
        }
        free(*(char **)p);
        *(char **)p = dh_strdup(s);
        return;
    }
    case DH_OPT_LOGLEVEL: {
        enum dh_log_level lv;
        if (dh_log_parse_level(s, &lv) < 0) {
            dh_errlist_add(L->el, L->file, line, "%s: \"%s\" is not debug, info, warn or error",
                           o->name, s);
            return;
        }
        free(*(char **)p);
        *(char **)p = dh_strdup(s);
        return;
    }
    case DH_OPT_BOOL:
        if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "on") == 0)
            *(int *)p = 1;
        else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 || strcmp(s, "off") == 0)
            *(int *)p = 0;
        else
            dh_errlist_add(L->el, L->file, line, "%s: \"%s\" is not true or false", o->name, s);
        return;
    case DH_OPT_RATE: {
        uint64_t count, period;
        if (dh_units_parse_rate(s, &count, &period, err, sizeof(err)) < 0) {
            dh_errlist_add(L->el, L->file, line, "%s: %s", o->name, err);
            return;
        }
        *(uint64_t *)p = count;
        *(uint64_t *)((char *)base + o->off2) = period;
        return;
    }
    case DH_OPT_DURATION:
    case DH_OPT_SIZE:
    case DH_OPT_UINT: {
        uint64_t val;
        int rc;
        if (o->type == DH_OPT_DURATION) {
            rc = dh_units_parse_duration(s, &val, err, sizeof(err));
        } else if (o->type == DH_OPT_SIZE) {
            rc = dh_units_parse_size(s, &val, err, sizeof(err));
        } else {
            char *end = NULL;
            errno = 0;
            val = strtoull(s, &end, 10);
            rc = (errno != 0 || end == s || *end != '\0' || s[0] == '-') ? -EINVAL : 0;
            if (rc < 0)
                snprintf(err, sizeof(err), "\"%s\" is not a whole number", s);
        }
        if (rc < 0) {
            dh_errlist_add(L->el, L->file, line, "%s: %s", o->name, err);
            return;
        }
        if ((o->min && val < o->min) || (o->max && val > o->max)) {
            dh_errlist_add(L->el, L->file, line, "%s: %s is out of range (%llu to %llu%s)",
                           o->name, s, (unsigned long long)o->min, (unsigned long long)o->max,
                           o->type == DH_OPT_DURATION ? " ms"
                           : o->type == DH_OPT_SIZE   ? " bytes"
                                                      : "");
            return;
        }
        *(uint64_t *)p = val;
        return;
    }
    case DH_OPT_STRLIST:
        return;
    }
}

static void dh__apply_defaults(struct dh__loader *L, const struct dh__opt *opts, size_t n,
                               void *base)
{
    for (size_t i = 0; i < n; i++) {
        if (opts[i].def == NULL)
            continue;
        struct dh_ynode v = {.kind = DH_Y_SCALAR, .line = 0, .value = (char *)opts[i].def};
        dh__set_opt(L, &opts[i], base, &v);
    }
}

static const struct dh__opt *dh__find_opt(const struct dh__opt *opts, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(opts[i].name, name) == 0)
            return &opts[i];
    return NULL;
}

static int dh__is_section(const struct dh__opt *opts, size_t n, const char *prefix)
{
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < n; i++)
        if (strncmp(opts[i].name, prefix, pl) == 0 && opts[i].name[pl] == '.')
            return 1;
    return 0;
}

/* A key the table does not know; returns 1 when the caller handled it. */
typedef int (*dh__special_fn)(struct dh__loader *L, void *base, const char *key,
                              const struct dh_ynode *v);

static void dh__walk(struct dh__loader *L, const struct dh__opt *opts, size_t nopts, void *base,
                     const struct dh_ynode *map, const char *prefix, dh__special_fn special)
{
    char name[256];

    for (size_t i = 0; i < map->n; i++) {
        const char *key = map->keys[i]->value;
        const struct dh_ynode *v = map->items[i];
        snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? "." : "", key);
        const struct dh__opt *o = dh__find_opt(opts, nopts, name);
        if (special != NULL && special(L, base, name, v)) {
            continue;
        } else if (o != NULL) {
            if (v->kind == DH_Y_SCALAR && v->plain_null && o->def == NULL &&
                o->type != DH_OPT_SECRET)
                continue; /* "key:" with nothing: leave unset */
            dh__set_opt(L, o, base, v);
        } else if (dh__is_section(opts, nopts, name)) {
            if (v->kind != DH_Y_MAP)
                dh_errlist_add(L->el, L->file, v->line, "%s must be a map", name);
            else
                dh__walk(L, opts, nopts, base, v, name, special);
        } else {
            dh_errlist_add(L->el, L->file, map->keys[i]->line, "unknown key \"%s\"", name);
        }
    }
}

/* ---- auth ---- */

static char **dh__strlist(struct dh__loader *L, const struct dh_ynode *v, const char *what,
                          size_t *n)
{
    char **out;

    *n = 0;
    if (v == NULL || v->kind != DH_Y_SEQ || v->n == 0) {
        dh_errlist_add(L->el, L->file, v ? v->line : 0, "%s must be a non-empty list", what);
        return NULL;
    }
    out = dh_calloc(v->n, sizeof(char *));
    for (size_t i = 0; i < v->n; i++) {
        const struct dh_ynode *it = v->items[i];
        if (it->kind != DH_Y_SCALAR || it->value[0] == '\0') {
            dh_errlist_add(L->el, L->file, it->line,
                           "%s: item %zu is empty; secrets and tokens must not be empty", what,
                           i + 1);
            continue;
        }
        out[(*n)++] = dh_strdup(it->value);
    }
    return out;
}

static void dh__check_keys(struct dh__loader *L, const struct dh_ynode *m, const char *scheme,
                           const char *const *known)
{
    for (size_t i = 0; i < m->n; i++) {
        int ok = 0;
        for (const char *const *k = known; *k != NULL; k++)
            ok |= strcmp(m->keys[i]->value, *k) == 0;
        if (!ok)
            dh_errlist_add(L->el, L->file, m->keys[i]->line, "auth.%s: unknown key \"%s\"",
                           scheme, m->keys[i]->value);
    }
}

static const char *dh__scalar(const struct dh_ynode *m, const char *key, const char *def)
{
    const struct dh_ynode *v = dh_ytree_get(m, key);
    return (v != NULL && v->kind == DH_Y_SCALAR) ? v->value : def;
}

static uint64_t dh__tolerance(struct dh__loader *L, const struct dh_ynode *m, const char *what)
{
    const struct dh_ynode *t = dh_ytree_get(m, "tolerance");
    uint64_t ms = 0;
    char err[200];
    if (t == NULL)
        return 0;
    if (t->kind != DH_Y_SCALAR) {
        dh_errlist_add(L->el, L->file, t->line, "auth.%s.tolerance must be a duration like 5m",
                       what);
        return 0;
    }
    if (dh_units_parse_duration(t->value, &ms, err, sizeof(err)) < 0)
        dh_errlist_add(L->el, L->file, t->line, "auth.%s.tolerance: %s", what, err);
    else if (ms == 0)
        dh_errlist_add(L->el, L->file, t->line, "auth.%s.tolerance must be more than 0", what);
    return ms;
}

static void dh__parse_auth(struct dh__loader *L, struct dh_config_source *s,
                           const struct dh_ynode *v)
{
    static const char *const hmac_keys[] = {"header",  "algorithm",        "encoding",
                                            "prefix",  "signed",           "timestamp_header",
                                            "tolerance", "secrets",        NULL};
    static const char *const sig_keys[] = {"secrets", "tolerance", "base_url", "public_key",
                                           "public_keys", NULL};
    static const char *const ips_keys[] = {"cidrs", "trusted_proxies", NULL};
    static const char *const bearer_keys[] = {"tokens", NULL};
    static const char *const header_keys[] = {"name", "tokens", NULL};
    static const char *const basic_keys[] = {"users", NULL};

    if (v->kind == DH_Y_SCALAR) {
        if (strcmp(v->value, "none") == 0)
            s->auth.none = 1;
        else
            dh_errlist_add(L->el, L->file, v->line,
                           "auth must be the word none or a map of schemes, not \"%s\"",
                           v->value);
        return;
    }
    if (v->kind != DH_Y_MAP || v->n == 0) {
        dh_errlist_add(L->el, L->file, v->line,
                       "auth must be the word none or a map of schemes (hmac, a platform's "
                       "scheme such as zendesk, bearer, basic, header, allow_ips)");
        return;
    }
    for (size_t i = 0; i < v->n; i++) {
        const char *scheme = v->keys[i]->value;
        const struct dh_ynode *m = v->items[i];
        if (m->kind != DH_Y_MAP) {
            dh_errlist_add(L->el, L->file, m->line, "auth.%s must be a map of settings", scheme);
            continue;
        }
        if (strcmp(scheme, "hmac") == 0) {
            struct dh_config_hmac *h = dh_new(struct dh_config_hmac);
            dh__check_keys(L, m, scheme, hmac_keys);
            h->header = dh_strdup(dh__scalar(m, "header", "X-Webhook-Signature"));
            h->algorithm = dh_strdup(dh__scalar(m, "algorithm", "sha256"));
            h->encoding = dh_strdup(dh__scalar(m, "encoding", "hex"));
            h->prefix = dh_strdup(dh__scalar(m, "prefix", NULL));
            if (strcmp(h->algorithm, "sha1") && strcmp(h->algorithm, "sha256") &&
                strcmp(h->algorithm, "sha512"))
                dh_errlist_add(L->el, L->file, dh_ytree_get(m, "algorithm")->line,
                               "auth.hmac.algorithm: \"%s\" is not sha1, sha256 or sha512",
                               h->algorithm);
            if (strcmp(h->encoding, "hex") && strcmp(h->encoding, "base64"))
                dh_errlist_add(L->el, L->file, dh_ytree_get(m, "encoding")->line,
                               "auth.hmac.encoding: \"%s\" is not hex or base64", h->encoding);
            h->signed_template = dh_strdup(dh__scalar(m, "signed", NULL));
            h->timestamp_header = dh_strdup(dh__scalar(m, "timestamp_header", NULL));
            if (h->signed_template != NULL && strstr(h->signed_template, "{timestamp}") != NULL &&
                h->timestamp_header == NULL)
                dh_errlist_add(L->el, L->file, m->line,
                               "auth.hmac: signed uses {timestamp}; name its header with "
                               "timestamp_header:");
            h->tolerance_ms = dh__tolerance(L, m, "hmac");
            const struct dh_ynode *sec = dh_ytree_get(m, "secrets");
            if (sec == NULL)
                dh_errlist_add(L->el, L->file, m->line, "auth.hmac needs secrets: [...]");
            else
                h->secrets = dh__strlist(L, sec, "auth.hmac.secrets", &h->nsecrets);
            s->auth.hmac = h;
        } else if (strcmp(scheme, "bearer") == 0 || strcmp(scheme, "header") == 0) {
            struct dh_config_tokens *t = dh_new(struct dh_config_tokens);
            int is_header = scheme[0] == 'h';
            dh__check_keys(L, m, scheme, is_header ? header_keys : bearer_keys);
            if (is_header) {
                t->name = dh_strdup(dh__scalar(m, "name", NULL));
                if (t->name == NULL || t->name[0] == '\0')
                    dh_errlist_add(L->el, L->file, m->line,
                                   "auth.header needs name: (the header carrying the token)");
                s->auth.header = t;
            } else {
                s->auth.bearer = t;
            }
            const struct dh_ynode *tok = dh_ytree_get(m, "tokens");
            if (tok == NULL)
                dh_errlist_add(L->el, L->file, m->line, "auth.%s needs tokens: [...]", scheme);
            else
                t->tokens = dh__strlist(L, tok, is_header ? "auth.header.tokens"
                                                          : "auth.bearer.tokens",
                                        &t->ntokens);
        } else if (strcmp(scheme, "basic") == 0) {
            const struct dh_ynode *u = dh_ytree_get(m, "users");
            dh__check_keys(L, m, scheme, basic_keys);
            if (u == NULL || u->kind != DH_Y_MAP || u->n == 0) {
                dh_errlist_add(L->el, L->file, m->line,
                               "auth.basic needs users: {name: password, ...}");
                continue;
            }
            s->auth.basic_users = dh_calloc(u->n, sizeof(char *));
            for (size_t k = 0; k < u->n; k++) {
                if (u->items[k]->kind != DH_Y_SCALAR || u->items[k]->value[0] == '\0' ||
                    strchr(u->keys[k]->value, ':') != NULL) {
                    dh_errlist_add(L->el, L->file, u->keys[k]->line,
                                   "auth.basic.users: \"%s\" needs a non-empty password and a "
                                   "name without ':'",
                                   u->keys[k]->value);
                    continue;
                }
                s->auth.basic_users[s->auth.nbasic++] =
                    dh_asprintf("%s:%s", u->keys[k]->value, u->items[k]->value);
            }
        } else if (strcmp(scheme, "allow_ips") == 0) {
            struct dh_config_ips *ips = dh_new(struct dh_config_ips);
            const struct dh_ynode *c = dh_ytree_get(m, "cidrs");
            const struct dh_ynode *pr = dh_ytree_get(m, "trusted_proxies");
            dh__check_keys(L, m, scheme, ips_keys);
            ips->line = m->line;
            if (c == NULL)
                dh_errlist_add(L->el, L->file, m->line, "auth.allow_ips needs cidrs: [...]");
            else
                ips->cidrs = dh__strlist(L, c, "auth.allow_ips.cidrs", &ips->ncidrs);
            if (pr != NULL)
                ips->proxies = dh__strlist(L, pr, "auth.allow_ips.trusted_proxies",
                                           &ips->nproxies);
            for (size_t k = 0; k < ips->ncidrs + ips->nproxies; k++) {
                struct dh_cidr cidr;
                const char *txt = k < ips->ncidrs ? ips->cidrs[k] : ips->proxies[k - ips->ncidrs];
                if (dh_cidr_parse(txt, &cidr) < 0)
                    dh_errlist_add(L->el, L->file, m->line,
                                   "auth.allow_ips: \"%s\" is not an address or CIDR range", txt);
            }
            s->auth.ips = ips;
        } else {
            /* A platform scheme: ingest checks the name against its table. */
            struct dh_config_sig *g;
            const struct dh_ynode *sec = dh_ytree_get(m, "secrets");
            const struct dh_ynode *pk = dh_ytree_get(m, "public_key");
            const struct dh_ynode *pks = dh_ytree_get(m, "public_keys");
            dh__check_keys(L, m, scheme, sig_keys);
            s->auth.sigs = dh_realloc(s->auth.sigs, (s->auth.nsigs + 1) * sizeof(*s->auth.sigs));
            g = &s->auth.sigs[s->auth.nsigs++];
            memset(g, 0, sizeof(*g));
            g->scheme = dh_strdup(scheme);
            g->line = v->keys[i]->line;
            g->tolerance_ms = dh__tolerance(L, m, scheme);
            g->base_url = dh_strdup(dh__scalar(m, "base_url", NULL));
            if (pk != NULL && pk->kind == DH_Y_SCALAR && pk->value[0] != '\0') {
                g->secrets = dh_calloc(1, sizeof(char *));
                g->secrets[0] = dh_strdup(pk->value);
                g->nsecrets = 1;
            } else if (pks != NULL) {
                g->secrets = dh__strlist(L, pks, "public_keys", &g->nsecrets);
            } else if (sec != NULL) {
                char what[80];
                snprintf(what, sizeof(what), "auth.%s.secrets", scheme);
                g->secrets = dh__strlist(L, sec, what, &g->nsecrets);
            } else {
                dh_errlist_add(L->el, L->file, m->line, "auth.%s needs secrets: [...]%s", scheme,
                               pk != NULL ? " (public_key is empty)" : "");
            }
        }
    }
}

static void dh__parse_fields(struct dh__loader *L, struct dh_config_source *s,
                             const struct dh_ynode *v)
{
    s->fields_line = v->line;
    if (v->kind != DH_Y_MAP) {
        dh_errlist_add(L->el, L->file, v->line,
                       "fields must be a map of ticket-model field to payload paths, e.g. "
                       "{ticket.subject: [title, data.title]}");
        return;
    }
    s->fields = dh_calloc(v->n ? v->n : 1, sizeof(*s->fields));
    for (size_t i = 0; i < v->n; i++) {
        const struct dh_ynode *pv = v->items[i];
        struct dh_config_field *f = &s->fields[s->nfields++];
        f->target = dh_strdup(v->keys[i]->value);
        if (pv->kind == DH_Y_SCALAR && pv->value[0] != '\0') {
            f->paths = dh_calloc(1, sizeof(char *));
            f->paths[0] = dh_strdup(pv->value);
            f->npaths = 1;
        } else {
            f->paths = dh__strlist(L, pv, "fields", &f->npaths);
        }
    }
}

static void dh__parse_event_map(struct dh__loader *L, struct dh_config_source *s,
                                const struct dh_ynode *v)
{
    if (v->kind != DH_Y_MAP) {
        dh_errlist_add(L->el, L->file, v->line,
                       "event_map must be a map of incoming to deskhook event types, e.g. "
                       "{ticket.create: ticket.created}");
        return;
    }
    s->event_map = dh_calloc(2 * v->n + 1, sizeof(char *));
    for (size_t i = 0; i < v->n; i++) {
        if (v->items[i]->kind != DH_Y_SCALAR || v->items[i]->value[0] == '\0') {
            dh_errlist_add(L->el, L->file, v->items[i]->line,
                           "event_map: \"%s\" needs an event type", v->keys[i]->value);
            continue;
        }
        s->event_map[2 * s->nevent_map] = dh_strdup(v->keys[i]->value);
        s->event_map[2 * s->nevent_map + 1] = dh_strdup(v->items[i]->value);
        s->nevent_map++;
    }
}

/* rate_limit: {rate: 100/1m, key: platform}: one bucket per field value. */
static void dh__parse_keyed_rate(struct dh__loader *L, struct dh_config_source *s,
                                 const struct dh_ynode *v)
{
    static const char *const keys[] = {"rate", "key", NULL};
    const char *rate = dh__scalar(v, "rate", NULL);
    char err[200];

    for (size_t i = 0; i < v->n; i++) {
        int ok = 0;
        for (const char *const *k = keys; *k; k++)
            ok |= strcmp(v->keys[i]->value, *k) == 0;
        if (!ok)
            dh_errlist_add(L->el, L->file, v->keys[i]->line, "rate_limit: unknown key \"%s\"",
                           v->keys[i]->value);
    }
    if (rate == NULL) {
        dh_errlist_add(L->el, L->file, v->line, "rate_limit needs rate: (for example 100/60s)");
        return;
    }
    if (dh_units_parse_rate(rate, &s->rate_count, &s->rate_period_ms, err, sizeof(err)) < 0)
        dh_errlist_add(L->el, L->file, dh_ytree_get(v, "rate")->line, "rate_limit.rate: %s",
                       err);
    s->rate_key = dh_strdup(dh__scalar(v, "key", NULL));
}

/* response: {status, body}, error_response: {body}, health: {path, body}:
 * answers shaped for callers that expect their own. */
static void dh__parse_shape(struct dh__loader *L, struct dh_config_source *s, const char *key,
                            const struct dh_ynode *v)
{
    const struct dh_ynode *body = dh_ytree_get(v, "body");
    int is_health = strcmp(key, "health") == 0;

    if (v->kind != DH_Y_MAP || body == NULL) {
        dh_errlist_add(L->el, L->file, v->line, "%s needs body: (a JSON template)%s", key,
                       is_health ? " and path:" : "");
        return;
    }
    for (size_t i = 0; i < v->n; i++) {
        const char *k = v->keys[i]->value;
        int ok = strcmp(k, "body") == 0 || (is_health && strcmp(k, "path") == 0) ||
                 (strcmp(key, "response") == 0 && strcmp(k, "status") == 0);
        if (!ok)
            dh_errlist_add(L->el, L->file, v->keys[i]->line, "%s: unknown key \"%s\"", key, k);
    }
    if (strcmp(key, "response") == 0) {
        const char *st = dh__scalar(v, "status", "200");
        char *end = NULL;
        long n = strtol(st, &end, 10);
        if (*end != '\0' || n < 200 || n > 299)
            dh_errlist_add(L->el, L->file, v->line, "response.status must be 200 to 299");
        s->response_status = (unsigned)n;
        s->response_body = dh_ytree_to_json(body);
    } else if (strcmp(key, "error_response") == 0) {
        s->error_body = dh_ytree_to_json(body);
    } else {
        const char *path = dh__scalar(v, "path", NULL);
        if (path == NULL || path[0] != '/' || strncmp(path, "/webhooks/", 10) == 0 ||
            strcmp(path, "/health") == 0)
            dh_errlist_add(L->el, L->file, v->line,
                           "health.path must start with / and not be a gateway path");
        s->health_path = dh_strdup(path);
        s->health_body = dh_ytree_to_json(body);
    }
}

static int dh__source_special(struct dh__loader *L, void *base, const char *key,
                              const struct dh_ynode *v)
{
    struct dh_config_source *s = base;
    if (strcmp(key, "auth") == 0) {
        dh__parse_auth(L, s, v);
        return 1;
    }
    if (strcmp(key, "fields") == 0) {
        dh__parse_fields(L, s, v);
        return 1;
    }
    if (strcmp(key, "event_map") == 0) {
        dh__parse_event_map(L, s, v);
        return 1;
    }
    if (strcmp(key, "response") == 0 || strcmp(key, "error_response") == 0 ||
        strcmp(key, "health") == 0) {
        dh__parse_shape(L, s, key, v);
        return 1;
    }
    if (strcmp(key, "rate_limit") == 0 && v->kind == DH_Y_MAP) {
        dh__parse_keyed_rate(L, s, v);
        return 1;
    }
    return 0;
}

static int dh__valid_name(const char *s)
{
    if (s[0] == '\0' || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
            return 0;
    return 1;
}

static void dh__parse_sources(struct dh__loader *L, struct dh_config *c, const struct dh_ynode *v)
{
    if (v->kind != DH_Y_SEQ) {
        dh_errlist_add(L->el, L->file, v->line, "sources must be a list");
        return;
    }
    c->sources = dh_calloc(v->n ? v->n : 1, sizeof(*c->sources));
    for (size_t i = 0; i < v->n; i++) {
        const struct dh_ynode *m = v->items[i];
        struct dh_config_source *s = &c->sources[c->nsources];
        if (m->kind != DH_Y_MAP) {
            dh_errlist_add(L->el, L->file, m->line, "each source must be a map");
            continue;
        }
        c->nsources++;
        s->line = m->line;
        dh__apply_defaults(L, dh__source_opts, DH__NOPTS(dh__source_opts), s);
        dh__walk(L, dh__source_opts, DH__NOPTS(dh__source_opts), s, m, "", dh__source_special);
        const struct dh_ynode *pn = dh_ytree_get(m, "preset");
        s->preset_line = pn ? pn->line : m->line;
        const struct dh_ynode *rn = dh_ytree_get(m, "required");
        s->required_line = rn ? rn->line : m->line;

        if (s->name == NULL) {
            dh_errlist_add(L->el, L->file, m->line, "a source needs a name");
            continue;
        }
        if (!dh__valid_name(s->name))
            dh_errlist_add(L->el, L->file, dh_ytree_get(m, "name")->line,
                           "source name \"%s\" may use only a-z, 0-9, '-' and '_' (64 at most)",
                           s->name);
        for (size_t j = 0; j + 1 < c->nsources; j++)
            if (c->sources[j].name && strcmp(c->sources[j].name, s->name) == 0)
                dh_errlist_add(L->el, L->file, m->line, "source \"%s\" is defined twice",
                               s->name);
        if (dh_ytree_get(m, "auth") == NULL)
            dh_errlist_add(L->el, L->file, m->line,
                           "source \"%s\" has no auth: say auth: none to accept unauthenticated "
                           "webhooks, or name a scheme",
                           s->name);
        for (size_t p = 0; p < s->npaths; p++) {
            const char *path = s->paths[p];
            int line = dh_ytree_get(m, "paths")->line;
            if (path[0] != '/' || strchr(path, '?') != NULL || strlen(path) > 256)
                dh_errlist_add(L->el, L->file, line,
                               "paths: \"%s\" must start with / and have no query", path);
            else if (strncmp(path, "/webhooks/", 10) == 0 || strcmp(path, "/health") == 0)
                dh_errlist_add(L->el, L->file, line,
                               "paths: \"%s\" is reserved by the gateway", path);
            for (size_t j = 0; j < c->nsources; j++)
                for (size_t q = 0; q < c->sources[j].npaths; q++)
                    if ((j != c->nsources - 1 || q < p) &&
                        strcmp(c->sources[j].paths[q], path) == 0)
                        dh_errlist_add(L->el, L->file, line, "paths: \"%s\" is mounted twice",
                                       path);
        }
    }
}

static int dh__global_special(struct dh__loader *L, void *base, const char *key,
                              const struct dh_ynode *v)
{
    if (strcmp(key, "sources") == 0) {
        dh__parse_sources(L, base, v);
        return 1;
    }
    if (strcmp(key, "endpoints") == 0) {
        struct dh_config *c = base;
        if (v->kind != DH_Y_SEQ) {
            dh_errlist_add(L->el, L->file, v->line, "endpoints must be a list");
            return 1;
        }
        /* Endpoints are checked by the delivery registry, with the same
         * parser the admin API uses; here they are only kept. */
        c->endpoints = json_array();
        c->endpoint_lines = dh_calloc(v->n ? v->n : 1, sizeof(int));
        for (size_t i = 0; i < v->n; i++) {
            c->endpoint_lines[i] = v->items[i]->line;
            json_array_append_new(c->endpoints, dh_ytree_to_json(v->items[i]));
        }
        return 1;
    }
    return 0;
}

int dh_config_load(const char *path, struct dh_config **out, struct dh_errlist *el)
{
    struct dh__loader L = {path, el};
    struct dh_config *c = NULL;
    struct dh_ynode *root = NULL;
    char *text = NULL;
    size_t len = 0;
    size_t nerr_before = el->n;
    FILE *f = NULL;
    int rc = 0;

    *out = NULL;
    f = fopen(path, "rb");
    if (f == NULL) {
        rc = -errno;
        dh_errlist_add(el, path, 0, "cannot open: %s", strerror(errno));
        goto out;
    }
    text = dh_malloc(DH_CONFIG_MAX_FILE + 1);
    len = fread(text, 1, DH_CONFIG_MAX_FILE + 1, f);
    if (len > DH_CONFIG_MAX_FILE) {
        dh_errlist_add(el, path, 0, "the file is larger than 4 MiB");
        rc = DH_E_CONFIG;
        goto out;
    }
    rc = dh_ytree_parse(path, text, len, &root, el);
    if (rc < 0)
        goto out;
    if (root->kind != DH_Y_MAP) {
        dh_errlist_add(el, path, root->line, "the top level must be a map of settings");
        rc = DH_E_CONFIG;
        goto out;
    }
    c = dh_new(struct dh_config);
    c->file = dh_strdup(path);
    dh__apply_defaults(&L, dh__global_opts, DH__NOPTS(dh__global_opts), c);
    dh__walk(&L, dh__global_opts, DH__NOPTS(dh__global_opts), c, root, "", dh__global_special);
    if (c->admin_token == NULL && dh_ytree_get(dh_ytree_get(root, "admin"), "token") == NULL)
        dh_errlist_add(el, path, root->line,
                       "admin.token is required (for example token: \"${DESKHOOK_ADMIN_TOKEN}\")");
    if (c->store != NULL && strncmp(c->store, "sqlite:", 7) != 0) {
        const struct dh_ynode *sn = dh_ytree_get(root, "store");
        dh_errlist_add(el, path, sn ? sn->line : 0,
                       "store: \"%s\" is not supported (use sqlite:PATH)", c->store);
    }
    if (c->nsources == 0)
        dh_errlist_add(el, path, root->line, "no sources: add at least one under sources:");
    if (el->n > nerr_before)
        rc = DH_E_CONFIG;
out:
    if (f != NULL)
        fclose(f);
    free(text);
    dh_ytree_free(root);
    /* On DH_E_CONFIG a partial config is still handed out, so callers can
     * run their own checks and report every problem at once. */
    *out = c;
    return rc;
}

static void dh__free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

static void dh__free_tokens(struct dh_config_tokens *t)
{
    if (t == NULL)
        return;
    free(t->name);
    dh__free_list(t->tokens, t->ntokens);
    free(t);
}

void dh_config_free(struct dh_config *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nsources; i++) {
        struct dh_config_source *s = &c->sources[i];
        free(s->name);
        free(s->preset);
        free(s->default_event);
        dh__free_list(s->paths, s->npaths);
        dh__free_list(s->required, s->nrequired);
        free(s->rate_key);
        free(s->required_message);
        json_decref(s->response_body);
        json_decref(s->error_body);
        json_decref(s->health_body);
        free(s->health_path);
        for (size_t k = 0; k < s->nfields; k++) {
            free(s->fields[k].target);
            dh__free_list(s->fields[k].paths, s->fields[k].npaths);
        }
        free(s->fields);
        dh__free_list(s->event_map, 2 * s->nevent_map);
        if (s->auth.hmac != NULL) {
            free(s->auth.hmac->header);
            free(s->auth.hmac->algorithm);
            free(s->auth.hmac->encoding);
            free(s->auth.hmac->prefix);
            free(s->auth.hmac->signed_template);
            free(s->auth.hmac->timestamp_header);
            dh__free_list(s->auth.hmac->secrets, s->auth.hmac->nsecrets);
            free(s->auth.hmac);
        }
        dh__free_tokens(s->auth.bearer);
        dh__free_tokens(s->auth.header);
        dh__free_list(s->auth.basic_users, s->auth.nbasic);
        for (size_t k = 0; k < s->auth.nsigs; k++) {
            free(s->auth.sigs[k].scheme);
            free(s->auth.sigs[k].base_url);
            dh__free_list(s->auth.sigs[k].secrets, s->auth.sigs[k].nsecrets);
        }
        free(s->auth.sigs);
        if (s->auth.ips != NULL) {
            dh__free_list(s->auth.ips->cidrs, s->auth.ips->ncidrs);
            dh__free_list(s->auth.ips->proxies, s->auth.ips->nproxies);
            free(s->auth.ips);
        }
    }
    free(c->sources);
    free(c->file);
    free(c->listen);
    free(c->admin_listen);
    free(c->admin_token);
    free(c->store);
    free(c->log_level);
    dh__free_list(c->delivery_allow, c->ndelivery_allow);
    json_decref(c->endpoints);
    free(c->endpoint_lines);
    free(c);
}

const struct dh_config_source *dh_config_source(const struct dh_config *c, const char *name)
{
    for (size_t i = 0; i < c->nsources; i++)
        if (c->sources[i].name != NULL && strcmp(c->sources[i].name, name) == 0)
            return &c->sources[i];
    return NULL;
}

static void dh__print_table(const struct dh__opt *opts, size_t n)
{
    printf("| key | type | default | meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++)
        printf("| `%s` | %s | %s | %s |\n", opts[i].name, dh__type_name(opts[i].type),
               opts[i].def ? opts[i].def : "—", opts[i].help);
}

void dh_config_print_reference(void)
{
    printf("## Top-level keys\n\n");
    dh__print_table(dh__global_opts, DH__NOPTS(dh__global_opts));
    printf("\n## Keys of each entry under `sources:`\n\n");
    dh__print_table(dh__source_opts, DH__NOPTS(dh__source_opts));
    printf("\n`auth` is `none` or a map of schemes, all of which must pass:\n\n"
           "- `hmac: {header, algorithm: sha1|sha256|sha512, encoding: hex|base64, prefix, "
           "signed: \"{timestamp}.{body}\", timestamp_header, tolerance, secrets: [...]}`\n"
           "- a platform's scheme: `standard-webhooks`, `svix`, `github`, `stripe`, `slack`, "
           "`zendesk`, `intercom`, `hubspot`, `helpscout`, `front`, `jira` with "
           "`{secrets: [...], tolerance}` (`hubspot` also `base_url`), `freshchat` with "
           "`{public_key}` or `{public_keys: [...]}`\n"
           "- `bearer: {tokens: [...]}`, `basic: {users: {name: password}}`, "
           "`header: {name, tokens: [...]}`\n"
           "- `allow_ips: {cidrs: [...], trusted_proxies: [...]}`\n"
           "\nOther maps of a source: `fields: {ticket.subject: [title, data.title]}` "
           "(override a preset's paths), `event_map: {ticket.create: ticket.created}`, "
           "`response: {status, body}` and `error_response: {body}` (JSON templates with "
           "`{{path}}` over the event, or over `error.code`, `error.message`, `status`), "
           "`health: {path, body}` (a fixed JSON document answered on GET).\n");
    printf("\n## Entries under `endpoints:`\n\n"
           "Each entry is an outbound endpoint: `name`, `url`, `method`, `auth` (`bearer`, "
           "`basic: {username, password}`, `headers`), `events`, `sources`, `signing` "
           "(`standard-webhooks`, `hex`, `none`), `secrets`, `format` (`standard`, `slack`, "
           "`template` with `template`), `timeout`, `retry: {schedule, max_attempts}`, "
           "`event_names`, `max_in_flight`, `rate`, `active`, `allow_private`, "
           "`follow_redirects`, `pause_on_gone`, `breaker: {failures, cooldown}`, "
           "`max_payload`, `tls: {ca_file}`. The admin API accepts the same keys; see "
           "[delivery.md](delivery.md) for each one's default and meaning.\n");
}
