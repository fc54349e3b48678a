/*
 * yamltree.c: YAML to dh_ynode tree with env substitution (yamltree.h).
 */
#include "config/yamltree.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"

#define DH_Y_MAX_DEPTH 32
#define DH_Y_MAX_NODES 100000

void dh_errlist_add(struct dh_errlist *el, const char *file, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    el->lines = dh_realloc(el->lines, (el->n + 1) * sizeof(char *));
    el->lines[el->n++] = dh_asprintf("%s:%d: %s", file, line, msg);
}

void dh_errlist_free(struct dh_errlist *el)
{
    for (size_t i = 0; i < el->n; i++)
        free(el->lines[i]);
    free(el->lines);
    el->lines = NULL;
    el->n = 0;
}

char *dh_env_substitute(const char *s, char *missing, size_t missinglen)
{
    struct dh_buf b;

    dh_buf_init(&b, 1 << 20);
    while (*s != '\0') {
        if (s[0] == '$' && s[1] == '$') {
            dh_buf_append(&b, "$", 1);
            s += 2;
            continue;
        }
        if (s[0] == '$' && s[1] == '{') {
            const char *end = strchr(s + 2, '}');
            if (end != NULL) {
                char name[256];
                const char *def = NULL;
                size_t deflen = 0;
                const char *p = s + 2;
                size_t n = 0;
                while (p < end && (isalnum((unsigned char)*p) || *p == '_') && n + 1 < sizeof(name))
                    name[n++] = *p++;
                name[n] = '\0';
                if (p + 1 < end && p[0] == ':' && p[1] == '-') {
                    def = p + 2;
                    deflen = (size_t)(end - def);
                } else if (p != end) {
                    /* Not a variable reference after all: keep the text. */
                    dh_buf_append(&b, s, 1);
                    s++;
                    continue;
                }
                const char *val = n > 0 ? getenv(name) : NULL;
                if (val != NULL && (val[0] != '\0' || def == NULL))
                    dh_buf_puts(&b, val);
                else if (def != NULL)
                    dh_buf_append(&b, def, deflen);
                else if (missing != NULL && missing[0] == '\0')
                    snprintf(missing, missinglen, "%s", name);
                s = end + 1;
                continue;
            }
        }
        dh_buf_append(&b, s, 1);
        s++;
    }
    return dh_buf_steal(&b, NULL);
}

struct dh__yctx {
    const char *file;
    yaml_document_t *doc;
    struct dh_errlist *el;
    int nodes;
};

static struct dh_ynode *dh__convert(struct dh__yctx *c, yaml_node_t *yn, int depth)
{
    struct dh_ynode *n;

