/*
 * auth.h: proving an inbound webhook genuine.
 *
 * A source's auth is built once from its config (keys prepared, tokens
 * hashed, ranges parsed) and then only read, by any request thread. Every
 * scheme listed must pass: first the address allowlist, then each signature
 * scheme, then the tokens. Comparisons are constant-time, and tokens are
 * compared as SHA-256 digests so not even their length leaks.
 */
#ifndef DH_AUTH_H
#define DH_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "config/config.h"

struct dh_auth;

/* Returns a header's value (NULL when absent); ctx is the caller's. */
typedef const char *(*dh_header_fn)(void *ctx, const char *name);

/* What a check looks at. */
struct dh_auth_request {
    dh_header_fn get_header;
    void *hctx;
    const char *method;
    const char *uri;            /* raw request URI, for schemes that sign the URL */
    const struct sockaddr *peer; /* the connected client, for allow_ips */
    const char *body;
    size_t len;
};

/* Builds the runtime form of a source's auth. Returns 0, or a negative code
 * with the reason in err (an unknown scheme, a key that does not parse). */
int dh_auth_build(const struct dh_config_auth *ca, struct dh_auth **out, char *err, size_t errlen);
void dh_auth_free(struct dh_auth *a);

/* Checks a request. Returns 0, or DH_E_IP_NOT_ALLOWED, DH_E_MISSING_SIGNATURE,
 * DH_E_INVALID_SIGNATURE, DH_E_TIMESTAMP or DH_E_INVALID_TOKEN, with a short
 * reason (never an expected value) in why. *matched is the index of the
 * secret or token that matched (the first signature scheme's when there is
 * one), or -1. */
int dh_auth_check(const struct dh_auth *a, const struct dh_auth_request *rq, int *matched,
                  char *why, size_t whylen);

#endif
