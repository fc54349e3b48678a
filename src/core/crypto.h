/*
 * crypto.h: HMAC, SHA-256, encodings, constant-time compare and randomness.
 *
 * HMAC keys are prepared once (the MAC is fetched once per process and a keyed
 * context kept as a template); each computation duplicates the template, so
 * concurrent callers never share mutable state. All functions may be called
 * from any thread once dh_crypto_init() has run.
 */
#ifndef DH_CRYPTO_H
#define DH_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define DH_HMAC_MAX 64 /* bytes of the largest digest (sha512) */

struct dh_hmac_key;

/* One piece of the signed message. */
struct dh_iov {
    const void *base;
    size_t len;
};

/* Fetches the algorithms; call once at start before any thread uses crypto. */
int dh_crypto_init(void);

/* Prepares a key for algorithm "sha1", "sha256" or "sha512". Returns 0 or
 * -EINVAL (unknown algorithm). The key bytes are copied; *out is owned by the
 * caller and released with dh_hmac_key_free. */
int dh_hmac_key_new(const char *alg, const void *key, size_t keylen, struct dh_hmac_key **out);
void dh_hmac_key_free(struct dh_hmac_key *k);
/* Computes the HMAC of the concatenated parts into out (DH_HMAC_MAX bytes);
 * returns the digest length or a negative code. */
int dh_hmac_compute(const struct dh_hmac_key *k, const struct dh_iov *parts, int nparts,
                    unsigned char out[DH_HMAC_MAX]);

/* SHA-256 of the concatenated parts into out. */
void dh_sha256(const struct dh_iov *parts, int nparts, unsigned char out[32]);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void dh_hex_encode(const unsigned char *in, size_t n, char *out);
/* Decodes hex (either case) into out (outmax bytes); returns the byte count
 * or -EINVAL. */
int dh_hex_decode(const char *in, size_t len, unsigned char *out, size_t outmax);
/* Standard base64 with padding into out (4*ceil(n/3)+1 bytes). */
void dh_base64_encode(const unsigned char *in, size_t n, char *out);
/* Decodes standard or URL-safe base64, padding optional; returns the byte
 * count or -EINVAL. */
int dh_base64_decode(const char *in, size_t len, unsigned char *out, size_t outmax);

/* Constant-time equality of two equal-length byte strings: 1 when equal.
 * Unequal lengths return 0 without comparing (lengths are not secret). */
int dh_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Fills buf with n cryptographically random bytes; aborts if the system has
 * none to give (nothing sensible can continue). */
void dh_crypto_random(void *buf, size_t n);

#endif
