/*
 * test_id.c: event ids look right, sort in creation order and never repeat.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/id.h"

#define CROCKFORD "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

/* Decodes the 48-bit millisecond timestamp from the first 10 characters. */
static int64_t id_time_ms(const char *chars)
{
    uint64_t v = 0;
    for (int i = 0; i < 10; i++)
        v = v * 32 + (uint64_t)(strchr(CROCKFORD, chars[i]) - CROCKFORD);
    /* 10 digits hold 50 bits: the top 2 are padding, the rest the time. */
    return (int64_t)v;
}

static void test_format(void **state)
{
    char id[DH_ID_MAX];
    int64_t before, after, t;
    (void)state;

    before = dh_clock_wall_ms();
    dh_id_new("evt", id);
    after = dh_clock_wall_ms();
    assert_int_equal(strlen(id), 4 + 26);
    assert_memory_equal(id, "evt_", 4);
    assert_int_equal(strspn(id + 4, CROCKFORD), 26);
    /* The first character carries the 2 pad bits and the top 3 time bits. */
    assert_true(id[4] >= '0' && id[4] <= '7');
    /* The timestamp is the time of creation. */
    t = id_time_ms(id + 4);
    assert_true(t >= before && t <= after);

    dh_id_new("dlv", id);
    assert_memory_equal(id, "dlv_", 4);
    assert_true(dh_id_valid("dlv", id));
}

static void test_valid(void **state)
{
    char id[DH_ID_MAX];
    (void)state;

    dh_id_new("evt", id);
    assert_true(dh_id_valid("evt", id));
    assert_true(dh_id_valid("evt", "evt_01JD6W8Q4M2V7Y3X9K5T0B1C2D"));
    assert_true(dh_id_valid("evt", "evt_00000000000000000000000000"));
}

static void test_valid_rejects(void **state)
{
    char id[DH_ID_MAX], bad[DH_ID_MAX + 4];
    (void)state;

    dh_id_new("evt", id);
    assert_false(dh_id_valid("dlv", id));                            /* other prefix */
    assert_false(dh_id_valid("ev", id));                             /* prefix of the prefix */
    assert_false(dh_id_valid("evt", id + 4));                        /* no prefix */
    assert_false(dh_id_valid("evt", ""));
    assert_false(dh_id_valid("evt", "evt_"));
    assert_false(dh_id_valid("evt", "evt-01JD6W8Q4M2V7Y3X9K5T0B1C2D")); /* wrong separator */
    assert_false(dh_id_valid("evt", "evt_01JD6W8Q4M2V7Y3X9K5T0B1C2"));  /* 25 chars */
    assert_false(dh_id_valid("evt", "evt_01JD6W8Q4M2V7Y3X9K5T0B1C2DE")); /* 27 chars */
    /* Letters Crockford leaves out (I, L, O, U) and lower case. */
    assert_false(dh_id_valid("evt", "evt_01JD6W8Q4M2V7Y3X9K5T0B1C2I"));
    assert_false(dh_id_valid("evt", "evt_01JD6W8Q4M2V7Y3X9K5T0B1C2L"));
    assert_false(dh_id_valid("evt", "evt_01JD6W8Q4M2V7Y3X9K5T0B1C2O"));
    assert_false(dh_id_valid("evt", "evt_01JD6W8Q4M2V7Y3X9K5T0B1C2U"));
    assert_false(dh_id_valid("evt", "evt_01jd6w8q4m2v7y3x9k5t0b1c2d"));
    /* Things a URL could carry. */
    assert_false(dh_id_valid("evt", "evt_01JD6W8Q4M2V7Y3X9K5T0B1/.."));
    assert_false(dh_id_valid("evt", "evt_01JD6W8Q4M2V7Y3X9K5T0B1C%20"));
    snprintf(bad, sizeof(bad), "%s ", id);
    assert_false(dh_id_valid("evt", bad));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void test_increasing_and_unique(void **state)
{
    enum { N = 10000 };
    char(*ids)[DH_ID_MAX] = calloc(N, DH_ID_MAX);
    (void)state;

    assert_non_null(ids);
    for (int i = 0; i < N; i++)
        dh_id_new("evt", ids[i]);
    /* Many ids share a millisecond: within one they still increase. */
    for (int i = 1; i < N; i++)
        if (strcmp(ids[i - 1], ids[i]) >= 0)
            fail_msg("id %d (%s) does not sort after id %d (%s)", i, ids[i], i - 1, ids[i - 1]);
    qsort(ids, N, DH_ID_MAX, cmp_str);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    for (int i = 0; i < N; i++)
        assert_true(dh_id_valid("evt", ids[i]));
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_valid_rejects),
        cmocka_unit_test(test_increasing_and_unique),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
