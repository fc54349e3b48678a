/*
 * test_html_text.c: what dh_html_to_text() makes of the HTML that providers
 * send, including broken, truncated and hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/html_text.h"

/* Converts exactly len bytes copied to a buffer of that size, so that a read
 * past the end is caught by AddressSanitizer, and checks the result. */
static void check_len(const char *in, size_t len, const char *want)
{
    char *copy = dh_malloc(len);
    char *got;

    memcpy(copy, in, len);
    got = dh_html_to_text(copy, len);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_true(strlen(got) <= 3 * len);
    free(got);
    free(copy);
}

/* in must be a string literal; its length may include NUL bytes. */
#define check(in, want) check_len((in), sizeof(in) - 1, (want))

static void test_examples(void **state)
{
    (void)state;
    check("<div>ParkWhiz refund request received.</div>", "ParkWhiz refund request received.");
    check("<p>Hello&nbsp;<b>World</b></p><p>Line&amp;2<br>three</p>",
          "Hello World\nLine&2\nthree");
}

static void test_plain_text_passes_through(void **state)
{
    (void)state;
    check("Hello, world", "Hello, world");
    check("caf\xc3\xa9 \xe2\x82\xac 5 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac 5 \xf0\x9f\x98\x80");
    check("Line one\nLine two", "Line one\nLine two");
    check("1 < 2 and 3<4, a > b", "1 < 2 and 3<4, a > b");
    check("AT&T & co", "AT&T & co");
    check("a </ b", "a </ b");
    check("trailing <", "trailing <");
}

static void test_empty_and_null(void **state)
{
    char *got;

    (void)state;
    got = dh_html_to_text("", 0);
    assert_string_equal(got, "");
    free(got);
    got = dh_html_to_text(NULL, 0);
    assert_string_equal(got, "");
    free(got);
    got = dh_html_to_text(NULL, 10);
    assert_string_equal(got, "");
    free(got);
    check("   \n\t  \n ", "");
    check("<p></p><div> </div><br><br>", "");
}

static void test_whitespace_collapses(void **state)
{
    (void)state;
    check("a  b\t\tc \t d", "a b c d");
    check("   leading and trailing   ", "leading and trailing");
    check("a   \n   b", "a\nb");
    check("a\n\n\n\n\nb", "a\n\nb");
    check("a\n \n\t\n  \nb", "a\n\nb");
    check("a\r\nb\rc", "a\nb\nc");
    check("\n\n  a  \n\n", "a");
    check("<span>a</span> <span>b</span>", "a b");
    check("<b>bo</b><i>ld</i>", "bold");
    check("a&nbsp;&nbsp; &nbsp;b", "a b");
    check("a\xc2\xa0\xc2\xa0" "b", "a b");
    check("&nbsp;x&nbsp;", "x");
    check("a\f\vb", "a b");
}

static void test_blank_lines(void **state)
{
    (void)state;
    check("a<br>b", "a\nb");
    check("a<br><br>b", "a\n\nb");
    check("a<br><br><br><br><br>b", "a\n\nb");
    check("a<br/>b<BR />c<br clear=\"all\">d", "a\nb\nc\nd");
    check("a</br>b", "a\nb");
    /* Layout newlines next to tags do not add blank lines. */
    check("Line<br>\nthree", "Line\nthree");
    check("<p>a</p>\n<p>b</p>\n", "a\nb");
    check("<p>a</p>\n\n<p>b</p>", "a\n\nb");
    check("<p>\n   Hello\n   world  \n</p>\n<p>\n  Again\n</p>", "Hello\nworld\nAgain");
}

static void test_block_elements(void **state)
{
    (void)state;
    check("<ul><li>one</li><li>two</li></ul>after", "one\ntwo\nafter");
    check("<ol>\n  <li>one</li>\n  <li>two</li>\n</ol>", "one\ntwo");
    check("<h1>Title</h1>text<h6>small</h6>", "Title\ntext\nsmall");
    check("a<hr>b<hr/>c", "a\nb\nc");
    check("<blockquote>quoted</blockquote>reply", "quoted\nreply");
    check("<pre>code</pre>x", "code\nx");
    check("<section><article><header>h</header>body<footer>f</footer></article></section>",
          "h\nbody\nf");
    check("x<DIV CLASS=\"a\">y</DIV>z", "x\ny\nz");
    check("<table><tr><td>a</td><td>b</td></tr><tr><th>c</th><td>d</td></tr></table>",
          "a b\nc d");
    check("<p>a</p><p>b</p>", "a\nb");
    check("<div><div><div>deep</div></div></div>", "deep");
    check("in<span>line</span>", "inline");
}

