/*
 * signature.h: the signature schemes of the platforms deskhook receives
 * from, for verifying (ingest) and for producing (`deskhook sign`/`send`).
 *
 * Most schemes are one HMAC over a message built from a template
 * ("{timestamp}.{body}", "{method}{url}{body}{timestamp}") and carried in
 * one header with an optional prefix; they are rows of one table
 * (signature.c). Standard Webhooks and Stripe carry several signatures in
 * one header, and Freshchat signs with RSA; those have their own parsers.
 * Everything here is immutable after dh_sig_keys_new() and may be used from
 * any thread.
 */
#ifndef DH_SIGNATURE_H
#define DH_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

#define DH_SIG_DEFAULT_TOLERANCE_MS (5 * 60 * 1000)
#define DH_SIG_MAX_HEADERS 4

struct dh_sig_scheme;
struct dh_sig_keys;

/* Returns the scheme called name ("github", "standard-webhooks", …) or NULL. */
const struct dh_sig_scheme *dh_sig_find(const char *name);
/* Writes the names of every scheme, comma separated. */
void dh_sig_names(char *out, size_t outlen);
/* Returns 1 when the scheme takes a public key (public_key) instead of
 * secrets. */
int dh_sig_uses_public_key(const struct dh_sig_scheme *s);

/* The generic hmac scheme's settings. */
struct dh_sig_hmac_spec {
    const char *header;
    const char *algorithm; /* sha1 | sha256 | sha512 */
    int base64;
    const char *prefix;           /* NULL: none (an "<algorithm>=" prefix is accepted anyway) */
    const char *signed_template;  /* NULL: "{body}" */
    const char *timestamp_header; /* NULL: none */
};

/* Prepares keys for scheme s (or for the generic hmac when s is NULL and
 * spec is given) from secrets (or PEM public keys for Freshchat). Returns 0
 * or -EINVAL with the reason in err. */
int dh_sig_keys_new(const struct dh_sig_scheme *s, const struct dh_sig_hmac_spec *spec,
                    char *const *secrets, size_t nsecrets, uint64_t tolerance_ms,
                    const char *base_url, struct dh_sig_keys **out, char *err, size_t errlen);
void dh_sig_keys_free(struct dh_sig_keys *k);

/* What a check needs to know about the request. */
struct dh_sig_request {
    const char *(*get_header)(void *ctx, const char *name);
    void *ctx;
    const char *method; /* for HubSpot */
    const char *uri;    /* the raw request URI as sent (path and query) */
    const char *body;
    size_t len;
    int64_t now_ms;
};

/* Verifies a request. Returns 0 and the index of the key that matched in
 * *matched, or DH_E_MISSING_SIGNATURE, DH_E_INVALID_SIGNATURE or
 * DH_E_TIMESTAMP with a reason in why that never contains an expected
 * value. */
int dh_sig_verify(const struct dh_sig_keys *k, const struct dh_sig_request *rq, int *matched,
                  char *why, size_t whylen);

/* The headers a sender would add. */
struct dh_sig_headers {
    int n;
    char name[DH_SIG_MAX_HEADERS][64];
    char value[DH_SIG_MAX_HEADERS][512];
};

/* Signs body as the platform would, with the first key; timestamp_s (0:
 * now), url (HubSpot: the full URL), method and id (Standard Webhooks: the
 * message id, generated when NULL) as needed. Returns 0 or -EINVAL (e.g.
 * the scheme verifies with a public key and cannot sign). */
int dh_sig_sign(const struct dh_sig_keys *k, const char *body, size_t len, int64_t timestamp_s,
                const char *method, const char *url, const char *id,
                struct dh_sig_headers *out, char *err, size_t errlen);

/* Writes a new random secret in the form the scheme's platform uses
 * (whsec_… for Standard Webhooks and Stripe, hex otherwise). */
void dh_sig_new_secret(const struct dh_sig_scheme *s, char *out, size_t outlen);

#endif
