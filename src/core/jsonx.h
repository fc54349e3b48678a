/*
 * jsonx.h: small helpers over jansson: dotted paths, scalars as text, and
 * dumping with our flags. Any thread.
 */
#ifndef DH_JSONX_H
#define DH_JSONX_H

#include <stddef.h>

#include <jansson.h>

/* Flags every dump uses: compact, keys in insertion order, reals printed so
 * that 0.1 stays 0.1. */
#define DH_JSON_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* Returns the value at a dotted path ("ticket.subject", "items.0.id") or
 * NULL. Borrowed reference. */
json_t *dh_json_get_path(json_t *root, const char *path);
/* Converts a scalar to a newly allocated string (numbers without exponent
 * when integral, true/false); NULL for null, objects and arrays. */
char *dh_json_scalar_string(const json_t *v);
#define DH_JSON_REAL_MAX 40
/* Writes d as dh_json_scalar_string does (outlen >= DH_JSON_REAL_MAX). */
void dh_json_format_real(double d, char *out, size_t outlen);
/* Dumps v with DH_JSON_DUMP_FLAGS; the caller frees the result. */
char *dh_json_dump(const json_t *v);

#endif
