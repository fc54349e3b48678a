/*
 * normalize.c: preset-driven mapping to the ticket model (normalize.h).
 */
#include "ingest/normalize.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/html_text.h"
#include "core/jsonx.h"

static json_t *dh__base(const struct dh_preset *p, json_t *payload)
{
    for (size_t i = 0; i < p->nunwrap; i++) {
        json_t *inner = json_object_get(payload, p->unwrap[i]);
        if (json_is_object(inner))
            return inner;
    }
    return payload;
}

/* Returns a new value for field f from v (a found payload value), or NULL
 * when it does not fit. */
static json_t *dh__convert(const struct dh_preset_field *f, json_t *v)
{
    char *s;
    json_t *out;

    if (f->any_type)
        return json_incref(v);
    s = dh_json_scalar_string(v);
    if (s == NULL)
        return NULL; /* an object or array where a string belongs */
    if (f->transform == DH_TR_LOWER) {
        for (char *c = s; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    } else if (f->transform == DH_TR_HTML_TO_TEXT) {
        char *t = dh_html_to_text(s, strlen(s));
        free(s);
        s = t;
    }
    if (f->map != NULL) {
        json_t *m = json_object_get(f->map, s);
        if (json_is_string(m)) {
            free(s);
            return json_string(json_string_value(m));
        }
    }
    out = json_stringn(s, strlen(s)); /* NULL if not UTF-8: left out */
    free(s);
    return out;
}

/* Returns the new value for field f: the first path (inside the wrapper,
 * then in the whole payload) whose value is present and fits. A value that
 * does not fit (an object where a string belongs) does not stop the search. */
static json_t *dh__find(const struct dh_preset_field *f, json_t *base, json_t *payload)
{
    for (int pass = 0; pass < (base != payload ? 2 : 1); pass++) {
        json_t *root = pass == 0 ? base : payload;
        for (size_t i = 0; i < f->npaths; i++) {
            json_t *v = dh_json_get_path(root, f->paths[i]);
            json_t *nv;
            if (v == NULL || json_is_null(v))
                continue;
            if (json_is_string(v) && json_string_length(v) == 0)
                continue;
            nv = dh__convert(f, v);
            if (nv != NULL)
                return nv;
        }
    }
    return NULL;
}

void dh_normalize(const struct dh_preset *p, const struct dh_preset_field *fields,
                  size_t nfields, json_t *payload, json_t *doc)
{
    json_t *base = dh__base(p, payload);

    for (size_t i = 0; i < nfields; i++) {
        const struct dh_preset_field *f = &fields[i];
        json_t *nv = dh__find(f, base, payload);
        if (nv == NULL && f->def != NULL)
            nv = json_string(f->def);
        if (nv != NULL)
            dh_json_set_path(doc, f->target, nv);
    }
}

int dh_normalize_event_type_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > DH_EVENT_TYPE_MAX)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != ':' && *s != '-')
            return 0;
    return 1;
}

const char *dh_normalize_event_type(const struct dh_preset *p, json_t *payload)
{
    json_t *base = dh__base(p, payload);
    for (size_t i = 0; i < p->nevent_paths; i++) {
        json_t *v = dh_json_get_path(base, p->event_paths[i]);
        if (v == NULL && base != payload)
            v = dh_json_get_path(payload, p->event_paths[i]);
        if (json_is_string(v) && dh_normalize_event_type_valid(json_string_value(v)))
            return json_string_value(v);
    }
    return NULL;
}

const char *dh_normalize_delivery_id(const struct dh_preset *p, json_t *payload, char *out,
                                     size_t outlen)
{
    json_t *base = dh__base(p, payload);
    for (size_t i = 0; i < p->ndelivery_id_paths; i++) {
        json_t *v = dh_json_get_path(base, p->delivery_id_paths[i]);
        char *s;
        if (v == NULL && base != payload)
            v = dh_json_get_path(payload, p->delivery_id_paths[i]);
        s = v != NULL ? dh_json_scalar_string(v) : NULL;
        if (s != NULL && s[0] != '\0' && strlen(s) < outlen) {
            snprintf(out, outlen, "%s", s);
            free(s);
            return out;
        }
        free(s);
    }
    return NULL;
}

const char *dh_normalize_map_event_type(const struct dh_preset *p, char *const *source_map,
                                        size_t npairs, const char *type)
{
    const char *pre = p->event_strip_prefix;
    json_t *m;

    if (pre != NULL && strncmp(type, pre, strlen(pre)) == 0 && type[strlen(pre)] != '\0')
        type += strlen(pre);
    for (size_t i = 0; i < npairs; i++)
        if (strcmp(source_map[2 * i], type) == 0)
            return source_map[2 * i + 1];
    m = p->event_map != NULL ? json_object_get(p->event_map, type) : NULL;
    if (json_is_string(m))
        return json_string_value(m);
    return type;
}
