/*
 * buf.c: bounded growable buffer (buf.h).
 */
#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

void dh_buf_init(struct dh_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

int dh_buf_append(struct dh_buf *b, const void *p, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return DH_E_TOO_LARGE;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (cap > b->max + 1)
            cap = b->max + 1;
        b->data = dh_realloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int dh_buf_puts(struct dh_buf *b, const char *s)
{
    return dh_buf_append(b, s, strlen(s));
}

void dh_buf_free(struct dh_buf *b)
{

    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *dh_buf_steal(struct dh_buf *b, size_t *len)
{
    char *p = b->data;
    if (p == NULL)
        p = dh_strdup("");
    if (len != NULL)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
