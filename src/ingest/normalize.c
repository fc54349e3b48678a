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

/* The wrapper to read inside (freshdesk_webhook), or root itself. */
static int dh__base(const struct dh_preset *p, const struct dh_jscan *js, int root)
{
    for (size_t i = 0; i < p->nunwrap; i++) {
        int t = dh_jscan_member(js, root, p->unwrap[i], strlen(p->unwrap[i]));
        if (t >= 0 && js->toks[t].type == DH_J_OBJECT)
            return t;
    }
    return root;
}

/* A field's value from token t, or 0 when it does not fit (an object where
 * a string belongs); fills v. */
static int dh__convert(const struct dh_preset_field *f, const struct dh_jscan *js, int t,
                       struct dh_norm_value *v)
{
    const struct dh_jtok *tok = &js->toks[t];
    char *s;
    size_t n;

    if (f->any_type) {
        /* Copied as the sender wrote it (strings with their quotes). */
        size_t start = tok->type == DH_J_STRING ? tok->start - 1 : tok->start;
        size_t end = tok->type == DH_J_STRING ? tok->end + 1 : tok->end;
        v->text = dh_strndup(js->buf + start, end - start);
        v->len = end - start;
        v->json = 1;
        return 1;
    }
    s = dh_jscan_text(js, t, &n);
    if (s == NULL)
        return 0;
    if (f->transform == DH_TR_LOWER) {
        for (size_t i = 0; i < n; i++)
            s[i] = (char)tolower((unsigned char)s[i]);
    } else if (f->transform == DH_TR_HTML_TO_TEXT) {
        char *t2 = dh_html_to_text(s, n);
        free(s);
        s = t2;
        n = strlen(s);
    }
    if (f->map != NULL && strlen(s) == n) {
        json_t *m = json_object_get(f->map, s);
        if (json_is_string(m)) {
            free(s);
            s = dh_strdup(json_string_value(m));
            n = strlen(s);
        }
    }
    v->text = s;
    v->len = n;
    v->json = 0;
    return 1;
}

/* The first path (inside the wrapper, then in the whole event) whose value
 * is present and fits. A value that does not fit does not stop the search. */
static int dh__find(const struct dh_preset_field *f, const struct dh_jscan *js, int base,
                    int root, struct dh_norm_value *v)
{
    for (int pass = 0; pass < (base != root ? 2 : 1); pass++) {
        for (size_t i = 0; i < f->npaths; i++) {
            int t = dh_jscan_path(js, pass == 0 ? base : root, f->paths[i]);
            if (t < 0 || js->toks[t].type == DH_J_NULL)
                continue;
            if (js->toks[t].type == DH_J_STRING && js->toks[t].end == js->toks[t].start)
                continue;
            if (dh__convert(f, js, t, v))
                return 1;
        }
    }
    return 0;
}

void dh_normalize(const struct dh_preset *p, const struct dh_preset_field *fields,
                  size_t nfields, const struct dh_jscan *js, int root, struct dh_norm *nv)
{
    int base = dh__base(p, js, root);

    nv->n = 0;
    for (size_t i = 0; i < nfields && nv->n < DH_NORM_MAX; i++) {
        const struct dh_preset_field *f = &fields[i];
        struct dh_norm_value *v = &nv->v[nv->n];
        v->target = f->target;
        if (dh__find(f, js, base, root, v)) {
            nv->n++;
        } else if (f->def != NULL) {
            v->text = dh_strdup(f->def);
            v->len = strlen(v->text);
            v->json = 0;
            nv->n++;
        }
    }
}

const char *dh_norm_get(const struct dh_norm *nv, const char *target)
{
    for (size_t i = 0; i < nv->n; i++)
        if (strcmp(nv->v[i].target, target) == 0)
            return nv->v[i].text;
    return NULL;
}

void dh_norm_default(struct dh_norm *nv, const char *target, const char *text)
{
    if (dh_norm_get(nv, target) != NULL || nv->n >= DH_NORM_MAX)
        return;
    nv->v[nv->n].target = target;
    nv->v[nv->n].text = dh_strdup(text);
    nv->v[nv->n].len = strlen(text);
    nv->v[nv->n].json = 0;
    nv->n++;
}

void dh_norm_clear(struct dh_norm *nv)
{
    for (size_t i = 0; i < nv->n; i++)
        free(nv->v[i].text);
    nv->n = 0;
}

