/*
 * backoff.h: when a failed delivery is tried again.
 *
 * Attempt n (the n-th retry) waits the schedule's n-th interval, the last
 * interval repeating when max_attempts is longer than the schedule, plus up
 * to 20% jitter so that many deliveries failing together do not come back
 * together. A Retry-After the receiver sent wins when it is longer, up to a
 * day. Pure functions, so the policy has its own tests.
 */
#ifndef DH_BACKOFF_H
#define DH_BACKOFF_H

#include <stddef.h>
#include <stdint.h>

#define DH_BACKOFF_RETRY_AFTER_MAX_MS (24ull * 3600 * 1000)

/* The default schedule: 0s, 5s, 5m, 30m, 2h, 5h, 10h, 10h. */
extern const uint64_t dh_backoff_default_schedule[];
extern const size_t dh_backoff_default_len;

/* Returns the delay in ms before retry number attempt (1 = the first
 * retry) under schedule (n intervals, n >= 1). jitter is a number in [0, 1)
 * (random in production, fixed in tests); retry_after_ms is the receiver's
 * Retry-After (0: none). */
uint64_t dh_backoff_delay(const uint64_t *schedule, size_t n, unsigned attempt, double jitter,
                          uint64_t retry_after_ms);

#endif
