/*
 * backoff.c: the retry schedule (backoff.h).
 */
#include "delivery/backoff.h"

const uint64_t dh_backoff_default_schedule[] = {
    0, 5000, 5 * 60000, 30 * 60000, 2 * 3600000ull, 5 * 3600000ull, 10 * 3600000ull,
    10 * 3600000ull,
};
const size_t dh_backoff_default_len =
    sizeof(dh_backoff_default_schedule) / sizeof(dh_backoff_default_schedule[0]);

uint64_t dh_backoff_delay(const uint64_t *schedule, size_t n, unsigned attempt, double jitter,
                          uint64_t retry_after_ms)
{
    size_t i = attempt == 0 ? 0 : attempt - 1;
    uint64_t base, delay;

    if (n == 0)
        return 0;
    if (i >= n)
        i = n - 1; /* the last interval repeats */
    base = schedule[i];
    if (jitter < 0)
        jitter = 0;
    if (jitter >= 1)
        jitter = 0.999999;
    delay = base + (uint64_t)((double)base * 0.2 * jitter);
    if (retry_after_ms > DH_BACKOFF_RETRY_AFTER_MAX_MS)
        retry_after_ms = DH_BACKOFF_RETRY_AFTER_MAX_MS;
    return retry_after_ms > delay ? retry_after_ms : delay;
}
