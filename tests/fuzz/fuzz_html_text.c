/*
 * fuzz_html_text.c: libFuzzer target for dh_html_to_text().
 *
 * Besides memory errors (caught by the sanitizers), it checks the promises of
 * html_text.h on every input: the result fits in 3 * size bytes, is valid
 * UTF-8, holds no control character other than '\n', has no whitespace at
 * either end, no space next to a line break, no double space and never more
 * than one blank line in a row.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/html_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Returns the length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_valid(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t need, i;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        need = 1;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        need = 2;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        need = 3;
    else
        return 0;
    if (s[0] == 0xE0)
        lo = 0xA0;
    else if (s[0] == 0xED)
        hi = 0x9F;
    else if (s[0] == 0xF0)
        lo = 0x90;
    else if (s[0] == 0xF4)
        hi = 0x8F;
    for (i = 1; i <= need; i++) {
        if (i >= n || s[i] < lo || s[i] > hi)
            return 0;
        lo = 0x80;
        hi = 0xBF;
    }
    return need + 1;
}

static void check(const char *out, size_t insize)
{
    const unsigned char *s = (const unsigned char *)out;
    size_t n = strlen(out), i, k;

    if (n > 3 * insize)
        abort();
    if (n > 0 && (s[0] == ' ' || s[0] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\n'))
        abort();
    if (strstr(out, "  ") || strstr(out, " \n") || strstr(out, "\n ") || strstr(out, "\n\n\n"))
        abort();
    for (i = 0; i < n; i += k) {
        k = utf8_valid(s + i, n - i);
        if (k == 0)
            abort();
        if (k == 1 && ((s[i] < 0x20 && s[i] != '\n') || s[i] == 0x7F))
            abort();
        /* C1 controls are dropped too. */
        if (k == 2 && s[i] == 0xC2 && s[i + 1] < 0xA0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *out = dh_html_to_text((const char *)data, size);

    check(out, size);
    free(out);
    return 0;
}
