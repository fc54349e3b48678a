/*
 * signature.c: platform signature schemes (signature.h).
 *
 * Each row of dh__schemes is one platform's documented algorithm: the HMAC
 * digest, the encoding, the header and its prefix, the timestamp header and
 * its format, and the template of the signed message. Verification and
 * signing share the row, so `deskhook sign` produces exactly what
 * verification accepts.
 */
#include "ingest/signature.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/strs.h"

enum dh__fmt {
    DH__PLAIN,    /* one signature in one header, optional prefix */
    DH__STANDARD, /* Standard Webhooks: "v1,<b64> v1,<b64>" and an id header */
    DH__STRIPE,   /* "t=<ts>,v1=<hex>,v1=<hex>" */
    DH__RSA,      /* RSA-SHA256 over the body, base64 (Freshchat) */
};

enum dh__ts {
    DH__TS_NONE,
    DH__TS_S,   /* Unix seconds */
    DH__TS_MS,  /* Unix milliseconds */
    DH__TS_ANY, /* seconds or milliseconds, told apart by size */
    DH__TS_ISO, /* 2026-11-23T15:27:04Z */
};

struct dh_sig_scheme {
    const char *name;
    enum dh__fmt fmt;
    const char *alg;
    int base64;
    const char *header;
    const char *prefix;
    const char *ts_header;
    enum dh__ts ts;
    const char *tmpl;
    const char *id_header; /* Standard Webhooks */
    int whsec;             /* the key is the base64 after "whsec_" */
    const char *alt;       /* used instead when alt's timestamp header is present */
    int sign_ms;           /* signing writes the timestamp in milliseconds */
};

#define DH__ROW(n, f, a, b64, h, pre, tsh, tsk, t) \
    .name = (n), .fmt = (f), .alg = (a), .base64 = (b64), .header = (h), .prefix = (pre), \
    .ts_header = (tsh), .ts = (tsk), .tmpl = (t)

static const struct dh_sig_scheme dh__schemes[] = {
    {DH__ROW("hmac", DH__PLAIN, "sha256", 0, "X-Webhook-Signature", NULL, NULL, DH__TS_NONE,
             "{body}")},
    {DH__ROW("standard-webhooks", DH__STANDARD, "sha256", 1, "webhook-signature", NULL,
             "webhook-timestamp", DH__TS_S, "{id}.{timestamp}.{body}"),
     .id_header = "webhook-id", .whsec = 1},
    {DH__ROW("svix", DH__STANDARD, "sha256", 1, "svix-signature", NULL, "svix-timestamp", DH__TS_S,
             "{id}.{timestamp}.{body}"),
     .id_header = "svix-id", .whsec = 1},
    {DH__ROW("github", DH__PLAIN, "sha256", 0, "X-Hub-Signature-256", "sha256=", NULL,
             DH__TS_NONE, "{body}")},
    {DH__ROW("stripe", DH__STRIPE, "sha256", 0, "Stripe-Signature", NULL, NULL, DH__TS_S,
             "{timestamp}.{body}")},
    {DH__ROW("slack", DH__PLAIN, "sha256", 0, "X-Slack-Signature", "v0=",
             "X-Slack-Request-Timestamp", DH__TS_S, "v0:{timestamp}:{body}")},
    {DH__ROW("zendesk", DH__PLAIN, "sha256", 1, "X-Zendesk-Webhook-Signature", NULL,
             "X-Zendesk-Webhook-Signature-Timestamp", DH__TS_ISO, "{timestamp}{body}")},
    {DH__ROW("intercom", DH__PLAIN, "sha1", 0, "X-Hub-Signature", "sha1=", NULL, DH__TS_NONE,
             "{body}")},
    {DH__ROW("hubspot", DH__PLAIN, "sha256", 1, "X-HubSpot-Signature-v3", NULL,
             "X-HubSpot-Request-Timestamp", DH__TS_MS, "{method}{url}{body}{timestamp}")},
    {DH__ROW("helpscout", DH__PLAIN, "sha1", 1, "X-HelpScout-Signature", NULL, NULL, DH__TS_NONE,
             "{body}")},
    {DH__ROW("front", DH__PLAIN, "sha1", 1, "X-Front-Signature", NULL, NULL, DH__TS_NONE,
             "{body}"),
     .alt = "front-app"},
    {DH__ROW("front-app", DH__PLAIN, "sha256", 1, "X-Front-Signature", NULL,
             "X-Front-Request-Timestamp", DH__TS_ANY, "{timestamp}:{body}"),
     .sign_ms = 1},
    {DH__ROW("jira", DH__PLAIN, "sha256", 0, "X-Hub-Signature", "sha256=", NULL, DH__TS_NONE,
             "{body}")},
    {DH__ROW("freshchat", DH__RSA, "sha256", 1, "X-Freshchat-Signature", NULL, NULL, DH__TS_NONE,
             "{body}")},
};

