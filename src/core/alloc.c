/*
 * alloc.c: the one allocation wrapper; see alloc.h for why it aborts.
 */
#include "core/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void dh__oom(size_t size)
{
    fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"out of memory\",\"size\":%zu}\n", size);
    abort();
}

void *dh_calloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (p == NULL)
        dh__oom(nmemb * size);
    return p;
}

void *dh_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        dh__oom(size);
    return p;
}

void *dh_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (p == NULL)
        dh__oom(size);
    return p;
}

char *dh_strdup(const char *s)
{
    if (s == NULL)
        return NULL;
    return dh_strndup(s, strlen(s));
}

char *dh_strndup(const char *s, size_t n)
{
    char *p = dh_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *dh_asprintf(const char *fmt, ...)
{
    va_list ap;
    char *p = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (n < 0)
        dh__oom(0);
    return p;
}