int dh_json_write_string(struct dh_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    int rc = dh_buf_append(out, "\"", 1);

    for (size_t i = 0; i < len && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        size_t en = 0;
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++; /* the common case: copied later with its neighbours */
            continue;
        }
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            en = 2;
        } else if (c < 0x20) {
            esc[0] = '\\';
            switch (c) {
            case '\n': esc[1] = 'n'; en = 2; break;
            case '\r': esc[1] = 'r'; en = 2; break;
            case '\t': esc[1] = 't'; en = 2; break;
            case '\b': esc[1] = 'b'; en = 2; break;
            case '\f': esc[1] = 'f'; en = 2; break;
            default:
                memcpy(esc + 1, "u00", 3);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                en = 6;
            }
        }
        if (en == 0) {
            run++;
            continue;
        }
        rc = dh_buf_append(out, s + i - run, run);
        run = 0;
        if (rc == 0)
            rc = dh_buf_append(out, esc, en);
    }
    if (rc == 0)
        rc = dh_buf_append(out, s + len - run, run);
    if (rc == 0)
        rc = dh_buf_append(out, "\"", 1);
    return rc;
}

/* Writes the members under prefix (e.g. "ticket."), nesting deeper dotted
 * targets, in the order the fields first name them. */
static int dh__write_group(const struct dh_norm *nv, const char *prefix, size_t plen,
                           struct dh_buf *out, int *first)
{
    int rc = 0;
    for (size_t i = 0; i < nv->n && rc == 0; i++) {
        const char *t = nv->v[i].target;
        if (strncmp(t, prefix, plen) != 0)
            continue;
        const char *seg = t + plen;
        size_t sl = strcspn(seg, ".");
        int seen = 0;
        /* Written already, by an earlier field of the same segment? */
        for (size_t k = 0; k < i && !seen; k++)
            seen = strncmp(nv->v[k].target, prefix, plen) == 0 &&
                   strncmp(nv->v[k].target + plen, seg, sl) == 0 &&
                   (nv->v[k].target[plen + sl] == '\0' || nv->v[k].target[plen + sl] == '.');
        if (seen)
            continue;
        rc = dh_buf_append(out, *first ? "" : ",", *first ? 0 : 1);
        *first = 0;
        if (rc == 0)
            rc = dh_json_write_string(out, seg, sl);
        if (rc == 0)
            rc = dh_buf_append(out, ":", 1);
        /* A field naming the segment itself wins over deeper ones. */
        const struct dh_norm_value *exact = NULL;
        for (size_t k = i; k < nv->n && exact == NULL; k++)
            if (strncmp(nv->v[k].target, prefix, plen) == 0 &&
                strlen(nv->v[k].target + plen) == sl &&
                strncmp(nv->v[k].target + plen, seg, sl) == 0)
                exact = &nv->v[k];
        if (rc < 0)
            break;
        if (exact != NULL) {
            rc = exact->json ? dh_buf_append(out, exact->text, exact->len)
                             : dh_json_write_string(out, exact->text, exact->len);
        } else {
            char sub[256];
            int inner_first = 1;
            if (plen + sl + 1 >= sizeof(sub))
                return -1;
            memcpy(sub, t, plen + sl);
            sub[plen + sl] = '.';
            sub[plen + sl + 1] = '\0';
            rc = dh_buf_append(out, "{", 1);
            if (rc == 0)
                rc = dh__write_group(nv, sub, plen + sl + 1, out, &inner_first);
            if (rc == 0)
                rc = dh_buf_append(out, "}", 1);
        }
    }
    return rc;
}

int dh_norm_write(const struct dh_norm *nv, struct dh_buf *out)
{
    int first = 0; /* members follow the document's own fields */
    return dh__write_group(nv, "", 0, out, &first);
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

/* The first of paths (inside the wrapper, then the whole event) holding a
 * scalar that fits in out and passes valid (when given). */
static const char *dh__first_text(const struct dh_preset *p, char *const *paths, size_t npaths,
                                  const struct dh_jscan *js, int root, int (*valid)(const char *),
                                  char *out, size_t outlen)
{
    int base = dh__base(p, js, root);
    for (size_t i = 0; i < npaths; i++) {
        int t = dh_jscan_path(js, base, paths[i]);
        if (t < 0 && base != root)
            t = dh_jscan_path(js, root, paths[i]);
        size_t n = 0;
        char *s = t >= 0 ? dh_jscan_text(js, t, &n) : NULL;
        if (s != NULL && n > 0 && n < outlen && strlen(s) == n && (valid == NULL || valid(s))) {
            memcpy(out, s, n + 1);
            free(s);
            return out;
        }
        free(s);
    }
    return NULL;
}

const char *dh_normalize_event_type(const struct dh_preset *p, const struct dh_jscan *js,
                                    int root, char *out, size_t outlen)
{
    return dh__first_text(p, p->event_paths, p->nevent_paths, js, root,
                          dh_normalize_event_type_valid, out, outlen);
}

const char *dh_normalize_delivery_id(const struct dh_preset *p, const struct dh_jscan *js,
                                     int root, char *out, size_t outlen)
{
    return dh__first_text(p, p->delivery_id_paths, p->ndelivery_id_paths, js, root, NULL, out,
                          outlen);
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
