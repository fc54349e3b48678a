/*
 * test_backoff.c: the retry schedule follows the documented intervals,
 * jitter and Retry-After.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "delivery/backoff.h"

static void test_backoff_schedule(void **state)
{
    const uint64_t *s = dh_backoff_default_schedule;
    size_t n = dh_backoff_default_len;
    (void)state;
    assert_int_equal(n, 8);
    assert_int_equal(dh_backoff_delay(s, n, 1, 0, 0), 0);
    assert_int_equal(dh_backoff_delay(s, n, 2, 0, 0), 5000);
    assert_int_equal(dh_backoff_delay(s, n, 3, 0, 0), 300000);
    assert_int_equal(dh_backoff_delay(s, n, 5, 0, 0), 7200000);
    assert_int_equal(dh_backoff_delay(s, n, 8, 0, 0), 36000000);
    /* Past the schedule, the last interval repeats. */
    assert_int_equal(dh_backoff_delay(s, n, 20, 0, 0), 36000000);
    /* Jitter adds at most 20%, never less than the interval. */
    assert_int_equal(dh_backoff_delay(s, n, 2, 0.5, 0), 5500);
    assert_true(dh_backoff_delay(s, n, 2, 0.99999, 0) <= 6000);
    assert_int_equal(dh_backoff_delay(s, n, 2, -1, 0), 5000);
    /* A longer Retry-After wins, a shorter one does not, a day at most. */
    assert_int_equal(dh_backoff_delay(s, n, 2, 0, 60000), 60000);
    assert_int_equal(dh_backoff_delay(s, n, 3, 0, 1000), 300000);
    assert_int_equal(dh_backoff_delay(s, n, 2, 0, 10ull * 24 * 3600 * 1000),
                     DH_BACKOFF_RETRY_AFTER_MAX_MS);
    /* Short schedules for tests. */
    static const uint64_t quick[] = {0, 100};
    assert_int_equal(dh_backoff_delay(quick, 2, 7, 0, 0), 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
