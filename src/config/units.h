/*
 * units.h: durations, sizes and rates as the configuration writes them.
 *
 * Every value carries its unit ("5s", "10MiB", "100/1m"); a bare number is an
 * error, because "timeout: 30" is ambiguous to the reader. Units are
 * case-sensitive. A number may have a decimal fraction ("1.5s", "0.5MiB") as
 * long as the result is a whole number of milliseconds or bytes. Leading and
 * trailing whitespace (spaces, tabs, CR, LF) is ignored; whitespace anywhere
 * else is an error. On error the functions return -EINVAL, leave their
 * outputs unchanged and write a one-line reason that quotes the input to err
 * (errlen bytes, always NUL-terminated; err may be NULL when errlen is 0).
 * All functions are pure and any thread may call them.
 */
#ifndef DH_UNITS_H
#define DH_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* An out buffer of this size always holds dh_units_format_duration()'s
 * result ("18446744073709551615ms"). */
#define DH_UNITS_DURATION_LEN 24

/* Parses a duration with a unit: ms, s, m, h or d ("250ms", "5s", "5m", "2h",
 * "1d", "1.5s"). A bare number, an unknown unit, a negative value or one above
 * UINT64_MAX milliseconds is an error. Returns 0 and sets *ms, or -EINVAL. */
int dh_units_parse_duration(const char *s, uint64_t *ms, char *err, size_t errlen);

/* Parses a size with a unit: B, KB (1000), KiB (1024), MB, MiB, GB, GiB, TB
 * or TiB ("512B", "10KB", "10KiB"). "10kb" is an error whose message names
 * the unit meant. Returns 0 and sets *bytes, or -EINVAL. */
int dh_units_parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen);

/* Parses a rate "<count>/<period>" ("100/60s", "100/1m"); a period that is a
 * bare unit means one of it ("10/s"). The count is a whole number >= 1 and
 * the period a duration > 0; spaces around '/' are ignored. Returns 0 and
 * sets *count and *period_ms, or -EINVAL. */
int dh_units_parse_rate(const char *s, uint64_t *count, uint64_t *period_ms, char *err,
                        size_t errlen);

/* Writes ms as a whole number of the largest unit that holds it exactly,
 * which is also the shortest form: 250 -> "250ms", 1500 -> "1500ms",
 * 90000 -> "90s", 60000 -> "1m", 86400000 -> "1d", 0 -> "0s". The result
 * parses back to ms. Truncates like snprintf to outlen bytes (see
 * DH_UNITS_DURATION_LEN); writes nothing when outlen is 0. */
void dh_units_format_duration(uint64_t ms, char *out, size_t outlen);

#endif
