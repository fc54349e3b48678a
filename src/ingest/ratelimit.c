/*
 * ratelimit.c: token bucket (ratelimit.h). The refill is a pure function of
 * elapsed time, so tests drive it with their own clock.
 */
#include "ingest/ratelimit.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

void dh_ratelimit_init(struct dh_ratelimit *rl, uint64_t count, uint64_t period_ms)
{
    pthread_mutex_init(&rl->lock, NULL);
    rl->capacity = (double)count;
    rl->tokens = (double)count;
    rl->per_ms = (double)count / (double)(period_ms ? period_ms : 1);
    rl->last_ms = -1;
}

void dh_ratelimit_destroy(struct dh_ratelimit *rl)
{
    pthread_mutex_destroy(&rl->lock);
}

/* The bucket arithmetic, shared by both kinds. */
static int dh__take(double *tokens, int64_t *last_ms, double capacity, double per_ms,
                    int64_t now_ms, int64_t *retry_after_s)
{
    if (*last_ms >= 0 && now_ms > *last_ms) {
        *tokens += (double)(now_ms - *last_ms) * per_ms;
        if (*tokens > capacity)
            *tokens = capacity;
    }
    if (*last_ms < 0 || now_ms > *last_ms)
        *last_ms = now_ms;
    if (*tokens >= 1.0) {
        *tokens -= 1.0;
        return 0;
    }
    double wait_ms = (1.0 - *tokens) / per_ms;
    int64_t s = (int64_t)((wait_ms + 999.0) / 1000.0);
    *retry_after_s = s < 1 ? 1 : s;
    return DH_E_RATE_LIMITED;
}

int dh_ratelimit_take(struct dh_ratelimit *rl, int64_t now_ms, int64_t *retry_after_s)
{
    int rc;
    pthread_mutex_lock(&rl->lock);
    rc = dh__take(&rl->tokens, &rl->last_ms, rl->capacity, rl->per_ms, now_ms, retry_after_s);
    pthread_mutex_unlock(&rl->lock);
    return rc;
}

struct dh__kslot {
    char *key; /* NULL: free */
    double tokens;
    int64_t last_ms;
};

struct dh_ratelimit_keyed {
    pthread_mutex_t lock;
    double capacity;
    double per_ms;
    size_t cap; /* slots, a power of two, twice max_keys */
    size_t n, max_keys;
    struct dh__kslot *slots; /* under lock */
};

struct dh_ratelimit_keyed *dh_ratelimit_keyed_new(uint64_t count, uint64_t period_ms,
                                                  size_t max_keys)
{
    struct dh_ratelimit_keyed *k = dh_new(struct dh_ratelimit_keyed);
    pthread_mutex_init(&k->lock, NULL);
    k->capacity = (double)count;
    k->per_ms = (double)count / (double)(period_ms ? period_ms : 1);
    k->max_keys = max_keys;
    k->cap = 16;
    while (k->cap < 2 * max_keys)
        k->cap *= 2;
    k->slots = dh_calloc(k->cap, sizeof(*k->slots));
    return k;
}

void dh_ratelimit_keyed_free(struct dh_ratelimit_keyed *k)
{
    if (k == NULL)
        return;
    for (size_t i = 0; i < k->cap; i++)
        free(k->slots[i].key);
    free(k->slots);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

static size_t dh__khash(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Forgets every key whose bucket is full again at now_ms; rebuilds the
 * table since open addressing cannot delete in place. */
static void dh__kprune(struct dh_ratelimit_keyed *k, int64_t now_ms)
{
    struct dh__kslot *old = k->slots;
    k->slots = dh_calloc(k->cap, sizeof(*k->slots));
    k->n = 0;
    for (size_t i = 0; i < k->cap; i++) {
        struct dh__kslot *o = &old[i];
        if (o->key == NULL)
            continue;
        double t = o->tokens + (double)(now_ms - o->last_ms) * k->per_ms;
        if (t >= k->capacity || k->n >= k->max_keys) {
            free(o->key);
            continue;
        }
        size_t h = dh__khash(o->key) & (k->cap - 1);
        while (k->slots[h].key != NULL)
            h = (h + 1) & (k->cap - 1);
        k->slots[h] = *o;
        k->n++;
    }
    free(old);
}

int dh_ratelimit_keyed_take(struct dh_ratelimit_keyed *k, const char *key, int64_t now_ms,
                            int64_t *retry_after_s)
{
    size_t h;
    int rc;

    pthread_mutex_lock(&k->lock);
    h = dh__khash(key) & (k->cap - 1);
    while (k->slots[h].key != NULL && strcmp(k->slots[h].key, key) != 0)
        h = (h + 1) & (k->cap - 1);
    if (k->slots[h].key == NULL) {
        if (k->n >= k->max_keys) {
            dh__kprune(k, now_ms);
            h = dh__khash(key) & (k->cap - 1);
            while (k->slots[h].key != NULL)
                h = (h + 1) & (k->cap - 1);
        }
        k->slots[h].key = dh_strdup(key);
        k->slots[h].tokens = k->capacity;
        k->slots[h].last_ms = -1;
        k->n++;
    }
    rc = dh__take(&k->slots[h].tokens, &k->slots[h].last_ms, k->capacity, k->per_ms, now_ms,
                  retry_after_s);
    pthread_mutex_unlock(&k->lock);
    return rc;
}
