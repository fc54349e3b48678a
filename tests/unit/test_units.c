/*
 * test_units.c: durations, sizes and rates as users write them in the
 * configuration, and the messages they get when they write them wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>

#include "config/units.h"

#define SENTINEL UINT64_C(0xDEADBEEF)

static uint64_t duration_ok(const char *s)
{
    char err[256] = "";
    uint64_t ms = SENTINEL;

    if (dh_units_parse_duration(s, &ms, err, sizeof(err)) != 0)
        fail_msg("\"%s\" was rejected: %s", s, err);
    return ms;
}

/* Checks that s is rejected with a message containing want, leaving the
 * output alone. */
static void duration_bad(const char *s, const char *want)
{
    char err[256] = "";
    uint64_t ms = SENTINEL;

    assert_int_equal(dh_units_parse_duration(s, &ms, err, sizeof(err)), -EINVAL);
    assert_true(ms == SENTINEL);
    assert_null(strchr(err, '\n'));
    if (strstr(err, want) == NULL)
        fail_msg("message for \"%s\" is \"%s\", wanted \"%s\"", s ? s : "(null)", err, want);
}

static uint64_t size_ok(const char *s)
{
    char err[256] = "";
    uint64_t bytes = SENTINEL;

    if (dh_units_parse_size(s, &bytes, err, sizeof(err)) != 0)
        fail_msg("\"%s\" was rejected: %s", s, err);
    return bytes;
}

static void size_bad(const char *s, const char *want)
{
    char err[256] = "";
    uint64_t bytes = SENTINEL;

    assert_int_equal(dh_units_parse_size(s, &bytes, err, sizeof(err)), -EINVAL);
    assert_true(bytes == SENTINEL);
    assert_null(strchr(err, '\n'));
    if (strstr(err, want) == NULL)
        fail_msg("message for \"%s\" is \"%s\", wanted \"%s\"", s ? s : "(null)", err, want);
}

static void rate_ok(const char *s, uint64_t want_count, uint64_t want_period)
{
    char err[256] = "";
    uint64_t count = SENTINEL, period = SENTINEL;

    if (dh_units_parse_rate(s, &count, &period, err, sizeof(err)) != 0)
        fail_msg("\"%s\" was rejected: %s", s, err);
    assert_true(count == want_count);
    assert_true(period == want_period);
}

static void rate_bad(const char *s, const char *want)
{
    char err[256] = "";
    uint64_t count = SENTINEL, period = SENTINEL;

    assert_int_equal(dh_units_parse_rate(s, &count, &period, err, sizeof(err)), -EINVAL);
    assert_true(count == SENTINEL && period == SENTINEL);
    assert_null(strchr(err, '\n'));
    if (strstr(err, want) == NULL)
        fail_msg("message for \"%s\" is \"%s\", wanted \"%s\"", s ? s : "(null)", err, want);
}

static void format_is(uint64_t ms, const char *want)
{
    char out[DH_UNITS_DURATION_LEN];

    dh_units_format_duration(ms, out, sizeof(out));
    assert_string_equal(out, want);
}

static void test_duration_units(void **state)
{
    (void)state;
    assert_true(duration_ok("250ms") == 250);
    assert_true(duration_ok("5s") == 5000);
    assert_true(duration_ok("5m") == 300000);
    assert_true(duration_ok("2h") == 7200000);
    assert_true(duration_ok("1d") == 86400000);
    assert_true(duration_ok("0s") == 0);
    assert_true(duration_ok("0ms") == 0);
    assert_true(duration_ok("007s") == 7000);
}

static void test_duration_fractions(void **state)
{
    (void)state;
    assert_true(duration_ok("1.5s") == 1500);
    assert_true(duration_ok("0.25s") == 250);
    assert_true(duration_ok("0.5m") == 30000);
    assert_true(duration_ok("1.25h") == 4500000);
    assert_true(duration_ok("0.5d") == 43200000);
    assert_true(duration_ok("1.0ms") == 1);
    assert_true(duration_ok("2.500000000000000000000000s") == 2500);
    assert_true(duration_ok("0.001s") == 1);
    duration_bad("1.5ms", "\"1.5ms\" is not a whole number of milliseconds");
    duration_bad("0.0001s", "not a whole number of milliseconds");
    duration_bad("0.0000000000000000000001s", "not a whole number");
}

static void test_duration_whitespace(void **state)
{
    (void)state;
    assert_true(duration_ok(" 5s") == 5000);
    assert_true(duration_ok("5s\t") == 5000);
    assert_true(duration_ok("  \t5s \r\n") == 5000);
    duration_bad("5 s", "unexpected space in \"5 s\" (write 5s)");
    duration_bad("5\ts", "(write 5s)");
    duration_bad("   ", "empty duration");
}

