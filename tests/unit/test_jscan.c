/*
 * test_jscan.c: the in-place JSON scanner accepts exactly what jansson
 * accepts (checked here case by case against jansson itself), finds values
 * by path, and gives their text back unescaped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/error.h"
#include "core/jscan.h"

static int jansson_accepts(const char *s, size_t n)
{
    json_t *j = json_loadb(s, n, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL);
    json_decref(j);
    return j != NULL;
}

static int scan_accepts(const char *s, size_t n, char *err, size_t errlen)
{
    struct dh_jscan js;
    int rc = dh_jscan_parse(&js, s, n, 64, err, errlen);
    dh_jscan_free(&js);
    return rc == 0;
}

static void test_same_verdict_as_jansson(void **state)
{
    static const char *const cases[] = {
        "{}", "[]", "0", "-0", "1.5e3", "-1.0E-2", "true", "false", "null", "\"x\"",
        "{\"a\":[1,2,{\"b\":null}]}", " \t\r\n{\"a\" : 1 }\n", "\"\\u00e9\\ud83d\\ude00\"",
        "\"\\u0000\"", "\"caf\xc3\xa9\"", "9223372036854775807", "-9223372036854775808",
        "1e308", "1e-400",
        /* refused */
        "", " ", "{", "[1,]", "{\"a\":1,}", "{\"a\"}", "{a:1}", "01", "1.", ".5", "-", "+1",
        "1e", "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"",
        "\"\\ud800\\u0041\"", "\"a\tb\"", "\"\xc3\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"", "9223372036854775808", "-9223372036854775809", "1e309",
        "{} {}", "[1] x", "'a'", "[1 2]", "{\"a\":1 \"b\":2}",
    };
    char err[200];
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i]);
        int want = jansson_accepts(cases[i], n);
        int got = scan_accepts(cases[i], n, err, sizeof(err));
        if (want != got)
            fail_msg("case %zu \"%s\": jansson %s, scanner %s (%s)", i, cases[i],
                     want ? "accepts" : "refuses", got ? "accepts" : "refuses", got ? "" : err);
    }
}

static void test_errors_say_where(void **state)
{
    struct dh_jscan js;
    char err[200];
    (void)state;
    assert_int_equal(dh_jscan_parse(&js, "{\"a\":1,\n  \"b\":}", 15, 64, err, sizeof(err)),
                     DH_E_INVALID_JSON);
    assert_non_null(strstr(err, "line 2, column 7"));
    assert_int_equal(dh_jscan_parse(&js, "[[[1]]]", 7, 2, err, sizeof(err)), DH_E_INVALID_JSON);
    assert_non_null(strstr(err, "nesting deeper than 2 levels"));
    assert_int_equal(dh_jscan_parse(&js, "[[1]]", 5, 2, err, sizeof(err)), 0);
    dh_jscan_free(&js);
}

static void test_paths_and_text(void **state)
{
    const char *doc = "{\"freshdesk_webhook\":{\"ticket_id\":1228307,\"ticket_subject\":"
                      "\"Refund \\\"now\\\" \\u00e9\",\"tags\":[\"a\",\"b\"],\"p\":4.0,"
                      "\"nul\":\"x\\u0000y\",\"dup\":1,\"dup\":2,\"k\\u0065y\":\"esc\"}}";
    struct dh_jscan js;
    char err[200];
    size_t n;
    char *s;
    int t;
    (void)state;

    assert_int_equal(dh_jscan_parse(&js, doc, strlen(doc), 64, err, sizeof(err)), 0);
    t = dh_jscan_path(&js, 0, "freshdesk_webhook.ticket_id");
    s = dh_jscan_text(&js, t, NULL);
    assert_string_equal(s, "1228307");
    free(s);
    s = dh_jscan_text(&js, dh_jscan_path(&js, 0, "freshdesk_webhook.ticket_subject"), NULL);
    assert_string_equal(s, "Refund \"now\" \xc3\xa9");
    free(s);
    s = dh_jscan_text(&js, dh_jscan_path(&js, 0, "freshdesk_webhook.tags.1"), NULL);
    assert_string_equal(s, "b");
    free(s);
    assert_int_equal(dh_jscan_path(&js, 0, "freshdesk_webhook.tags.2"), -1);
    assert_int_equal(dh_jscan_path(&js, 0, "freshdesk_webhook.missing"), -1);
    assert_int_equal(dh_jscan_path(&js, 0, "freshdesk_webhook.ticket_id.x"), -1);
    s = dh_jscan_text(&js, dh_jscan_path(&js, 0, "freshdesk_webhook.p"), NULL);
    assert_string_equal(s, "4");
    free(s);
    s = dh_jscan_text(&js, dh_jscan_path(&js, 0, "freshdesk_webhook.nul"), &n);
    assert_int_equal(n, 3);
    assert_memory_equal(s, "x\0y", 3);
    free(s);
    s = dh_jscan_text(&js, dh_jscan_path(&js, 0, "freshdesk_webhook.dup"), NULL);
    assert_string_equal(s, "2"); /* the last of a repeated key, as jansson */
    free(s);
    assert_true(dh_jscan_equals(&js, dh_jscan_path(&js, 0, "freshdesk_webhook.key"), "esc"));
    assert_null(dh_jscan_text(&js, dh_jscan_path(&js, 0, "freshdesk_webhook.tags"), NULL));
    assert_int_equal(js.toks[dh_jscan_path(&js, 0, "freshdesk_webhook")].count, 8);
    dh_jscan_free(&js);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_verdict_as_jansson),
        cmocka_unit_test(test_errors_say_where),
        cmocka_unit_test(test_paths_and_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