#define DH__NSCHEMES (sizeof(dh__schemes) / sizeof(dh__schemes[0]))
#define DH__SIG_MAX 2048 /* longest signature header looked at */
#define DH__SIGN_TS_MAX 253402300799LL /* 9999-12-31T23:59:59Z */

struct dh_sig_keys {
    const struct dh_sig_scheme *s;
    struct dh_sig_scheme own; /* the generic hmac's row, from its spec */
    char *own_str[5];
    struct dh_hmac_key **keys; /* for s */
    struct dh_hmac_key **alt_keys; /* for s->alt */
    EVP_PKEY **pkeys;          /* DH__RSA */
    size_t n;
    uint64_t tolerance_ms;
    char *base_url;
};

const struct dh_sig_scheme *dh_sig_find(const char *name)
{
    for (size_t i = 0; i < DH__NSCHEMES; i++)
        if (strcmp(dh__schemes[i].name, name) == 0)
            return &dh__schemes[i];
    return NULL;
}

void dh_sig_names(char *out, size_t outlen)
{
    dh_join_names(out, outlen, dh__schemes, DH__NSCHEMES, sizeof(dh__schemes[0]),
                  offsetof(struct dh_sig_scheme, name));
}

int dh_sig_uses_public_key(const struct dh_sig_scheme *s)
{
    return s->fmt == DH__RSA;
}

