/*
 * ratelimit.h: a token bucket ("100/60s": 100 requests, refilled evenly over
 * 60 seconds). Shared by the request threads of one source; takes a short
 * lock.
 */
#ifndef DH_RATELIMIT_H
#define DH_RATELIMIT_H

#include <pthread.h>
#include <stdint.h>

struct dh_ratelimit {
    pthread_mutex_t lock;
    double tokens;   /* under lock */
    int64_t last_ms; /* under lock */
    double capacity;
    double per_ms;   /* refill rate */
};

/* Initialises a full bucket of count tokens refilled over period_ms. */
void dh_ratelimit_init(struct dh_ratelimit *rl, uint64_t count, uint64_t period_ms);
void dh_ratelimit_destroy(struct dh_ratelimit *rl);
/* Takes one token at now_ms. Returns 0, or DH_E_RATE_LIMITED and sets
 * *retry_after_s to the whole seconds until a token is back (at least 1). */
int dh_ratelimit_take(struct dh_ratelimit *rl, int64_t now_ms, int64_t *retry_after_s);

/* Buckets per key (a field's value, e.g. the platform), all with the same
 * rate. At most max_keys are kept; when the table is full, keys whose bucket
 * has refilled are forgotten first (they behave as new keys anyway). */
struct dh_ratelimit_keyed;

struct dh_ratelimit_keyed *dh_ratelimit_keyed_new(uint64_t count, uint64_t period_ms,
                                                  size_t max_keys);
void dh_ratelimit_keyed_free(struct dh_ratelimit_keyed *k);
/* As dh_ratelimit_take, for the bucket of key. */
int dh_ratelimit_keyed_take(struct dh_ratelimit_keyed *k, const char *key, int64_t now_ms,
                            int64_t *retry_after_s);

#endif
