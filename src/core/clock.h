/*
 * clock.h: wall and monotonic time in milliseconds, and ISO-8601 formatting.
 * Any thread.
 */
#ifndef DH_CLOCK_H
#define DH_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t dh_clock_wall_ms(void);
/* Milliseconds from an arbitrary origin that never goes back. */
int64_t dh_clock_mono_ms(void);
/* Microseconds from the same kind of origin, for latency measurement. */
int64_t dh_clock_mono_us(void);
/* Writes "2026-11-23T15:27:04.123Z" for ms into out (at least 25 bytes). */
void dh_clock_format_iso(int64_t ms, char *out, size_t outlen);
/* Reads "2026-11-23T15:27:04Z" (fractions of a second allowed, UTC only)
 * into ms; returns 0 or -EINVAL. */
int dh_clock_parse_iso(const char *s, int64_t *ms);

#endif
