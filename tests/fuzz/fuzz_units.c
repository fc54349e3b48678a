/*
 * fuzz_units.c: libFuzzer target for the unit parsers of config/units.h.
 *
 * The input is copied and NUL-terminated, then given to all three parsers.
 * Besides memory errors it checks that error messages are terminated, not
 * empty and on one line, that a rate has a count >= 1 and a period > 0, and that a parsed
 * duration survives dh_units_format_duration() and parsing again.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/units.h"
#include "core/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(int rc, const char *err, size_t errlen)
{
    if (rc == 0)
        return; /* err is only written on error */
    if (rc != -EINVAL)
        abort();
    if (memchr(err, '\0', errlen) == NULL || strchr(err, '\n') != NULL)
        abort();
    if (errlen > 1 && err[0] == '\0')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = dh_strndup((const char *)data, size);
    char err[128], small[7], out[DH_UNITS_DURATION_LEN];
    uint64_t ms = 0, again = 0, bytes = 0, count = 0, period = 0;
    int rc;

    memset(err, 'x', sizeof(err));
    rc = dh_units_parse_duration(s, &ms, err, sizeof(err));
    check_err(rc, err, sizeof(err));
    if (rc == 0) {
        dh_units_format_duration(ms, out, sizeof(out));
        if (dh_units_parse_duration(out, &again, NULL, 0) != 0 || again != ms)
            abort();
    }

    memset(err, 'x', sizeof(err));
    rc = dh_units_parse_size(s, &bytes, err, sizeof(err));
    check_err(rc, err, sizeof(err));

    memset(err, 'x', sizeof(err));
    rc = dh_units_parse_rate(s, &count, &period, err, sizeof(err));
    check_err(rc, err, sizeof(err));
    if (rc == 0 && (count < 1 || period == 0))
        abort();

    /* A short buffer is cut, not overrun. */
    memset(small, 'x', sizeof(small));
    rc = dh_units_parse_rate(s, &count, &period, small, sizeof(small));
    check_err(rc, small, sizeof(small));

    free(s);
    return 0;
}
