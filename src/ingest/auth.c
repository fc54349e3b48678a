/*
 * auth.c: hmac, bearer, basic and header-token schemes (auth.h).
 */
#include "ingest/auth.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/crypto.h"
#include "core/error.h"

#define DH__SIG_MAX 1024 /* longest signature header we look at */

struct dh__tokens {
    char *header; /* NULL: Authorization */
    unsigned char (*digests)[32];
    size_t n;
};

struct dh_auth {
    int none;
    /* hmac */
    char *hmac_header;
    char *hmac_prefix;
    char *hmac_alg;
    int hmac_base64;
    struct dh_hmac_key **keys;
    size_t nkeys;
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

int dh_auth_build(const struct dh_config_auth *ca, struct dh_auth **out, char *err, size_t errlen)
{
    struct dh_auth *a = dh_new(struct dh_auth);

    a->none = ca->none;
    if (ca->hmac != NULL) {
        const struct dh_config_hmac *h = ca->hmac;
        a->hmac_header = dh_strdup(h->header);
        a->hmac_prefix = dh_strdup(h->prefix);
        a->hmac_alg = dh_strdup(h->algorithm);
        a->hmac_base64 = strcmp(h->encoding, "base64") == 0;
        a->keys = dh_calloc(h->nsecrets ? h->nsecrets : 1, sizeof(*a->keys));
        for (size_t i = 0; i < h->nsecrets; i++) {
            int rc = dh_hmac_key_new(h->algorithm, h->secrets[i], strlen(h->secrets[i]),
                                     &a->keys[i]);
            if (rc < 0) {
                snprintf(err, errlen, "hmac: cannot prepare key %zu (%s)", i + 1, h->algorithm);
                a->nkeys = i;
                dh_auth_free(a);
                return rc;
            }
        }
        a->nkeys = h->nsecrets;
    }
    if (ca->bearer != NULL)
        a->bearer = dh__tokens_new(NULL, ca->bearer->tokens, ca->bearer->ntokens);
    if (ca->header != NULL)
        a->token = dh__tokens_new(ca->header->name, ca->header->tokens, ca->header->ntokens);
    if (ca->nbasic > 0)
        a->basic = dh__tokens_new(NULL, ca->basic_users, ca->nbasic);
    *out = a;
    return 0;
}

void dh_auth_free(struct dh_auth *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->nkeys; i++)
        dh_hmac_key_free(a->keys[i]);
    free(a->keys);
    free(a->hmac_header);
    free(a->hmac_prefix);
    free(a->hmac_alg);
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

static const char *dh__skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static int dh__check_hmac(const struct dh_auth *a, dh_header_fn get, void *ctx, const char *body,
                          size_t len, int *matched, char *why, size_t whylen)
{
    const char *v = get(ctx, a->hmac_header);
    unsigned char want[DH_HMAC_MAX], got[DH_HMAC_MAX];
    size_t vlen;
    int glen, found = -1;
    char algprefix[16];

    if (v == NULL || *dh__skip_ws(v) == '\0') {
        snprintf(why, whylen, "the %s header is missing", a->hmac_header);
        return DH_E_MISSING_SIGNATURE;
    }
    v = dh__skip_ws(v);
    /* The configured prefix, or the algorithm's name as GitHub writes it. */
    snprintf(algprefix, sizeof(algprefix), "%s=", a->hmac_alg);
    if (a->hmac_prefix != NULL && strncmp(v, a->hmac_prefix, strlen(a->hmac_prefix)) == 0)
        v += strlen(a->hmac_prefix);
    else if (strncasecmp(v, algprefix, strlen(algprefix)) == 0)
        v += strlen(algprefix);
    vlen = strlen(v);
    while (vlen > 0 && isspace((unsigned char)v[vlen - 1]))
        vlen--;
    if (vlen > DH__SIG_MAX)
        glen = -1;
    else if (a->hmac_base64)
        glen = dh_base64_decode(v, vlen, got, sizeof(got));
    else
        glen = dh_hex_decode(v, vlen, got, sizeof(got));
    if (glen < 0) {
        snprintf(why, whylen, "the %s header is not %s", a->hmac_header,
                 a->hmac_base64 ? "base64" : "hex");
        return DH_E_INVALID_SIGNATURE;
    }
    for (size_t i = 0; i < a->nkeys; i++) {
        struct dh_iov iov = {body, len};
        int wlen = dh_hmac_compute(a->keys[i], &iov, 1, want);
        if (wlen > 0 && dh_ct_equal(want, (size_t)wlen, got, (size_t)glen) && found < 0)
            found = (int)i;
    }
    if (found < 0) {
        snprintf(why, whylen, "the %s header does not match the body for any active secret",
                 a->hmac_header);
        return DH_E_INVALID_SIGNATURE;
    }
    *matched = found;
    return 0;
}

static int dh__check_authz(const struct dh__tokens *t, const char *scheme, int is_basic,
                           dh_header_fn get, void *ctx, int *matched, char *why, size_t whylen)
{
    const char *v = get(ctx, "Authorization");
    size_t sl = strlen(scheme);
    unsigned char dec[512];
    int idx;

    if (v == NULL || strncasecmp(v, scheme, sl) != 0 || v[sl] != ' ') {
        snprintf(why, whylen, "an Authorization: %s header is required", scheme);
        return DH_E_INVALID_TOKEN;
    }
    v = dh__skip_ws(v + sl);
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

int dh_auth_check(const struct dh_auth *a, dh_header_fn get, void *ctx, const char *body,
                  size_t len, int *matched, char *why, size_t whylen)
{
    int rc;

    *matched = -1;
    why[0] = '\0';
    if (a->none)
        return 0;
    if (a->keys != NULL) {
        rc = dh__check_hmac(a, get, ctx, body, len, matched, why, whylen);
        if (rc < 0)
            return rc;
    }
    if (a->bearer != NULL) {
        rc = dh__check_authz(a->bearer, "Bearer", 0, get, ctx, matched, why, whylen);
        if (rc < 0)
            return rc;
    }
    if (a->basic != NULL) {
        rc = dh__check_authz(a->basic, "Basic", 1, get, ctx, matched, why, whylen);
        if (rc < 0)
            return rc;
    }
    if (a->token != NULL) {
        const char *v = get(ctx, a->token->header);
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