static void test_named_entities(void **state)
{
    (void)state;
    check("&lt;b&gt; &quot;q&quot; &apos;a&apos; &amp;", "<b> \"q\" 'a' &");
    check("&copy; &reg; &trade;", "\xc2\xa9 \xc2\xae \xe2\x84\xa2");
    check("wait&hellip; &mdash; &ndash;", "wait\xe2\x80\xa6 \xe2\x80\x94 \xe2\x80\x93");
    check("&lsquo;x&rsquo; &ldquo;y&rdquo;",
          "\xe2\x80\x98x\xe2\x80\x99 \xe2\x80\x9cy\xe2\x80\x9d");
    check("&euro;5 &pound;3 &eacute;t&eacute; &uuml;ber &szlig;",
          "\xe2\x82\xac" "5 \xc2\xa3" "3 \xc3\xa9t\xc3\xa9 \xc3\xbc" "ber \xc3\x9f");
    check("&AMP; &LT;", "& <");
    /* The entity that decodes to '<' is text, not the start of a tag. */
    check("&lt;p&gt;not a tag&lt;/p&gt;", "<p>not a tag</p>");
    /* A soft hyphen is invisible. */
    check("co&shy;operate", "cooperate");
}

static void test_numeric_entities(void **state)
{
    (void)state;
    check("&#65;&#x42;&#X43;&#0000068;", "ABCD");
    check("&#x1F600;", "\xf0\x9f\x98\x80");
    check("&#128512;", "\xf0\x9f\x98\x80");
    check("&#233;", "\xc3\xa9");
    check("&#x10FFFF;", "\xf4\x8f\xbf\xbf");
    /* Windows-1252 in numeric form, as old mailers write it. */
    check("&#150; &#147;q&#148;", "\xe2\x80\x93 \xe2\x80\x9cq\xe2\x80\x9d");
    check("a&#10;b&#9;c", "a\nb c");
    check("a&#160;b", "a b");
}

static void test_numeric_entities_replaced(void **state)
{
    (void)state;
    check("&#0;", "\xef\xbf\xbd");
    check("&#x0;", "\xef\xbf\xbd");
    check("&#xD800;", "\xef\xbf\xbd");
    check("&#57343;", "\xef\xbf\xbd");
    check("&#x110000;", "\xef\xbf\xbd");
    check("&#99999999999999999999999999;", "\xef\xbf\xbd");
    check("&#xFFFFFFFFFFFFFFFFFFFF;", "\xef\xbf\xbd");
    /* Control characters are not text. */
    check("a&#1;&#127;&#x81;b", "ab");
}

static void test_invalid_entities_stay(void **state)
{
    (void)state;
    check("&bogus; &amp &#; &#x; &#12a; &#xZ; & ; &;", "&bogus; &amp &#; &#x; &#12a; &#xZ; & ; &;");
    check("&verylongentityname;", "&verylongentityname;");
    check("&Amp;", "&Amp;");
    check("a=1&copy=2", "a=1&copy=2");
    check("&&amp;", "&&");
}

static void test_truncated_input(void **state)
{
    (void)state;
    check("&am", "&am");
    check("x &", "x &");
    check("&#", "&#");
    check("&#x", "&#x");
    check("&#x1F6", "&#x1F6");
    check("&#65", "&#65");
    check("<div", "");
    check("text<div", "text");
    check("text</di", "text");
    check("<", "<");
    check("a<", "a<");
    check("</", "</");
    check("<!", "");
    check("<!-", "");
    check("<!-- never closed", "");
    check("a<a href=\"x>y", "a");
    check("a<script>alert(1)", "a");
    check("a<script>x</scr", "a");
    check("a<script>x</script", "a");
    check("caf\xc3", "caf\xef\xbf\xbd");
    check("\xf0\x9f\x98", "\xef\xbf\xbd");
}

static void test_only_len_bytes_are_read(void **state)
{
    char *got;

    (void)state;
    check_len("<p>hi</p>GARBAGE", 9, "hi");
    check_len("&amp;", 3, "&am");
    check_len("<b>bold</b>", 2, "");
    check_len("&#x41;", 5, "&#x41");
    got = dh_html_to_text("abc", 1);
    assert_string_equal(got, "a");
    free(got);
}

