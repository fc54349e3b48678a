/*
 * test_buf.c: the bounded buffer that holds client input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"

static void test_append_within_max(void **state)
{
    struct dh_buf b;
    (void)state;

    dh_buf_init(&b, 64);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(dh_buf_append(&b, "hello", 5), 0);
    assert_int_equal(dh_buf_puts(&b, ", world"), 0);
    assert_int_equal(b.len, 12);
    assert_string_equal(b.data, "hello, world");
    /* Appending nothing is fine. */
    assert_int_equal(dh_buf_append(&b, "", 0), 0);
    assert_int_equal(b.len, 12);
    dh_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void test_exactly_max(void **state)
{
    struct dh_buf b;
    char chunk[100];
    (void)state;

    memset(chunk, 'x', sizeof(chunk));
    dh_buf_init(&b, 100);
    assert_int_equal(dh_buf_append(&b, chunk, 60), 0);
    assert_int_equal(dh_buf_append(&b, chunk, 40), 0);
    assert_int_equal(b.len, 100);
    assert_int_equal(b.data[100], '\0');
    assert_int_equal(strlen(b.data), 100);
    /* Full: even one byte more is refused, zero bytes are not. */
    assert_int_equal(dh_buf_append(&b, "y", 1), DH_E_TOO_LARGE);
    assert_int_equal(dh_buf_append(&b, "", 0), 0);
    assert_int_equal(b.len, 100);
    dh_buf_free(&b);

    /* One append of exactly max into an empty buffer. */
    dh_buf_init(&b, 100);
    assert_int_equal(dh_buf_append(&b, chunk, 100), 0);
    assert_int_equal(b.len, 100);
    dh_buf_free(&b);
}

static void test_over_max_leaves_contents(void **state)
{
    struct dh_buf b;
    char big[300];
    (void)state;

    memset(big, 'z', sizeof(big));
    dh_buf_init(&b, 10);
    assert_int_equal(dh_buf_puts(&b, "abcdefgh"), 0);
    assert_int_equal(dh_buf_append(&b, "123", 3), DH_E_TOO_LARGE);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "abcdefgh");
    assert_int_equal(dh_buf_append(&b, big, sizeof(big)), DH_E_TOO_LARGE);
    /* A length that would wrap size_t is refused, not wrapped. */
    assert_int_equal(dh_buf_append(&b, big, SIZE_MAX), DH_E_TOO_LARGE);
    assert_int_equal(dh_buf_append(&b, big, SIZE_MAX - 4), DH_E_TOO_LARGE);
    assert_string_equal(b.data, "abcdefgh");
    assert_int_equal(dh_buf_append(&b, "12", 2), 0);
    assert_string_equal(b.data, "abcdefgh12");
    dh_buf_free(&b);

    /* Over max on an empty buffer allocates nothing and stays empty. */
    dh_buf_init(&b, 4);
    assert_int_equal(dh_buf_append(&b, "12345", 5), DH_E_TOO_LARGE);
    assert_int_equal(b.len, 0);
    dh_buf_free(&b);
}

static void test_nul_terminated_and_binary(void **state)
{
    struct dh_buf b;
    char chunk[1000];
    (void)state;

    dh_buf_init(&b, 1 << 20);
    /* Grow across several reallocations; the terminator is always there. */
    for (int i = 0; i < 50; i++) {
        memset(chunk, 'a' + i % 26, sizeof(chunk));
        assert_int_equal(dh_buf_append(&b, chunk, sizeof(chunk)), 0);
        assert_int_equal(b.len, (size_t)(i + 1) * sizeof(chunk));
        assert_int_equal(b.data[b.len], '\0');
        assert_true(b.cap > b.len);
    }
    assert_int_equal(b.data[0], 'a');
    assert_int_equal(b.data[49999], 'x');
    dh_buf_free(&b);

    /* NUL bytes inside are kept and counted. */
    dh_buf_init(&b, 16);
    assert_int_equal(dh_buf_append(&b, "a\0b", 3), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b\0", 4);
    dh_buf_free(&b);
}

static void test_steal(void **state)
{
    struct dh_buf b;
    size_t len = 99;
    char *p;
    (void)state;

    dh_buf_init(&b, 32);
    assert_int_equal(dh_buf_puts(&b, "payload"), 0);
    p = dh_buf_steal(&b, &len);
    assert_string_equal(p, "payload");
    assert_int_equal(len, 7);
    /* b is empty and reusable, with the same maximum. */
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(dh_buf_puts(&b, "again"), 0);
    assert_string_equal(b.data, "again");
    assert_string_equal(p, "payload");
    free(p);
    dh_buf_free(&b);

    /* Stealing from an empty buffer gives "" (never NULL). */
    dh_buf_init(&b, 32);
    len = 99;
    p = dh_buf_steal(&b, &len);
    assert_non_null(p);
    assert_string_equal(p, "");
    assert_int_equal(len, 0);
    free(p);
    p = dh_buf_steal(&b, NULL);
    assert_non_null(p);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_within_max),
        cmocka_unit_test(test_exactly_max),
        cmocka_unit_test(test_over_max_leaves_contents),
        cmocka_unit_test(test_nul_terminated_and_binary),
        cmocka_unit_test(test_steal),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
