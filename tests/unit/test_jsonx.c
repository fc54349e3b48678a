/*
 * test_jsonx.c: dotted paths into payloads, the depth guard that runs before
 * the parser, scalar-to-string conversion and dumping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>

#include "core/error.h"
#include "core/jsonx.h"

static json_t *parse(const char *s)
{
    json_error_t je;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &je);
    if (v == NULL)
        fail_msg("test JSON does not parse: %s", je.text);
    return v;
}

static void test_get_path(void **state)
{
    json_t *root = parse("{\"ticket\":{\"subject\":\"Refund\",\"id\":7,"
                         "\"requester\":{\"email\":\"a@b.c\"}},"
                         "\"items\":[{\"id\":\"first\"},{\"id\":\"second\"}],"
                         "\"top\":true,\"nothing\":null}");
    (void)state;

    assert_string_equal(json_string_value(dh_json_get_path(root, "ticket.subject")), "Refund");
    assert_int_equal(json_integer_value(dh_json_get_path(root, "ticket.id")), 7);
    assert_string_equal(json_string_value(dh_json_get_path(root, "ticket.requester.email")),
                        "a@b.c");
    assert_true(json_is_true(dh_json_get_path(root, "top")));
    assert_true(json_is_object(dh_json_get_path(root, "ticket")));
    /* Array indexes. */
    assert_string_equal(json_string_value(dh_json_get_path(root, "items.0.id")), "first");
    assert_string_equal(json_string_value(dh_json_get_path(root, "items.1.id")), "second");
    /* A present null is returned as null, not as missing. */
    assert_true(json_is_null(dh_json_get_path(root, "nothing")));
    /* The reference is borrowed from root. */
    assert_ptr_equal(dh_json_get_path(root, "ticket"), json_object_get(root, "ticket"));
    json_decref(root);
}

static void test_get_path_missing(void **state)
{
    json_t *root = parse("{\"ticket\":{\"subject\":\"Refund\"},\"items\":[{\"id\":1}],"
                         "\"n\":5,\"s\":\"text\"}");
    (void)state;

    assert_null(dh_json_get_path(root, "customer"));
    assert_null(dh_json_get_path(root, "ticket.status"));
    assert_null(dh_json_get_path(root, "customer.email"));
    assert_null(dh_json_get_path(root, "items.1.id"));   /* out of range */
    assert_null(dh_json_get_path(root, "items.x"));      /* not an index */
    assert_null(dh_json_get_path(root, "items.-1"));
    assert_null(dh_json_get_path(root, "items.0x"));
    /* A scalar in the way. */
    assert_null(dh_json_get_path(root, "n.value"));
    assert_null(dh_json_get_path(root, "s.0"));
    assert_null(dh_json_get_path(root, "ticket.subject.text"));
    assert_null(dh_json_get_path(NULL, "ticket"));
    json_decref(root);
}

static void check_scalar(json_t *v, const char *want)
{
    char *s = dh_json_scalar_string(v);
    char got[64];

    snprintf(got, sizeof(got), "%s", s ? s : "(null)");
    json_decref(v);
    free(s);
    if (want == NULL ? strcmp(got, "(null)") != 0 : strcmp(got, want) != 0)
        fail_msg("got \"%s\", wanted \"%s\"", got, want ? want : "(null)");
}

static void test_scalar_string(void **state)
{
    (void)state;
    check_scalar(json_integer(1228307), "1228307");
    check_scalar(json_integer(-5), "-5");
    check_scalar(json_integer(9007199254740993LL), "9007199254740993");
    check_scalar(json_real(1.0), "1");
    check_scalar(json_real(-3.0), "-3");
    check_scalar(json_real(0.1), "0.1");
    check_scalar(json_real(2.5), "2.5");
    check_scalar(json_true(), "true");
    check_scalar(json_false(), "false");
    check_scalar(json_string("Open"), "Open");
    check_scalar(json_string(""), "");
    check_scalar(json_null(), NULL);
    check_scalar(json_object(), NULL);
    check_scalar(json_array(), NULL);
}

static void test_scalar_string_large_integral(void **state)
{
    (void)state;
    /* Integral reals of 15 digits and more: ids sent as floats must come out
     * whole, without an exponent and without losing digits. */
    check_scalar(json_real(999999999999999.0), "999999999999999");
    check_scalar(json_real(1e15), "1000000000000000");
    check_scalar(json_real(1234567890123456.0), "1234567890123456");
    check_scalar(json_real(-1234567890123456.0), "-1234567890123456");
    /* Beyond the range of long long: still whole, and no overflowing cast. */
    check_scalar(json_real(1e20), "100000000000000000000");
}

static void test_scalar_string_from_parsed(void **state)
{
    /* What a payload actually carries: 4.0 is written with a point. */
    json_t *root = parse("{\"p\":4.0,\"id\":1e3}");
    char *s;
    (void)state;

    s = dh_json_scalar_string(json_object_get(root, "p"));
    assert_string_equal(s, "4");
    free(s);
    s = dh_json_scalar_string(json_object_get(root, "id"));
    assert_string_equal(s, "1000");
    free(s);
    json_decref(root);
}

static void test_dump(void **state)
{
    json_t *v = parse("{\"b\":0.1,\"a\":[1,2.5,true,null],\"c\":\"\\u00e9\"}");
    char *s;
    (void)state;

    s = dh_json_dump(v);
    /* Compact, keys in insertion order, 0.1 stays 0.1. */
    assert_string_equal(s, "{\"b\":0.1,\"a\":[1,2.5,true,null],\"c\":\"\xc3\xa9\"}");
    free(s);
    json_decref(v);

    /* A value built in C (not parsed) keeps its short form too. */
    v = json_pack("{s:f,s:f}", "x", 0.1, "y", 1.0 / 3.0);
    s = dh_json_dump(v);
    assert_string_equal(s, "{\"x\":0.1,\"y\":0.333333333333333}");
    free(s);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_path),
        cmocka_unit_test(test_get_path_missing),
        cmocka_unit_test(test_scalar_string),
        cmocka_unit_test(test_scalar_string_large_integral),
        cmocka_unit_test(test_scalar_string_from_parsed),
        cmocka_unit_test(test_dump),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