    if (yn == NULL)
        return NULL;
    n = dh_new(struct dh_ynode);
    n->line = (int)yn->start_mark.line + 1;
    /* Aliases are expanded here; a few lines of them can name billions of
     * nodes ("billion laughs"), so the whole tree has a budget. */
    if (++c->nodes > DH_Y_MAX_NODES) {
        if (c->nodes == DH_Y_MAX_NODES + 1)
            dh_errlist_add(c->el, c->file, n->line,
                           "more than %d values (are aliases expanding too far?)",
                           DH_Y_MAX_NODES);
        n->kind = DH_Y_SCALAR;
        n->value = dh_strdup("");
        return n;
    }
    if (depth > DH_Y_MAX_DEPTH) {
        dh_errlist_add(c->el, c->file, n->line, "nesting deeper than %d levels", DH_Y_MAX_DEPTH);
        n->kind = DH_Y_SCALAR;
        n->value = dh_strdup("");
        return n;
    }
    switch (yn->type) {
    case YAML_SCALAR_NODE: {
        char missing[256] = "";
        const char *raw = (const char *)yn->data.scalar.value;
        n->kind = DH_Y_SCALAR;
        n->quoted = yn->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        n->plain_null = !n->quoted && (raw[0] == '\0' || strcmp(raw, "~") == 0 ||
                                       strcmp(raw, "null") == 0);
        n->value = dh_env_substitute(raw, missing, sizeof(missing));
        if (missing[0] != '\0')
            dh_errlist_add(c->el, c->file, n->line,
                           "environment variable %s is not set and has no default "
                           "(write ${%s:-default} to give one)",
                           missing, missing);
        break;
    }
    case YAML_MAPPING_NODE: {
        yaml_node_pair_t *p;
        n->kind = DH_Y_MAP;
        for (p = yn->data.mapping.pairs.start; p < yn->data.mapping.pairs.top; p++) {
            struct dh_ynode *k = dh__convert(c, yaml_document_get_node(c->doc, p->key), depth + 1);
            struct dh_ynode *v = dh__convert(c, yaml_document_get_node(c->doc, p->value), depth + 1);
            if (k->kind != DH_Y_SCALAR) {
                dh_errlist_add(c->el, c->file, k->line, "map keys must be plain words");
                dh_ytree_free(k);
                dh_ytree_free(v);
                continue;
            }
            if (dh_ytree_get(n, k->value) != NULL) {
                /* Reported, and the repeat dropped: one value per key. */
                dh_errlist_add(c->el, c->file, k->line, "key \"%s\" is given twice", k->value);
                dh_ytree_free(k);
                dh_ytree_free(v);
                continue;
            }
            n->keys = dh_realloc(n->keys, (n->n + 1) * sizeof(*n->keys));
            n->items = dh_realloc(n->items, (n->n + 1) * sizeof(*n->items));
            n->keys[n->n] = k;
            n->items[n->n] = v;
            n->n++;
        }
        break;
    }
    case YAML_SEQUENCE_NODE: {
        yaml_node_item_t *it;
        n->kind = DH_Y_SEQ;
        for (it = yn->data.sequence.items.start; it < yn->data.sequence.items.top; it++) {
            n->items = dh_realloc(n->items, (n->n + 1) * sizeof(*n->items));
            n->items[n->n++] = dh__convert(c, yaml_document_get_node(c->doc, *it), depth + 1);
        }
        break;
    }
    default:
        n->kind = DH_Y_SCALAR;
        n->value = dh_strdup("");
        break;
    }
    return n;
}

int dh_ytree_parse(const char *file, const char *text, size_t len, struct dh_ynode **out,
                   struct dh_errlist *el)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    struct dh__yctx c = {file, &doc, el, 0};
    int rc = 0;

    *out = NULL;
    if (!yaml_parser_initialize(&parser))
        return -ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        dh_errlist_add(el, file, (int)parser.problem_mark.line + 1, "YAML syntax: %s%s%s",
                       parser.problem ? parser.problem : "error",
                       parser.context ? " " : "", parser.context ? parser.context : "");
        rc = DH_E_CONFIG;
        goto out;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root == NULL) {
        dh_errlist_add(el, file, 1, "the file is empty");
        rc = DH_E_CONFIG;
    } else {
        *out = dh__convert(&c, root, 0);
    }
    yaml_document_delete(&doc);
out:
    yaml_parser_delete(&parser);
    return rc;
}

void dh_ytree_free(struct dh_ynode *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys != NULL)
            dh_ytree_free(n->keys[i]);
        dh_ytree_free(n->items[i]);
    }
    free(n->keys);
    free(n->items);
    free(n->value);
    free(n);
}

struct dh_ynode *dh_ytree_get(const struct dh_ynode *map, const char *key)
{
    if (map == NULL || map->kind != DH_Y_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->value, key) == 0)
            return map->items[i];
    return NULL;
}

json_t *dh_ytree_to_json(const struct dh_ynode *n)
{
    if (n == NULL)
        return json_null();
    if (n->kind == DH_Y_MAP) {
        json_t *o = json_object();
        for (size_t i = 0; i < n->n; i++)
            json_object_set_new(o, n->keys[i]->value, dh_ytree_to_json(n->items[i]));
        return o;
    }
    if (n->kind == DH_Y_SEQ) {
        json_t *a = json_array();
        for (size_t i = 0; i < n->n; i++)
            json_array_append_new(a, dh_ytree_to_json(n->items[i]));
        return a;
    }
    if (!n->quoted) {
        const char *v = n->value;
        char *end = NULL;
        if (n->plain_null)
            return json_null();
        if (strcmp(v, "true") == 0)
            return json_true();
        if (strcmp(v, "false") == 0)
            return json_false();
        if (*v != '\0') {
            long long i = strtoll(v, &end, 10);
            if (*end == '\0')
                return json_integer(i);
            double d = strtod(v, &end);
            if (*end == '\0')
                return json_real(d);
        }
    }
    json_t *s = json_string(n->value);
    return s ? s : json_string("");
}
