/*
 * template.c: {{path}} templates over JSON (template.h).
 */
#include "core/template.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/jsonx.h"

#define DH__TEMPLATE_MAX (1u << 20) /* longest rendered string */

static json_t *dh__lookup(json_t *ctx, const char *p, size_t n)
{
    char path[256];
    while (n > 0 && *p == ' ') {
        p++;
        n--;
    }
    while (n > 0 && p[n - 1] == ' ')
        n--;
    if (n == 0 || n >= sizeof(path))
        return NULL;
    memcpy(path, p, n);
    path[n] = '\0';
    return dh_json_get_path(ctx, path);
}

static json_t *dh__render_string(const char *s, json_t *ctx)
{
    size_t len = strlen(s);
    struct dh_buf b;

    /* Exactly one placeholder: keep the value's type. */
    if (len > 4 && strncmp(s, "{{", 2) == 0 && strcmp(s + len - 2, "}}") == 0 &&
        strstr(s + 2, "{{") == NULL && strstr(s + 2, "}}") == s + len - 2) {
        json_t *v = dh__lookup(ctx, s + 2, len - 4);
        return v ? json_deep_copy(v) : json_null();
    }
    dh_buf_init(&b, DH__TEMPLATE_MAX);
    while (*s) {
        const char *open = strstr(s, "{{");
        const char *close = open ? strstr(open + 2, "}}") : NULL;
        if (open == NULL || close == NULL) {
            dh_buf_puts(&b, s);
            break;
        }
        dh_buf_append(&b, s, (size_t)(open - s));
        json_t *v = dh__lookup(ctx, open + 2, (size_t)(close - open - 2));
        char *txt = v ? dh_json_scalar_string(v) : NULL;
        if (txt == NULL && v != NULL && !json_is_null(v))
            txt = dh_json_dump(v);
        if (txt != NULL)
            dh_buf_puts(&b, txt);
        free(txt);
        s = close + 2;
    }
    json_t *out = json_stringn(b.data ? b.data : "", b.len);
    dh_buf_free(&b);
    return out ? out : json_string("");
}

json_t *dh_template_render(const json_t *tmpl, json_t *ctx)
{
    if (json_is_string(tmpl))
        return dh__render_string(json_string_value(tmpl), ctx);
    if (json_is_object(tmpl)) {
        json_t *out = json_object();
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)tmpl, key, v)
            json_object_set_new(out, key, dh_template_render(v, ctx));
        return out;
    }
    if (json_is_array(tmpl)) {
        json_t *out = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(tmpl, i, v)
            json_array_append_new(out, dh_template_render(v, ctx));
        return out;
    }
    return json_deep_copy(tmpl);
}
