/*
 * buf.h: a growable byte buffer with a maximum set where it is created.
 *
 * Every buffer that grows with client input has a hard cap; appending past it
 * fails with DH_E_TOO_LARGE instead of growing. The contents are always
 * NUL-terminated (the terminator is not counted in len). Owned by one thread
 * at a time.
 */
#ifndef DH_BUF_H
#define DH_BUF_H

#include <stddef.h>

struct dh_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

/* Initialises b with a maximum of max bytes; nothing is allocated yet. */
void dh_buf_init(struct dh_buf *b, size_t max);
/* Appends n bytes; returns 0 or DH_E_TOO_LARGE (b unchanged). */
int dh_buf_append(struct dh_buf *b, const void *p, size_t n);
/* Appends a NUL-terminated string. */
int dh_buf_puts(struct dh_buf *b, const char *s);
/* Frees the storage; b may be reused after dh_buf_init. */
void dh_buf_free(struct dh_buf *b);
/* Hands the storage to the caller (free() it) and resets b. Never NULL. */
char *dh_buf_steal(struct dh_buf *b, size_t *len);

#endif