/* PEM from an environment variable often arrives with literal "\n". */
static char *dh__pem_text(const char *in)
{
    char *out = dh_malloc(strlen(in) + 1), *o = out;
    for (const char *p = in; *p; p++) {
        if (p[0] == '\\' && p[1] == 'n') {
            *o++ = '\n';
            p++;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

static int dh__key_bytes(const struct dh_sig_scheme *s, const char *secret, unsigned char *buf,
                         size_t bufmax, size_t *len)
{
    if (s->whsec) {
        const char *b64 = strncmp(secret, "whsec_", 6) == 0 ? secret + 6 : secret;
        int n = dh_base64_decode(b64, strlen(b64), buf, bufmax);
        if (n <= 0)
            return -EINVAL;
        *len = (size_t)n;
        return 0;
    }
    *len = strlen(secret);
    if (*len > bufmax)
        return -EINVAL;
    memcpy(buf, secret, *len);
    return 0;
}

int dh_sig_keys_new(const struct dh_sig_scheme *s, const struct dh_sig_hmac_spec *spec,
                    char *const *secrets, size_t nsecrets, uint64_t tolerance_ms,
                    const char *base_url, struct dh_sig_keys **out, char *err, size_t errlen)
{
    struct dh_sig_keys *k = dh_new(struct dh_sig_keys);
    const struct dh_sig_scheme *alt;
    unsigned char kb[1024];
    size_t kl;
    int rc = 0;

    *out = NULL;
    if (s == NULL) {
        /* The generic hmac: a row made from the config. */
        k->own = dh__schemes[0];
        k->own.header = k->own_str[0] = dh_strdup(spec->header);
        k->own.alg = k->own_str[1] = dh_strdup(spec->algorithm);
        k->own.prefix = k->own_str[2] = dh_strdup(spec->prefix);
        k->own.tmpl = k->own_str[3] = dh_strdup(spec->signed_template ? spec->signed_template
                                                                       : "{body}");
        k->own.ts_header = k->own_str[4] = dh_strdup(spec->timestamp_header);
        k->own.ts = spec->timestamp_header ? DH__TS_ANY : DH__TS_NONE;
        k->own.base64 = spec->base64;
        s = &k->own;
    }
    k->s = s;
    k->tolerance_ms = tolerance_ms ? tolerance_ms : DH_SIG_DEFAULT_TOLERANCE_MS;
    k->base_url = dh_strdup(base_url);
    alt = s->alt ? dh_sig_find(s->alt) : NULL;
    k->keys = dh_calloc(nsecrets ? nsecrets : 1, sizeof(*k->keys));
    k->alt_keys = dh_calloc(nsecrets ? nsecrets : 1, sizeof(*k->alt_keys));
    k->pkeys = dh_calloc(nsecrets ? nsecrets : 1, sizeof(*k->pkeys));
    for (size_t i = 0; i < nsecrets; i++, k->n++) {
        if (s->fmt == DH__RSA) {
            char *pem = dh__pem_text(secrets[i]);
            BIO *bio = BIO_new_mem_buf(pem, -1);
            k->pkeys[i] = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
            BIO_free(bio);
            free(pem);
            if (k->pkeys[i] == NULL) {
                snprintf(err, errlen, "public key %zu is not a PEM public key", i + 1);
                rc = -EINVAL;
                goto out;
            }
            continue;
        }
        if (dh__key_bytes(s, secrets[i], kb, sizeof(kb), &kl) < 0) {
            snprintf(err, errlen, "secret %zu is not in the %s form (whsec_ and base64)", i + 1,
                     s->name);
            rc = -EINVAL;
            goto out;
        }
        rc = dh_hmac_key_new(s->alg, kb, kl, &k->keys[i]);
        if (rc == 0 && alt != NULL)
            rc = dh_hmac_key_new(alt->alg, kb, kl, &k->alt_keys[i]);
        if (rc < 0) {
            snprintf(err, errlen, "cannot prepare secret %zu (%s)", i + 1, s->alg);
            goto out;
        }
    }
out:
    if (rc < 0) {
        dh_sig_keys_free(k);
        k = NULL;
    }
    *out = k;
    return rc;
}

void dh_sig_keys_free(struct dh_sig_keys *k)
{
    if (k == NULL)
        return;
    for (size_t i = 0; i < k->n; i++) {
        dh_hmac_key_free(k->keys[i]);
        dh_hmac_key_free(k->alt_keys[i]);
        EVP_PKEY_free(k->pkeys[i]);
    }
    free(k->keys);
    free(k->alt_keys);
    free(k->pkeys);
    for (size_t i = 0; i < 5; i++)
        free(k->own_str[i]);
    free(k->base_url);
    free(k);
}

/* ---- timestamps ---- */

static int dh__parse_ts(enum dh__ts kind, const char *v, int64_t *ms)
{
    if (kind == DH__TS_ISO) {
        struct tm tm = {0};
        const char *end = strptime(v, "%Y-%m-%dT%H:%M:%S", &tm);
        if (end == NULL)
            return -EINVAL;
        if (*end == '.')
            for (end++; isdigit((unsigned char)*end); end++)
                ;
        if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0 && *end != '\0')
            return -EINVAL;
        *ms = (int64_t)timegm(&tm) * 1000;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < 0 || n > INT64_MAX / 1000)
        return -EINVAL;
    if (kind == DH__TS_MS || (kind == DH__TS_ANY && n > 100000000000LL))
        *ms = n;
    else
        *ms = n * 1000;
    return 0;
}

static int dh__check_ts(const struct dh_sig_keys *k, enum dh__ts kind, const char *name,
                        const char *v, int64_t now_ms, char *why, size_t whylen)
{
    int64_t ms, diff;
    if (v == NULL || *v == '\0') {
        snprintf(why, whylen, "the %s header is missing", name);
        return DH_E_MISSING_SIGNATURE;
    }
    if (dh__parse_ts(kind, v, &ms) < 0) {
        snprintf(why, whylen, "the %s header is not a valid timestamp", name);
        return DH_E_INVALID_SIGNATURE;
    }
    diff = now_ms > ms ? now_ms - ms : ms - now_ms;
    if ((uint64_t)diff > k->tolerance_ms) {
        snprintf(why, whylen, "the %s header is %lld s %s now; at most %llu s are allowed", name,
                 (long long)(diff / 1000), now_ms > ms ? "before" : "after",
                 (unsigned long long)(k->tolerance_ms / 1000));
        return DH_E_TIMESTAMP;
    }
    return 0;
}

/* ---- the signed message ---- */

struct dh__msg {
    struct dh_iov parts[16];
    int n;
    char url[2048];
};

/* HubSpot v3 signs the URL with these escapes decoded. */
static void dh__hubspot_url(const char *base, const char *uri, char *out, size_t outlen)
{
    static const char *const from[] = {"%3A", "%2F", "%3F", "%40", "%21", "%24",
                                       "%27", "%28", "%29", "%2A", "%2C", "%3B"};
    static const char to[] = ":/?@!$'()*,;";
    size_t o = (size_t)snprintf(out, outlen, "%s", base ? base : "");
    if (o >= outlen)
        o = outlen - 1;
    while (base && o > 0 && out[o - 1] == '/' && uri[0] == '/')
        out[--o] = '\0';
    for (const char *p = uri; *p && o + 1 < outlen; p++) {
        char c = *p;
        if (*p == '%' && p[1] && p[2]) {
            for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
                if (strncasecmp(p, from[i], 3) == 0) {
                    c = to[i];
                    p += 2;
                    break;
                }
            }
        }
        out[o++] = c;
    }
    out[o] = '\0';
}

static void dh__build_msg(const struct dh_sig_scheme *s, const char *body, size_t len,
                          const char *ts, const char *id, const char *method, const char *url,
                          struct dh__msg *m)
{
    const char *t = s->tmpl;
    m->n = 0;
    while (*t && m->n < 15) {
        const char *open = strchr(t, '{');
        const char *close = open ? strchr(open, '}') : NULL;
        if (open == NULL || close == NULL) {
            m->parts[m->n++] = (struct dh_iov){t, strlen(t)};
            break;
        }
        if (open > t)
            m->parts[m->n++] = (struct dh_iov){t, (size_t)(open - t)};
        size_t nl = (size_t)(close - open - 1);
        const char *v = NULL;
        size_t vl = 0;
        if (nl == 4 && strncmp(open + 1, "body", 4) == 0) {
            v = body;
            vl = len;
        } else if (nl == 9 && strncmp(open + 1, "timestamp", 9) == 0) {
            v = ts;
        } else if (nl == 2 && strncmp(open + 1, "id", 2) == 0) {
            v = id;
        } else if (nl == 6 && strncmp(open + 1, "method", 6) == 0) {
            v = method;
        } else if (nl == 3 && strncmp(open + 1, "url", 3) == 0) {
            v = url;
        }
        if (v != NULL && vl == 0 && v != body)
            vl = strlen(v);
        if (v != NULL)
            m->parts[m->n++] = (struct dh_iov){v, vl};
        t = close + 1;
    }
}

/* Compares got (glen bytes) with the MAC of m under every key; returns the
 * first matching index or -1. Every key is tried, matching or not. */
static int dh__match(struct dh_hmac_key *const *keys, size_t n, const struct dh__msg *m,
                     const unsigned char *got, int glen)
{
    unsigned char want[DH_HMAC_MAX];
    int found = -1;
    for (size_t i = 0; i < n; i++) {
        int wl = dh_hmac_compute(keys[i], m->parts, m->n, want);
        if (wl > 0 && glen >= 0 && dh_ct_equal(want, (size_t)wl, got, (size_t)glen) &&
            found < 0)
            found = (int)i;
    }
    return found;
}

static int dh__decode(int base64, const char *v, size_t len, unsigned char *out, size_t outmax)
{
    if (len > DH__SIG_MAX)
        return -EINVAL;
    return base64 ? dh_base64_decode(v, len, out, outmax) : dh_hex_decode(v, len, out, outmax);
}

static const char *dh__trim(const char *v, size_t *len)
{
    while (*v == ' ' || *v == '\t')
        v++;
    *len = strlen(v);
    while (*len > 0 && isspace((unsigned char)v[*len - 1]))
        (*len)--;
    return v;
}

static int dh__verify_plain(const struct dh_sig_keys *k, const struct dh_sig_scheme *s,
                            struct dh_hmac_key *const *keys, const struct dh_sig_request *rq,
                            int *matched, char *why, size_t whylen)
{
    const char *v = rq->get_header(rq->ctx, s->header);
    const char *ts = NULL;
    unsigned char got[DH_HMAC_MAX];
    char algprefix[16];
    struct dh__msg m;
    size_t vlen;
    int glen, rc;

    if (v == NULL || *v == '\0') {
        snprintf(why, whylen, "the %s header is missing", s->header);
        return DH_E_MISSING_SIGNATURE;
    }
    if (s->ts_header != NULL) {
        ts = rq->get_header(rq->ctx, s->ts_header);
        rc = dh__check_ts(k, s->ts, s->ts_header, ts, rq->now_ms, why, whylen);
        if (rc < 0)
            return rc;
    }
    v = dh__trim(v, &vlen);
    snprintf(algprefix, sizeof(algprefix), "%s=", s->alg);
    if (s->prefix != NULL && strncmp(v, s->prefix, strlen(s->prefix)) == 0) {
        vlen -= strlen(s->prefix);
        v += strlen(s->prefix);
    } else if (strncasecmp(v, algprefix, strlen(algprefix)) == 0) {
        vlen -= strlen(algprefix);
        v += strlen(algprefix);
    }
    glen = dh__decode(s->base64, v, vlen, got, sizeof(got));
    if (glen < 0) {
        snprintf(why, whylen, "the %s header is not %s", s->header, s->base64 ? "base64" : "hex");
        return DH_E_INVALID_SIGNATURE;
    }
    if (strstr(s->tmpl, "{url}") != NULL) {
        const char *host = rq->get_header(rq->ctx, "Host");
        char base[600];
        if (k->base_url != NULL)
            snprintf(base, sizeof(base), "%s", k->base_url);
        else
            snprintf(base, sizeof(base), "https://%s", host ? host : "");
        dh__hubspot_url(base, rq->uri ? rq->uri : "/", m.url, sizeof(m.url));
    }
    dh__build_msg(s, rq->body, rq->len, ts, NULL, rq->method, m.url, &m);
    *matched = dh__match(keys, k->n, &m, got, glen);
    if (*matched < 0) {
        snprintf(why, whylen, "the %s header does not match the request for any active secret",
                 s->header);
        return DH_E_INVALID_SIGNATURE;
    }
    return 0;
}

static int dh__verify_standard(const struct dh_sig_keys *k, const struct dh_sig_request *rq,
                               int *matched, char *why, size_t whylen)
{
    /* Standard Webhooks headers, or the same under svix-* names. */
    const struct dh_sig_scheme *s = k->s;
    const char *sig = rq->get_header(rq->ctx, "webhook-signature");
    const char *names[3] = {"webhook-id", "webhook-timestamp", "webhook-signature"};
    const char *id, *ts;
    struct dh__msg m;
    int rc;

    if (sig == NULL) {
        sig = rq->get_header(rq->ctx, "svix-signature");
        if (sig != NULL) {
            names[0] = "svix-id";
            names[1] = "svix-timestamp";
            names[2] = "svix-signature";
        }
    }
    if (sig == NULL || *sig == '\0') {
        snprintf(why, whylen, "the webhook-signature header is missing");
        return DH_E_MISSING_SIGNATURE;
    }
    id = rq->get_header(rq->ctx, names[0]);
    if (id == NULL || *id == '\0') {
        snprintf(why, whylen, "the %s header is missing", names[0]);
        return DH_E_MISSING_SIGNATURE;
    }
    ts = rq->get_header(rq->ctx, names[1]);
    rc = dh__check_ts(k, DH__TS_S, names[1], ts, rq->now_ms, why, whylen);
    if (rc < 0)
        return rc;
    dh__build_msg(s, rq->body, rq->len, ts, id, NULL, NULL, &m);
    *matched = -1;
    /* "v1,<b64> v1,<b64> v1a,<…>": try every v1 entry. */
    for (const char *p = sig; *p && *matched < 0;) {
        unsigned char got[DH_HMAC_MAX];
        size_t n;
        while (*p == ' ')
            p++;
        n = strcspn(p, " ");
        if (n > 3 && strncmp(p, "v1,", 3) == 0) {
            int glen = dh__decode(1, p + 3, n - 3, got, sizeof(got));
            if (glen > 0)
                *matched = dh__match(k->keys, k->n, &m, got, glen);
        }
        p += n;
    }
    if (*matched < 0) {
        snprintf(why, whylen, "no v1 signature in %s matches for any active secret", names[2]);
        return DH_E_INVALID_SIGNATURE;
    }
    return 0;
}

static int dh__verify_stripe(const struct dh_sig_keys *k, const struct dh_sig_request *rq,
                             int *matched, char *why, size_t whylen)
{
    const char *v = rq->get_header(rq->ctx, k->s->header);
    char ts[32] = "";
    struct dh__msg m;
    int rc;

    if (v == NULL || *v == '\0') {
        snprintf(why, whylen, "the Stripe-Signature header is missing");
        return DH_E_MISSING_SIGNATURE;
    }
    for (const char *p = v; *p;) {
        size_t n = strcspn(p, ",");
        if (n > 2 && strncmp(p, "t=", 2) == 0 && n - 2 < sizeof(ts)) {
            memcpy(ts, p + 2, n - 2);
            ts[n - 2] = '\0';
        }
        p += n;
        if (*p == ',')
            p++;
    }
    if (ts[0] == '\0') {
        snprintf(why, whylen, "the Stripe-Signature header has no t= timestamp");
        return DH_E_INVALID_SIGNATURE;
    }
    rc = dh__check_ts(k, DH__TS_S, "Stripe-Signature t=", ts, rq->now_ms, why, whylen);
    if (rc < 0)
        return rc;
    dh__build_msg(k->s, rq->body, rq->len, ts, NULL, NULL, NULL, &m);
    *matched = -1;
    for (const char *p = v; *p && *matched < 0;) {
        size_t n = strcspn(p, ",");
        unsigned char got[DH_HMAC_MAX];
        while (n > 0 && *p == ' ') {
            p++;
            n--;
        }
        if (n > 3 && strncmp(p, "v1=", 3) == 0) {
            int glen = dh__decode(0, p + 3, n - 3, got, sizeof(got));
            if (glen > 0)
                *matched = dh__match(k->keys, k->n, &m, got, glen);
        }
        p += n;
        if (*p == ',')
            p++;
    }
    if (*matched < 0) {
        snprintf(why, whylen, "no v1 signature in Stripe-Signature matches for any active secret");
        return DH_E_INVALID_SIGNATURE;
    }
    return 0;
}

static int dh__verify_rsa(const struct dh_sig_keys *k, const struct dh_sig_request *rq,
                          int *matched, char *why, size_t whylen)
{
    const char *v = rq->get_header(rq->ctx, k->s->header);
    unsigned char sig[1024];
    size_t vlen;
    int slen;

    if (v == NULL || *v == '\0') {
        snprintf(why, whylen, "the %s header is missing", k->s->header);
        return DH_E_MISSING_SIGNATURE;
    }
    v = dh__trim(v, &vlen);
    slen = dh__decode(1, v, vlen, sig, sizeof(sig));
    if (slen <= 0) {
        snprintf(why, whylen, "the %s header is not base64", k->s->header);
        return DH_E_INVALID_SIGNATURE;
    }
    *matched = -1;
    for (size_t i = 0; i < k->n && *matched < 0; i++) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k->pkeys[i]) == 1 &&
            EVP_DigestVerify(ctx, sig, (size_t)slen, (const unsigned char *)rq->body, rq->len) ==
                1)
            *matched = (int)i;
        EVP_MD_CTX_free(ctx);
    }
    if (*matched < 0) {
        snprintf(why, whylen, "the %s header does not verify with any configured public key",
                 k->s->header);
        return DH_E_INVALID_SIGNATURE;
    }
    return 0;
}

