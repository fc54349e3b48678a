/*
 * test_ratelimit.c: the token bucket behind rate_limit, driven by its own
 * clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "ingest/ratelimit.h"

#define T0 INT64_C(1700000000000)

static void test_burst_then_429(void **state)
{
    struct dh_ratelimit rl;
    int64_t retry = -1;
    (void)state;

    dh_ratelimit_init(&rl, 3, 60000); /* rate_limit: 3/60s */
    for (int i = 0; i < 3; i++)
        assert_int_equal(dh_ratelimit_take(&rl, T0, &retry), 0);
    assert_int_equal(dh_ratelimit_take(&rl, T0, &retry), DH_E_RATE_LIMITED);
    /* One token comes back every 20 s. */
    assert_int_equal(retry, 20);
    /* Later refusals count down. */
    assert_int_equal(dh_ratelimit_take(&rl, T0 + 5000, &retry), DH_E_RATE_LIMITED);
    assert_int_equal(retry, 15);
    assert_int_equal(dh_ratelimit_take(&rl, T0 + 19500, &retry), DH_E_RATE_LIMITED);
    assert_int_equal(retry, 1);
    dh_ratelimit_destroy(&rl);
}

static void test_retry_after_is_honest(void **state)
{
    struct dh_ratelimit rl;
    int64_t retry = -1;
    (void)state;

    /* A client that waits exactly retry_after seconds gets in. */
    dh_ratelimit_init(&rl, 3, 60000);
    for (int i = 0; i < 3; i++)
        assert_int_equal(dh_ratelimit_take(&rl, T0, &retry), 0);
    assert_int_equal(dh_ratelimit_take(&rl, T0, &retry), DH_E_RATE_LIMITED);
    assert_int_equal(dh_ratelimit_take(&rl, T0 + retry * 1000, &retry), 0);
    dh_ratelimit_destroy(&rl);

    /* With a period that does not divide evenly, retry_after rounds up. */
    dh_ratelimit_init(&rl, 7, 10000);
    for (int i = 0; i < 7; i++)
        assert_int_equal(dh_ratelimit_take(&rl, T0, &retry), 0);
    assert_int_equal(dh_ratelimit_take(&rl, T0, &retry), DH_E_RATE_LIMITED);
    assert_int_equal(retry, 2); /* 10/7 s = 1.43 s */
    assert_int_equal(dh_ratelimit_take(&rl, T0 + 1000, &retry), DH_E_RATE_LIMITED);
    assert_int_equal(retry, 1);
    assert_int_equal(dh_ratelimit_take(&rl, T0 + 1429, &retry), 0);
    dh_ratelimit_destroy(&rl);
}

static void test_refill(void **state)
{
    struct dh_ratelimit rl;
    int64_t retry = -1;
    (void)state;

    dh_ratelimit_init(&rl, 3, 60000);
    for (int i = 0; i < 3; i++)
        assert_int_equal(dh_ratelimit_take(&rl, T0, &retry), 0);
    /* 20 s: one token back, and only one. */
    assert_int_equal(dh_ratelimit_take(&rl, T0 + 20000, &retry), 0);
    assert_int_equal(dh_ratelimit_take(&rl, T0 + 20000, &retry), DH_E_RATE_LIMITED);
    /* 40 s later: two more. */
    assert_int_equal(dh_ratelimit_take(&rl, T0 + 60000, &retry), 0);
    assert_int_equal(dh_ratelimit_take(&rl, T0 + 60000, &retry), 0);
    assert_int_equal(dh_ratelimit_take(&rl, T0 + 60000, &retry), DH_E_RATE_LIMITED);
    dh_ratelimit_destroy(&rl);
}

static void test_never_more_than_capacity(void **state)
{
    struct dh_ratelimit rl;
    int64_t retry = -1;
    int ok = 0;
    (void)state;

    dh_ratelimit_init(&rl, 3, 60000);
    assert_int_equal(dh_ratelimit_take(&rl, T0, &retry), 0);
    /* A day of silence refills to 3, not to 4320. */
    for (int i = 0; i < 10; i++)
        ok += dh_ratelimit_take(&rl, T0 + 86400000, &retry) == 0;
    assert_int_equal(ok, 3);
    dh_ratelimit_destroy(&rl);

    /* A steady client at exactly the rate always gets through; over a
     * minute of one request every 20 s plus the first burst, no more than
     * capacity + refill tokens are handed out. */
    dh_ratelimit_init(&rl, 3, 60000);
    ok = 0;
    for (int64_t t = 0; t <= 60000; t += 100)
        ok += dh_ratelimit_take(&rl, T0 + t, &retry) == 0;
    assert_int_equal(ok, 3 + 3);
    dh_ratelimit_destroy(&rl);
}

