/*
 * alloc.h: allocation wrappers for internal structures.
 *
 * Internal structures are allocated through these wrappers, which abort the
 * process when memory runs out: a gateway that cannot allocate a few hundred
 * bytes cannot do anything useful, and checking every call hides real bugs.
 * Sizes that a client controls (bodies, headers) must be bounded by the caller
 * before they reach these functions; use dh_buf with a maximum for those.
 * Any thread may call them.
 */
#ifndef DH_ALLOC_H
#define DH_ALLOC_H

#include <stddef.h>

/* Returns zeroed memory for nmemb * size bytes; aborts on overflow or OOM. */
void *dh_calloc(size_t nmemb, size_t size);
/* Returns size bytes (uninitialised); aborts on OOM. */
void *dh_malloc(size_t size);
/* Resizes ptr; aborts on OOM. */
void *dh_realloc(void *ptr, size_t size);
/* Returns a copy of s (NULL stays NULL); aborts on OOM. */
char *dh_strdup(const char *s);
/* Returns a NUL-terminated copy of the first n bytes of s; aborts on OOM. */
char *dh_strndup(const char *s, size_t n);
/* Returns a newly allocated formatted string; aborts on OOM. */
char *dh_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define dh_new(type) ((type *)dh_calloc(1, sizeof(type)))

#endif
