/*
 * jsonx.h: small helpers over jansson: dotted paths, a depth guard that runs
 * before the parser, and dumping with our flags. Any thread.
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
/* Sets the value at a dotted path, creating intermediate objects. Steals val.
 * Returns 0 or -EINVAL (a non-object is in the way). */
int dh_json_set_path(json_t *root, const char *path, json_t *val);
/* Scans buf for nesting deeper than max (strings are skipped). Returns 0 or
 * DH_E_INVALID_JSON and writes "nesting deeper than N at byte M" to err. */
int dh_json_check_depth(const char *buf, size_t len, int max, char *err, size_t errlen);
/* Converts a scalar to a newly allocated string (numbers without exponent
 * when integral, true/false); NULL for null, objects and arrays. */
char *dh_json_scalar_string(const json_t *v);
/* Dumps v with DH_JSON_DUMP_FLAGS; the caller frees the result. */
char *dh_json_dump(const json_t *v);

#endif
