/*
 * strs.c: small string helpers (strs.h).
 */
#include "core/strs.h"

#include <stdio.h>

void dh_join_names(char *out, size_t outlen, const void *base, size_t n, size_t stride,
                   size_t name_off)
{
    size_t used = 0;

    if (outlen == 0)
        return;
    out[0] = '\0';
    for (size_t i = 0; i < n && used < outlen; i++) {
        const char *name = *(const char *const *)((const char *)base + i * stride + name_off);
        int w = snprintf(out + used, outlen - used, "%s%s", i ? ", " : "", name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}