static void test_script_and_style_dropped(void **state)
{
    (void)state;
    check("<p>a</p><script>var x = '<p>';</script><STYLE>p { color: red }</STYLE >b", "a\nb");
    check("<script type=\"text/javascript\">if (a</b) {}</SCRIPT>ok", "ok");
    check("<ScRiPt>x</sCrIpT>ok", "ok");
    check("<script>a</scriptx>b</script>c", "c");
    check("<style media=\"screen\">.a>.b{}</style\n>ok", "ok");
    check("<script>document.write('</p>')</script>ok", "ok");
    check("<script/>hidden</script>shown", "shown");
    check("</script>shown", "shown");
    check("a<scripts>b</scripts>c", "abc");
    check("<noscript>text</noscript>", "text");
    check("<title>Receipt</title>body", "body");
    check("text\n<script>x</script>\nmore", "text\nmore");
    check("text\n<!-- note -->\nmore", "text\nmore");
    check("text <!-- note -->\nmore", "text\nmore");
}

static void test_comments_and_declarations(void **state)
{
    (void)state;
    check("a<!-- hidden <p> -->b", "ab");
    check("a<!---->b<!-->c<!--->d", "abcd");
    check("a<!-- one -- two -->b", "ab");
    check("<!DOCTYPE html><html><head></head><body>x</body></html>", "x");
    check("<?xml version=\"1.0\"?>x", "x");
    check("<![CDATA[x]]>y", "y");
    check("a</>b", "ab");
}

static void test_attributes(void **state)
{
    (void)state;
    check("<a href=\"x\" title=\"a > b\">link</a>", "link");
    check("<img alt='>'>after", "after");
    check("<a title=x\"y>z", "z");
    check("<p\nclass=\"x\"\n>para</p>", "para");
    check("<input value=\"<p>\">x", "x");
}

static void test_nul_and_control_bytes(void **state)
{
    (void)state;
    check("a\0b", "ab");
    check("<p\0>x</p>", "x");
    check("\0\0\0", "");
    check("a\x01\x02\x1b\x7f b", "a b");
    check("a\xc2\x80" "b", "ab");
    check("\xef\xbb\xbfhello", "hello");
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    check("\xff", "\xef\xbf\xbd");
    check("a\x80" "b", "a\xef\xbf\xbd" "b");
    check("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");
    check("\xe2\x82 x", "\xef\xbf\xbd x");
    /* An encoded surrogate is three errors, as in browsers. */
    check("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    check("\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    check("\xf8\x88\x80\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

static void test_output_bound(void **state)
{
    size_t len = 3000, i;
    char *in = dh_malloc(len), *got;

    (void)state;
    memset(in, 0xff, len);
    got = dh_html_to_text(in, len);
    assert_int_equal(strlen(got), 3 * len);
    free(got);

    for (i = 0; i + 4 <= len; i += 4)
        memcpy(in + i, "&#0;", 4);
    got = dh_html_to_text(in, len);
    assert_true(strlen(got) <= 3 * len);
    free(got);

    for (i = 0; i < len; i++)
        in[i] = "a\n"[i % 2];
    got = dh_html_to_text(in, len);
    assert_true(strlen(got) <= len);
    free(got);
    free(in);
}

static void test_email_document(void **state)
{
    static const char html[] =
        "<!DOCTYPE html>\n"
        "<html>\n<head>\n<meta charset=\"utf-8\">\n<title>Receipt</title>\n"
        "<style>\n  body { font-family: sans-serif; }\n</style>\n</head>\n"
        "<body>\n"
        "  <div class=\"greeting\">Hi Ana,</div>\n"
        "  <p>Your refund of <strong>&euro;12.50</strong> is on its way.</p>\n"
        "  <!-- tracking pixel -->\n"
        "  <table>\n"
        "    <tr><td>Order</td><td>#4411</td></tr>\n"
        "    <tr><td>Status</td><td>Refunded</td></tr>\n"
        "  </table>\n"
        "  <p>Thanks,<br>\n  The team</p>\n"
        "  <script>track();</script>\n"
        "</body>\n</html>\n";

    (void)state;
    check(html, "Hi Ana,\nYour refund of \xe2\x82\xac" "12.50 is on its way.\n"
                "Order #4411\nStatus Refunded\nThanks,\nThe team");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_plain_text_passes_through),
        cmocka_unit_test(test_empty_and_null),
        cmocka_unit_test(test_whitespace_collapses),
        cmocka_unit_test(test_blank_lines),
        cmocka_unit_test(test_block_elements),
        cmocka_unit_test(test_named_entities),
        cmocka_unit_test(test_numeric_entities),
        cmocka_unit_test(test_numeric_entities_replaced),
        cmocka_unit_test(test_invalid_entities_stay),
        cmocka_unit_test(test_truncated_input),
        cmocka_unit_test(test_only_len_bytes_are_read),
        cmocka_unit_test(test_script_and_style_dropped),
        cmocka_unit_test(test_comments_and_declarations),
        cmocka_unit_test(test_attributes),
        cmocka_unit_test(test_nul_and_control_bytes),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_output_bound),
        cmocka_unit_test(test_email_document),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
