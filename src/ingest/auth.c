/*
 * auth.c: a source's authentication: allowlist, signature schemes and
 * tokens (auth.h). The signature algorithms live in signature.c.
 */
#include "ingest/auth.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/cidr.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/error.h"
#include "ingest/signature.h"

struct dh__tokens {
    char *header; /* NULL: Authorization */
    unsigned char (*digests)[32];
    size_t n;
};

struct dh_auth {
    int none;
    struct dh_cidr *allow;
    size_t nallow;
    struct dh_cidr *proxies;
    size_t nproxies;
    struct dh_sig_keys **sigs;
    size_t nsigs;
    struct dh__tokens *bearer, *basic, *token;
};

static struct dh__tokens *dh__tokens_new(const char *header, char *const *vals, size_t n)
{
    struct dh__tokens *t = dh_new(struct dh__tokens);
    t->header = dh_strdup(header);
    t->digests = dh_calloc(n ? n : 1, 32);
    for (size_t i = 0; i < n; i++) {
        struct dh_iov iov = {vals[i], strlen(vals[i])};
        dh_sha256(&iov, 1, t->digests[i]);
    }
    t->n = n;
    return t;
}

static void dh__tokens_free(struct dh__tokens *t)
{
    if (t == NULL)
        return;
    free(t->header);
    free(t->digests);
    free(t);
}

static struct dh_cidr *dh__ranges(char *const *txt, size_t n)
{
    struct dh_cidr *r = dh_calloc(n ? n : 1, sizeof(*r));
    for (size_t i = 0; i < n; i++)
        dh_cidr_parse(txt[i], &r[i]); /* validated by the config loader */
    return r;
}

int dh_auth_build(const struct dh_config_auth *ca, struct dh_auth **out, char *err, size_t errlen)
{
    struct dh_auth *a = dh_new(struct dh_auth);
    int rc = 0;

    a->none = ca->none;
    a->sigs = dh_calloc(ca->nsigs + 2, sizeof(*a->sigs));
    if (ca->hmac != NULL) {
        const struct dh_config_hmac *h = ca->hmac;
        struct dh_sig_hmac_spec spec = {h->header, h->algorithm, strcmp(h->encoding, "base64") == 0,
                                        h->prefix, h->signed_template, h->timestamp_header};
        rc = dh_sig_keys_new(NULL, &spec, h->secrets, h->nsecrets, h->tolerance_ms, NULL,
                             &a->sigs[a->nsigs], err, errlen);
        if (rc < 0)
            goto out;
        a->nsigs++;
    }
    for (size_t i = 0; i < ca->nsigs; i++) {
        const struct dh_config_sig *g = &ca->sigs[i];
        const struct dh_sig_scheme *s = dh_sig_find(g->scheme);
        char names[400];
        if (s == NULL || strcmp(g->scheme, "hmac") == 0) {
            dh_sig_names(names, sizeof(names));
            snprintf(err, errlen,
                     "auth scheme \"%s\" is not known (signature schemes: %s; also bearer, "
                     "basic, header, allow_ips)",
                     g->scheme, names);
            rc = DH_E_CONFIG;
            goto out;
        }
        rc = dh_sig_keys_new(s, NULL, g->secrets, g->nsecrets, g->tolerance_ms, g->base_url,
                             &a->sigs[a->nsigs], err, errlen);
        if (rc < 0) {
            char inner[200];
            snprintf(inner, sizeof(inner), "%s", err);
            snprintf(err, errlen, "auth.%s: %s", g->scheme, inner);
            goto out;
        }
        a->nsigs++;
    }
    if (ca->bearer != NULL)
        a->bearer = dh__tokens_new(NULL, ca->bearer->tokens, ca->bearer->ntokens);
    if (ca->header != NULL)
        a->token = dh__tokens_new(ca->header->name, ca->header->tokens, ca->header->ntokens);
    if (ca->nbasic > 0)
        a->basic = dh__tokens_new(NULL, ca->basic_users, ca->nbasic);
    if (ca->ips != NULL) {
        a->allow = dh__ranges(ca->ips->cidrs, ca->ips->ncidrs);
        a->nallow = ca->ips->ncidrs;
        a->proxies = dh__ranges(ca->ips->proxies, ca->ips->nproxies);
        a->nproxies = ca->ips->nproxies;
    }
out:
    if (rc < 0) {
        dh_auth_free(a);
        a = NULL;
    }
    *out = a;
    return rc;
}

void dh_auth_free(struct dh_auth *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->nsigs; i++)
        dh_sig_keys_free(a->sigs[i]);
    free(a->sigs);
    free(a->allow);
    free(a->proxies);
    dh__tokens_free(a->bearer);
    dh__tokens_free(a->basic);
    dh__tokens_free(a->token);
    free(a);
}

/* Returns the index of the token whose digest matches value, or -1. Every
 * token is compared, so timing does not tell which one matched. */
