/*
 * jsonx.c: jansson helpers (jsonx.h).
 */
#include "core/jsonx.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

static json_t *dh__child(json_t *node, const char *seg, size_t n)
{
    char key[256];

    if (n >= sizeof(key))
        return NULL;
    memcpy(key, seg, n);
    key[n] = '\0';
    if (json_is_object(node))
        return json_object_get(node, key);
    if (json_is_array(node)) {
        char *end = NULL;
        unsigned long idx;
        if (n == 0 || key[0] < '0' || key[0] > '9')
            return NULL;
        idx = strtoul(key, &end, 10);
        if (*end != '\0')
            return NULL;
        return json_array_get(node, idx);
    }
    return NULL;
}

json_t *dh_json_get_path(json_t *root, const char *path)
{
    json_t *node = root;
    const char *seg = path;

    while (node != NULL) {
        const char *dot = strchr(seg, '.');
        size_t n = dot ? (size_t)(dot - seg) : strlen(seg);
        node = dh__child(node, seg, n);
        if (dot == NULL)
            return node;
        seg = dot + 1;
    }
    return NULL;
}

void dh_json_format_real(double d, char *out, size_t outlen)
{
    /* Whole numbers below 1e21 print as integers, as JavaScript prints
     * them; anything else as the shortest form that reads back. */
    if (isfinite(d) && d == floor(d) && fabs(d) < 1e21) {
        snprintf(out, outlen, "%.0f", d);
        return;
    }
    snprintf(out, outlen, "%.15g", d);
    if (strtod(out, NULL) != d)
        snprintf(out, outlen, "%.17g", d);
}

char *dh_json_scalar_string(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return dh_strndup(json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return dh_asprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL: {
        char buf[DH_JSON_REAL_MAX];
        dh_json_format_real(json_real_value(v), buf, sizeof(buf));
        return dh_strdup(buf);
    }
    case JSON_TRUE:
        return dh_strdup("true");
    case JSON_FALSE:
        return dh_strdup("false");
    default:
        return NULL;
    }
}

char *dh_json_dump(const json_t *v)
{
    char *s = json_dumps(v, DH_JSON_DUMP_FLAGS);
    if (s == NULL)
        s = dh_strdup("null");
    return s;
}