static void test_clock_going_back(void **state)
{
    struct dh_ratelimit rl;
    int64_t retry = -1;
    (void)state;

    dh_ratelimit_init(&rl, 2, 1000);
    assert_int_equal(dh_ratelimit_take(&rl, T0, &retry), 0);
    assert_int_equal(dh_ratelimit_take(&rl, T0, &retry), 0);
    /* An earlier time neither refills nor breaks the bucket. */
    assert_int_equal(dh_ratelimit_take(&rl, T0 - 5000, &retry), DH_E_RATE_LIMITED);
    assert_true(retry >= 1);
    assert_int_equal(dh_ratelimit_take(&rl, T0 + 500, &retry), 0);
    dh_ratelimit_destroy(&rl);
}

static void test_keyed_buckets(void **state)
{
    struct dh_ratelimit_keyed *k = dh_ratelimit_keyed_new(2, 60000, 100);
    int64_t retry = -1;
    (void)state;

    /* Each key has its own 2/60s bucket. */
    assert_int_equal(dh_ratelimit_keyed_take(k, "zendesk", T0, &retry), 0);
    assert_int_equal(dh_ratelimit_keyed_take(k, "zendesk", T0, &retry), 0);
    assert_int_equal(dh_ratelimit_keyed_take(k, "zendesk", T0, &retry), DH_E_RATE_LIMITED);
    assert_int_equal(retry, 30);
    assert_int_equal(dh_ratelimit_keyed_take(k, "hubspot", T0, &retry), 0);
    assert_int_equal(dh_ratelimit_keyed_take(k, "", T0, &retry), 0);
    assert_int_equal(dh_ratelimit_keyed_take(k, "hubspot", T0, &retry), 0);
    assert_int_equal(dh_ratelimit_keyed_take(k, "hubspot", T0, &retry), DH_E_RATE_LIMITED);
    /* Keys are compared whole and with case. */
    assert_int_equal(dh_ratelimit_keyed_take(k, "Zendesk", T0, &retry), 0);
    assert_int_equal(dh_ratelimit_keyed_take(k, "zendes", T0, &retry), 0);
    /* Refill per key. */
    assert_int_equal(dh_ratelimit_keyed_take(k, "zendesk", T0 + 30000, &retry), 0);
    assert_int_equal(dh_ratelimit_keyed_take(k, "zendesk", T0 + 30000, &retry),
                     DH_E_RATE_LIMITED);
    dh_ratelimit_keyed_free(k);
    dh_ratelimit_keyed_free(NULL);
}

static void test_keyed_full_table(void **state)
{
    struct dh_ratelimit_keyed *k = dh_ratelimit_keyed_new(1, 60000, 2);
    int64_t retry = -1;
    char key[16];
    (void)state;

    /* "old" was used two minutes ago and is full again; "busy" is empty. */
    assert_int_equal(dh_ratelimit_keyed_take(k, "old", T0 - 120000, &retry), 0);
    assert_int_equal(dh_ratelimit_keyed_take(k, "busy", T0, &retry), 0);
    assert_int_equal(dh_ratelimit_keyed_take(k, "busy", T0, &retry), DH_E_RATE_LIMITED);
    /* A third key fills the table: the refilled one is forgotten, not busy. */
    assert_int_equal(dh_ratelimit_keyed_take(k, "new", T0, &retry), 0);
    assert_int_equal(dh_ratelimit_keyed_take(k, "busy", T0, &retry), DH_E_RATE_LIMITED);
    assert_int_equal(dh_ratelimit_keyed_take(k, "old", T0, &retry), 0);
    /* Many distinct keys never break the table. */
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(dh_ratelimit_keyed_take(k, key, T0 + i, &retry), 0);
    }
    dh_ratelimit_keyed_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_429),
        cmocka_unit_test(test_retry_after_is_honest),
        cmocka_unit_test(test_refill),
        cmocka_unit_test(test_never_more_than_capacity),
        cmocka_unit_test(test_clock_going_back),
        cmocka_unit_test(test_keyed_buckets),
        cmocka_unit_test(test_keyed_full_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
