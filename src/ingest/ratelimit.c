/*
 * ratelimit.c: token bucket (ratelimit.h). The refill is a pure function of
 * elapsed time, so tests drive it with their own clock.
 */
#include "ingest/ratelimit.h"

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

int dh_ratelimit_take(struct dh_ratelimit *rl, int64_t now_ms, int64_t *retry_after_s)
{
    int rc = 0;

    pthread_mutex_lock(&rl->lock);
    if (rl->last_ms >= 0 && now_ms > rl->last_ms) {
        rl->tokens += (double)(now_ms - rl->last_ms) * rl->per_ms;
        if (rl->tokens > rl->capacity)
            rl->tokens = rl->capacity;
    }
    if (rl->last_ms < 0 || now_ms > rl->last_ms)
        rl->last_ms = now_ms;
    if (rl->tokens >= 1.0) {
        rl->tokens -= 1.0;
    } else {
        double wait_ms = (1.0 - rl->tokens) / rl->per_ms;
        int64_t s = (int64_t)((wait_ms + 999.0) / 1000.0);
        *retry_after_s = s < 1 ? 1 : s;
        rc = DH_E_RATE_LIMITED;
    }
    pthread_mutex_unlock(&rl->lock);
    return rc;
}
