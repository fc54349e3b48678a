/*
 * crypto.c: OpenSSL 3 backed helpers (crypto.h). Uses the EVP_MAC API; the
 * deprecated HMAC_CTX calls are avoided.
 */
#include "core/crypto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/alloc.h"

struct dh_hmac_key {
    EVP_MAC_CTX *tmpl; /* keyed, initialised; only ever duplicated */
};

static EVP_MAC *dh__hmac;
static EVP_MD *dh__sha256;

int dh_crypto_init(void)
{
    if (dh__hmac == NULL)
        dh__hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (dh__sha256 == NULL)
        dh__sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    return (dh__hmac != NULL && dh__sha256 != NULL) ? 0 : -ENOSYS;
}

int dh_hmac_key_new(const char *alg, const void *key, size_t keylen, struct dh_hmac_key **out)
{
    const char *digest;
    OSSL_PARAM params[2];
    EVP_MAC_CTX *ctx = NULL;
    int rc = -EINVAL;

    *out = NULL;
    if (strcmp(alg, "sha1") == 0)
        digest = "SHA1";
    else if (strcmp(alg, "sha256") == 0)
        digest = "SHA256";
    else if (strcmp(alg, "sha512") == 0)
        digest = "SHA512";
    else
        goto out;
    if (dh_crypto_init() < 0) {
        rc = -ENOSYS;
        goto out;
    }
    ctx = EVP_MAC_CTX_new(dh__hmac);
    if (ctx == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    /* An empty key is legal HMAC; OpenSSL wants a non-NULL pointer. */
    if (!EVP_MAC_init(ctx, keylen ? key : (const void *)"", keylen, params)) {
        rc = -EINVAL;
        goto out;
    }
    *out = dh_new(struct dh_hmac_key);
    (*out)->tmpl = ctx;
    ctx = NULL;
    rc = 0;
out:
    EVP_MAC_CTX_free(ctx);
    return rc;
}

void dh_hmac_key_free(struct dh_hmac_key *k)
{
    if (k == NULL)
        return;
    EVP_MAC_CTX_free(k->tmpl);
    free(k);
}

int dh_hmac_compute(const struct dh_hmac_key *k, const struct dh_iov *parts, int nparts,
                    unsigned char out[DH_HMAC_MAX])
{
    size_t outlen = 0;
    int rc = -EIO;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(k->tmpl);

    if (ctx == NULL)
        return -ENOMEM;
    for (int i = 0; i < nparts; i++)
        if (!EVP_MAC_update(ctx, parts[i].base, parts[i].len))
            goto out;
    if (!EVP_MAC_final(ctx, out, &outlen, DH_HMAC_MAX))
        goto out;
    rc = (int)outlen;
out:
    EVP_MAC_CTX_free(ctx);
    return rc;
}

void dh_sha256(const struct dh_iov *parts, int nparts, unsigned char out[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;

    if (ctx == NULL || dh_crypto_init() < 0 || !EVP_DigestInit_ex(ctx, dh__sha256, NULL))
        abort();
    for (int i = 0; i < nparts; i++)
        EVP_DigestUpdate(ctx, parts[i].base, parts[i].len);
    EVP_DigestFinal_ex(ctx, out, &n);
    EVP_MD_CTX_free(ctx);
}

void dh_hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int dh__hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int dh_hex_decode(const char *in, size_t len, unsigned char *out, size_t outmax)
{
    if (len % 2 != 0 || len / 2 > outmax)
        return -EINVAL;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = dh__hexval(in[2 * i]), lo = dh__hexval(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return (int)(len / 2);
}

void dh_base64_encode(const unsigned char *in, size_t n, char *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    out[o] = '\0';
}

static int dh__b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

int dh_base64_decode(const char *in, size_t len, unsigned char *out, size_t outmax)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;

    while (len > 0 && in[len - 1] == '=')
        len--;
    for (size_t i = 0; i < len; i++) {
        int v = dh__b64val(in[i]);
        if (v < 0)
            return -EINVAL;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= outmax)
                return -EINVAL;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    if (bits >= 6)
        return -EINVAL; /* a lone trailing character */
    return (int)o;
}

int dh_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return 0;
    return CRYPTO_memcmp(a, b, alen) == 0;
}

void dh_crypto_random(void *buf, size_t n)
{
    if (RAND_bytes(buf, (int)n) != 1)
        abort();
}