static void test_duration_messages(void **state)
{
    char err[256];
    uint64_t ms;

    (void)state;
    assert_int_equal(dh_units_parse_duration("60", &ms, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "\"60\" needs a unit (for example 60s)");
    assert_int_equal(dh_units_parse_duration("5x", &ms, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "unknown unit \"x\" in \"5x\" (use ms, s, m, h or d)");
}

static void test_duration_errors(void **state)
{
    (void)state;
    duration_bad("1.5", "\"1.5\" needs a unit (for example 1.5s)");
    duration_bad("", "empty duration");
    duration_bad(NULL, "empty duration");
    duration_bad("s", "\"s\" is not a duration");
    duration_bad("ms", "is not a duration");
    duration_bad("abc", "is not a duration (for example 250ms, 5s, 5m, 2h or 1d)");
    duration_bad("-5s", "\"-5s\" is negative");
    duration_bad("-0s", "is negative");
    duration_bad("+5s", "is not a duration");
    duration_bad(".5s", "is not a duration");
    duration_bad("5.s", "is not a duration");
    duration_bad("5sec", "unknown unit \"sec\"");
    duration_bad("5min", "unknown unit \"min\"");
    duration_bad("5w", "unknown unit \"w\"");
    duration_bad("1e3ms", "unknown unit \"e3ms\"");
    duration_bad("5s5", "unknown unit \"s5\"");
    duration_bad("5S", "units are case-sensitive: did you mean s?");
    duration_bad("5MS", "did you mean ms?");
    duration_bad("1D", "did you mean d?");
}

static void test_duration_overflow(void **state)
{
    (void)state;
    assert_true(duration_ok("18446744073709551615ms") == UINT64_MAX);
    assert_true(duration_ok("213503982334d") == UINT64_C(213503982334) * 86400000);
    duration_bad("99999999999999999999d", "\"99999999999999999999d\" is too large");
    duration_bad("18446744073709551616ms", "is too large");
    duration_bad("213503982335d", "is too large");
    duration_bad("213503982334.99d", "is too large");
    duration_bad("99999999999999999999999999999999999999999999ms", "is too large");
}

static void test_error_buffer(void **state)
{
    char err[8];
    char big[400];
    uint64_t ms = 0;

    (void)state;
    /* No buffer at all. */
    assert_int_equal(dh_units_parse_duration("60", &ms, NULL, 0), -EINVAL);
    /* A small buffer is cut and still terminated. */
    memset(err, 'x', sizeof(err));
    assert_int_equal(dh_units_parse_duration("60", &ms, err, sizeof(err)), -EINVAL);
    assert_int_equal(strlen(err), sizeof(err) - 1);
    assert_int_equal(dh_units_parse_size("1", &ms, err, 1), -EINVAL);
    assert_string_equal(err, "");
    /* Long or multi-line input is quoted short and on one line. */
    memset(big, '7', sizeof(big) - 2);
    big[sizeof(big) - 2] = 'q';
    big[sizeof(big) - 1] = '\0';
    duration_bad(big, "...");
    duration_bad("5x\ny", "unknown unit \"x?y\"");
}

static void test_size_units(void **state)
{
    (void)state;
    assert_true(size_ok("512B") == 512);
    assert_true(size_ok("0B") == 0);
    assert_true(size_ok("10KB") == 10000);
    assert_true(size_ok("10KiB") == 10240);
    assert_true(size_ok("1MB") == 1000000);
    assert_true(size_ok("1MiB") == 1048576);
    assert_true(size_ok("1GB") == 1000000000);
    assert_true(size_ok("1GiB") == 1073741824);
    assert_true(size_ok("2TB") == UINT64_C(2000000000000));
    assert_true(size_ok("2TiB") == UINT64_C(2) << 40);
    assert_true(size_ok("1.5KiB") == 1536);
    assert_true(size_ok("0.5MB") == 500000);
    assert_true(size_ok(" 64KiB ") == 65536);
    assert_true(size_ok("16777215TiB") == UINT64_C(16777215) << 40);
}

static void test_size_errors(void **state)
{
    (void)state;
    size_bad("512", "\"512\" needs a unit (for example 512MB)");
    size_bad("", "empty size");
    size_bad(NULL, "empty size");
    size_bad("10kb", "unknown unit \"kb\" in \"10kb\" (units are case-sensitive: did you mean KB?)");
    size_bad("10kib", "did you mean KiB?");
    size_bad("10mb", "did you mean MB?");
    size_bad("10b", "did you mean B?");
    size_bad("10K", "unknown unit \"K\" in \"10K\" (use B, KB, KiB, MB, MiB, GB, GiB, TB or TiB)");
    size_bad("16EiB", "unknown unit \"EiB\"");
    size_bad("-1B", "\"-1B\" is negative");
    size_bad("0.5B", "\"0.5B\" is not a whole number of bytes");
    size_bad("1.0001KB", "not a whole number of bytes");
    size_bad("10 MB", "unexpected space in \"10 MB\" (write 10MB)");
    size_bad("MB", "\"MB\" is not a size");
    size_bad("99999999999999999999B", "is too large");
    size_bad("17179869184GiB", "is too large");
    size_bad("16777216TiB", "is too large");
}

static void test_rate(void **state)
{
    (void)state;
    rate_ok("100/60s", 100, 60000);
    rate_ok("100/1m", 100, 60000);
    rate_ok("10/s", 10, 1000);
    rate_ok("5/250ms", 5, 250);
    rate_ok("1/d", 1, 86400000);
    rate_ok("3/1.5s", 3, 1500);
    rate_ok(" 100 / 1m ", 100, 60000);
    rate_ok("18446744073709551615/ms", UINT64_MAX, 1);
}

static void test_rate_errors(void **state)
{
    (void)state;
    rate_bad("100", "\"100\" needs a period (for example 100/1m)");
    rate_bad("", "empty rate");
    rate_bad(NULL, "empty rate");
    rate_bad("/1m", "needs a count");
    rate_bad("100/", "needs a period after '/' (for example 100/1m)");
    rate_bad("0/1m", "count in rate \"0/1m\" must be at least 1");
    rate_bad("-1/s", "is negative");
    rate_bad("1.5/s", "count \"1.5\" in rate \"1.5/s\" must be a whole number");
    rate_bad("abc/s", "must be a whole number");
    rate_bad("10s/1m", "must be a whole number");
    rate_bad("99999999999999999999/s", "is too large");
    rate_bad("100/0s", "period of rate \"100/0s\" must be more than 0");
    rate_bad("100/0.0m", "must be more than 0");
    rate_bad("100/60", "period of rate \"100/60\": \"60\" needs a unit (for example 60s)");
    rate_bad("100/x", "unknown unit \"x\"");
    rate_bad("100/S", "did you mean s?");
    rate_bad("100/-1s", "is negative");
    rate_bad("100/1.5ms", "not a whole number of milliseconds");
    rate_bad("100/99999999999999999999d", "is too large");
    rate_bad("1/2/3", "unknown unit \"/3\"");
}

static void test_format_duration(void **state)
{
    (void)state;
    format_is(0, "0s");
    format_is(250, "250ms");
    format_is(1000, "1s");
    format_is(1500, "1500ms");
    format_is(60000, "1m");
    format_is(90000, "90s");
    format_is(3600000, "1h");
    format_is(5400000, "90m");
    format_is(86400000, "1d");
    format_is(90000000, "25h");
    format_is(UINT64_C(7) * 86400000, "7d");
    format_is(UINT64_MAX, "18446744073709551615ms");
}

static void test_format_truncates(void **state)
{
    char out[4] = "zzz";

    (void)state;
    dh_units_format_duration(250, out, 3);
    assert_string_equal(out, "25");
    dh_units_format_duration(250, out, 0);
    assert_string_equal(out, "25");
    dh_units_format_duration(250, NULL, 0);
}

static void test_format_round_trips(void **state)
{
    static const uint64_t values[] = {
        0, 1, 999, 1000, 59999, 60000, 61000, 3599999, 3600000, 86399999, 86400000,
        UINT64_C(213503982334) * 86400000, UINT64_MAX, UINT64_MAX - 1,
    };
    char out[DH_UNITS_DURATION_LEN], err[128];
    uint64_t ms, v;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        dh_units_format_duration(values[i], out, sizeof(out));
        assert_int_equal(dh_units_parse_duration(out, &ms, err, sizeof(err)), 0);
        assert_true(ms == values[i]);
    }
    for (v = 1; v < 100000000; v = v * 3 + 7) {
        dh_units_format_duration(v, out, sizeof(out));
        assert_int_equal(dh_units_parse_duration(out, &ms, err, sizeof(err)), 0);
        assert_true(ms == v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_units),
        cmocka_unit_test(test_duration_fractions),
        cmocka_unit_test(test_duration_whitespace),
        cmocka_unit_test(test_duration_messages),
        cmocka_unit_test(test_duration_errors),
        cmocka_unit_test(test_duration_overflow),
        cmocka_unit_test(test_error_buffer),
        cmocka_unit_test(test_size_units),
        cmocka_unit_test(test_size_errors),
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_rate_errors),
        cmocka_unit_test(test_format_duration),
        cmocka_unit_test(test_format_truncates),
        cmocka_unit_test(test_format_round_trips),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