int dh_sig_verify(const struct dh_sig_keys *k, const struct dh_sig_request *rq, int *matched,
                  char *why, size_t whylen)
{
    const struct dh_sig_scheme *s = k->s;

    *matched = -1;
    switch (s->fmt) {
    case DH__STANDARD:
        return dh__verify_standard(k, rq, matched, why, whylen);
    case DH__STRIPE:
        return dh__verify_stripe(k, rq, matched, why, whylen);
    case DH__RSA:
        return dh__verify_rsa(k, rq, matched, why, whylen);
    case DH__PLAIN:
        break;
    }
    if (s->alt != NULL) {
        /* Front: application webhooks add a timestamp and sign with SHA-256;
         * rule webhooks sign the body alone with SHA-1. */
        const struct dh_sig_scheme *alt = dh_sig_find(s->alt);
        if (alt != NULL && rq->get_header(rq->ctx, alt->ts_header) != NULL)
            return dh__verify_plain(k, alt, k->alt_keys, rq, matched, why, whylen);
    }
    return dh__verify_plain(k, s, k->keys, rq, matched, why, whylen);
}

/* ---- signing ---- */

static void dh__add(struct dh_sig_headers *h, const char *name, const char *value)
{
    if (h->n >= DH_SIG_MAX_HEADERS)
        return;
    snprintf(h->name[h->n], sizeof(h->name[0]), "%s", name);
    snprintf(h->value[h->n], sizeof(h->value[0]), "%s", value);
    h->n++;
}

