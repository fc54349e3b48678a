/*
 * strs.h: small string helpers. Any thread.
 */
#ifndef DH_STRS_H
#define DH_STRS_H

#include <stddef.h>

/* Writes the names of n structs, comma separated, into out (cut to
 * outlen). The structs start at base, stride bytes apart, each with a
 * `const char *` at name_off: dh_join_names(out, len, table, n,
 * sizeof(table[0]), offsetof(struct row, name)). */
void dh_join_names(char *out, size_t outlen, const void *base, size_t n, size_t stride,
                   size_t name_off);

#endif