static int dh__match_token(const struct dh__tokens *t, const char *value, size_t len)
{
    unsigned char d[32];
    struct dh_iov iov = {value, len};
    int found = -1;

    dh_sha256(&iov, 1, d);
    for (size_t i = 0; i < t->n; i++)
        if (dh_ct_equal(d, 32, t->digests[i], 32) && found < 0)
            found = (int)i;
    return found;
}

static int dh__check_authz(const struct dh__tokens *t, const char *scheme, int is_basic,
                           const struct dh_auth_request *rq, int *matched, char *why,
                           size_t whylen)
{
    const char *v = rq->get_header(rq->hctx, "Authorization");
    size_t sl = strlen(scheme);
    unsigned char dec[512];
    int idx;

    if (v == NULL || strncasecmp(v, scheme, sl) != 0 || v[sl] != ' ') {
        snprintf(why, whylen, "an Authorization: %s header is required", scheme);
        return DH_E_INVALID_TOKEN;
    }
    v += sl;
    while (*v == ' ')
        v++;
    if (is_basic) { /* compare the decoded user:password */
        int n = dh_base64_decode(v, strlen(v), dec, sizeof(dec));
        idx = n < 0 ? -1 : dh__match_token(t, (const char *)dec, (size_t)n);
    } else {
        idx = dh__match_token(t, v, strlen(v));
    }
    if (idx < 0) {
        snprintf(why, whylen, "the %s credentials are not valid", scheme);
        return DH_E_INVALID_TOKEN;
    }
    if (*matched < 0)
        *matched = idx;
    return 0;
}

/* The client's address: the connected peer, or, when the peer is a trusted
 * proxy, the right-most X-Forwarded-For entry that is not one. */
static int dh__client_allowed(const struct dh_auth *a, const struct dh_auth_request *rq,
                              char *client, size_t clientlen)
{
    const char *xff;
    char hop[64];

    dh_cidr_format_sa(rq->peer, client, clientlen);
    if (a->nproxies == 0 || !dh_cidr_match_sa(a->proxies, a->nproxies, rq->peer))
        return dh_cidr_match_sa(a->allow, a->nallow, rq->peer);
    xff = rq->get_header(rq->hctx, "X-Forwarded-For");
    if (xff == NULL)
        return dh_cidr_match_sa(a->allow, a->nallow, rq->peer);
    for (size_t end = strlen(xff); end > 0;) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        const char *p = xff + start;
        size_t n = end - start;
        while (n > 0 && isspace((unsigned char)*p)) {
            p++;
            n--;
        }
        while (n > 0 && isspace((unsigned char)p[n - 1]))
            n--;
        if (n == 0 || n >= sizeof(hop))
            return 0;
        memcpy(hop, p, n);
        hop[n] = '\0';
        snprintf(client, clientlen, "%s", hop);
        if (!dh_cidr_match_str(a->proxies, a->nproxies, hop))
            return dh_cidr_match_str(a->allow, a->nallow, hop);
        end = start > 0 ? start - 1 : 0;
    }
    return 0;
}

int dh_auth_check(const struct dh_auth *a, const struct dh_auth_request *rq, int *matched,
                  char *why, size_t whylen)
{
    int rc;

    *matched = -1;
    why[0] = '\0';
    if (a->none)
        return 0;
    if (a->allow != NULL) {
        char client[64];
        if (!dh__client_allowed(a, rq, client, sizeof(client))) {
            snprintf(why, whylen, "the address %s is not allowed for this source",
                     client[0] ? client : "(unknown)");
            return DH_E_IP_NOT_ALLOWED;
        }
    }
    for (size_t i = 0; i < a->nsigs; i++) {
        struct dh_sig_request sr = {rq->get_header, rq->hctx, rq->method, rq->uri,
                                    rq->body, rq->len, dh_clock_wall_ms()};
        int m = -1;
        rc = dh_sig_verify(a->sigs[i], &sr, &m, why, whylen);
        if (rc < 0)
            return rc;
        if (*matched < 0)
            *matched = m;
    }
    if (a->bearer != NULL) {
        rc = dh__check_authz(a->bearer, "Bearer", 0, rq, matched, why, whylen);
        if (rc < 0)
            return rc;
    }
    if (a->basic != NULL) {
        rc = dh__check_authz(a->basic, "Basic", 1, rq, matched, why, whylen);
        if (rc < 0)
            return rc;
    }
    if (a->token != NULL) {
        const char *v = rq->get_header(rq->hctx, a->token->header);
        int idx = v ? dh__match_token(a->token, v, strlen(v)) : -1;
        if (idx < 0) {
            snprintf(why, whylen, "the %s header is missing or not valid", a->token->header);
            return DH_E_INVALID_TOKEN;
        }
        if (*matched < 0)
            *matched = idx;
    }
    return 0;
}
