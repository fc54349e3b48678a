/*
 * auth.h: proving an inbound webhook genuine.
 *
 * A source's auth is built once from its config (keys prepared, tokens
 * hashed) and then only read, by any request thread. Every scheme listed
 * must pass; comparisons are constant-time, and tokens are compared as
 * SHA-256 digests so not even their length leaks.
 */
#ifndef DH_AUTH_H
#define DH_AUTH_H

#include <stddef.h>

#include "config/config.h"

struct dh_auth;

/* Returns a header's value (NULL when absent); ctx is the caller's. */
typedef const char *(*dh_header_fn)(void *ctx, const char *name);

/* Builds the runtime form of a source's auth. Returns 0 or a negative code
 * with the reason in err. */
int dh_auth_build(const struct dh_config_auth *ca, struct dh_auth **out, char *err, size_t errlen);
void dh_auth_free(struct dh_auth *a);

/* Checks a request. Returns 0, or DH_E_MISSING_SIGNATURE, DH_E_INVALID_SIGNATURE or
 * DH_E_INVALID_TOKEN, with a short reason (never an expected value) in why.
 * *matched is the index of the secret or token that matched (the signature's
 * when there is one), or -1. */
int dh_auth_check(const struct dh_auth *a, dh_header_fn get, void *ctx, const char *body,
                  size_t len, int *matched, char *why, size_t whylen);

#endif