static void dh__encode(int base64, const unsigned char *mac, int n, char *out)
{
    if (base64)
        dh_base64_encode(mac, (size_t)n, out);
    else
        dh_hex_encode(mac, (size_t)n, out);
}

int dh_sig_sign(const struct dh_sig_keys *k, const char *body, size_t len, int64_t timestamp_s,
                const char *method, const char *url, const char *id,
                struct dh_sig_headers *out, char *err, size_t errlen)
{
    const struct dh_sig_scheme *s = k->s;
    unsigned char mac[DH_HMAC_MAX];
    char enc[200], ts[40], idbuf[64], val[512];
    struct dh__msg m;
    int n;

    memset(out, 0, sizeof(*out));
    if (s->fmt == DH__RSA) {
        snprintf(err, errlen, "%s signs with the platform's private key; deskhook only verifies",
                 s->name);
        return -EINVAL;
    }
    if (k->n == 0) {
        snprintf(err, errlen, "no secret to sign with");
        return -EINVAL;
    }
    if (timestamp_s <= 0)
        timestamp_s = dh_clock_wall_ms() / 1000;
    if (timestamp_s > DH__SIGN_TS_MAX) {
        snprintf(err, errlen, "the timestamp is past the year 9999");
        return -EINVAL;
    }
    if (s->ts == DH__TS_MS || s->sign_ms)
        snprintf(ts, sizeof(ts), "%lld", (long long)timestamp_s * 1000);
    else if (s->ts == DH__TS_ISO) {
        time_t t = (time_t)timestamp_s;
        struct tm tm;
        if (gmtime_r(&t, &tm) == NULL) {
            snprintf(err, errlen, "the timestamp cannot be written as a date");
            return -EINVAL;
        }
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    } else
        snprintf(ts, sizeof(ts), "%lld", (long long)timestamp_s);
    if (id == NULL) {
        unsigned char r[12];
        char hex[25];
        dh_crypto_random(r, sizeof(r));
        dh_hex_encode(r, sizeof(r), hex);
        snprintf(idbuf, sizeof(idbuf), "msg_%s", hex);
        id = idbuf;
    }
    if (strstr(s->tmpl, "{url}") != NULL) {
        if (url == NULL) {
            snprintf(err, errlen, "%s signs the full URL: give --url", s->name);
            return -EINVAL;
        }
        dh__hubspot_url("", url, m.url, sizeof(m.url));
    }
    dh__build_msg(s, body, len, ts, id, method ? method : "POST", m.url, &m);
    n = dh_hmac_compute(k->keys[0], m.parts, m.n, mac);
    if (n < 0) {
        snprintf(err, errlen, "cannot compute the signature");
        return n;
    }
    dh__encode(s->base64, mac, n, enc);
    switch (s->fmt) {
    case DH__STANDARD:
        dh__add(out, s->id_header, id);
        dh__add(out, s->ts_header, ts);
        snprintf(val, sizeof(val), "v1,%s", enc);
        dh__add(out, s->header, val);
        break;
    case DH__STRIPE:
        snprintf(val, sizeof(val), "t=%s,v1=%s", ts, enc);
        dh__add(out, s->header, val);
        break;
    default:
        snprintf(val, sizeof(val), "%s%s", s->prefix ? s->prefix : "", enc);
        dh__add(out, s->header, val);
        if (s->ts_header != NULL)
            dh__add(out, s->ts_header, ts);
        break;
    }
    return 0;
}

void dh_sig_new_secret(const struct dh_sig_scheme *s, char *out, size_t outlen)
{
    unsigned char r[32];
    char enc[80];

    dh_crypto_random(r, sizeof(r));
    if (s != NULL && s->whsec) {
        dh_base64_encode(r, 24, enc);
        snprintf(out, outlen, "whsec_%s", enc);
    } else if (s != NULL && s->fmt == DH__STRIPE) {
        dh_hex_encode(r, 16, enc);
        snprintf(out, outlen, "whsec_%s", enc);
    } else {
        dh_hex_encode(r, sizeof(r), enc);
        snprintf(out, outlen, "%s", enc);
    }
}
