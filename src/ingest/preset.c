/*
 * preset.c: parsing the embedded provider presets (preset.h).
 */
#include "ingest/preset.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/strs.h"

struct dh_embedded {
    const char *name;
    const char *data;
    size_t len;
};
extern const struct dh_embedded dh_presets_embedded[];

static struct dh_preset *dh__presets;
static size_t dh__npresets;

static char *dh__str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? dh_strdup(json_string_value(v)) : NULL;
}

static char **dh__strs(json_t *arr, size_t *n)
{
    char **out;
    *n = 0;
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return NULL;
    out = dh_calloc(json_array_size(arr), sizeof(char *));
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (json_is_string(json_array_get(arr, i)))
            out[(*n)++] = dh_strdup(json_string_value(json_array_get(arr, i)));
    return out;
}

static int dh__parse(const struct dh_embedded *e, struct dh_preset *p, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(e->data, e->len, 0, &je);
    json_t *fields, *ev;
    const char *key;
    json_t *spec;

    if (root == NULL) {
        snprintf(err, errlen, "preset %s: %s at line %d", e->name, je.text, je.line);
        return DH_E_CONFIG;
    }
    p->name = dh__str(root, "name");
    p->provider = dh__str(root, "provider");
    p->description = dh__str(root, "description");
    p->signature = dh__str(root, "signature");
    p->delivery_id_header = dh__str(root, "delivery_id_header");
    p->delivery_id_paths = dh__strs(json_object_get(root, "delivery_id_paths"),
                                    &p->ndelivery_id_paths);
    p->unwrap = dh__strs(json_object_get(root, "unwrap"), &p->nunwrap);
    p->required = dh__strs(json_object_get(root, "required"), &p->nrequired);
    ev = json_object_get(root, "event_type");
    p->event_header = dh__str(ev, "header");
    p->event_paths = dh__strs(json_object_get(ev, "paths"), &p->nevent_paths);
    p->event_strip_prefix = dh__str(ev, "strip_prefix");
    if (json_is_object(json_object_get(ev, "map")))
        p->event_map = json_incref(json_object_get(ev, "map"));
    p->signature_scheme = dh__str(root, "signature_scheme");
    {
        const char *events = json_string_value(json_object_get(root, "events"));
        p->array_events = events != NULL && strcmp(events, "array") == 0;
    }
    fields = json_object_get(root, "fields");
    if (p->name == NULL || p->provider == NULL || !json_is_object(fields)) {
        snprintf(err, errlen, "preset %s: needs name, provider and fields", e->name);
        json_decref(root);
        return DH_E_CONFIG;
    }
    p->fields = dh_calloc(json_object_size(fields), sizeof(*p->fields));
    json_object_foreach(fields, key, spec)
    {
        struct dh_preset_field *f = &p->fields[p->nfields++];
        const char *tr = json_string_value(json_object_get(spec, "transform"));
        const char *type = json_string_value(json_object_get(spec, "type"));
        f->target = dh_strdup(key);
        f->paths = dh__strs(json_object_get(spec, "paths"), &f->npaths);
        f->any_type = type != NULL && strcmp(type, "any") == 0;
        f->transform = tr == NULL                         ? DH_TR_NONE
                       : strcmp(tr, "lower") == 0         ? DH_TR_LOWER
                       : strcmp(tr, "html_to_text") == 0 ? DH_TR_HTML_TO_TEXT
                                                          : DH_TR_NONE;
        f->map = json_incref(json_object_get(spec, "map"));
        f->def = dh__str(spec, "default");
    }
    json_decref(root);
    return 0;
}

int dh_preset_load_all(char *err, size_t errlen)
{
    size_t n = 0;

    if (dh__presets != NULL)
        return 0;
    while (dh_presets_embedded[n].name != NULL)
        n++;
    dh__presets = dh_calloc(n ? n : 1, sizeof(*dh__presets));
    for (size_t i = 0; i < n; i++) {
        int rc = dh__parse(&dh_presets_embedded[i], &dh__presets[i], err, errlen);
        dh__npresets = i + 1;
        if (rc < 0)
            return rc;
    }
    return 0;
}

const struct dh_preset *dh_preset_find(const char *name)
{
    for (size_t i = 0; i < dh__npresets; i++)
        if (strcmp(dh__presets[i].name, name) == 0)
            return &dh__presets[i];
    return NULL;
}

int dh_preset_known_field(const char *path)
{
    static const char *const model[] = {
        "id", "source", "provider", "type", "received_at", "dedupe_key", "platform", "metadata",
        "ticket.id", "ticket.subject", "ticket.body", "ticket.body_html", "ticket.status",
        "ticket.priority", "ticket.tags", "ticket.category", "ticket.channel", "ticket.url",
        "customer.id", "customer.name", "customer.email", "message.id",
        "message.conversation_id", "message.text", "message.author", "message.role", NULL};
    for (const char *const *t = model; *t; t++)
        if (strcmp(path, *t) == 0)
            return 1;
    if (strncmp(path, "metadata.", 9) == 0 && path[9] != '\0')
        return 1;
    for (size_t i = 0; i < dh__npresets; i++)
        for (size_t k = 0; k < dh__presets[i].nfields; k++)
            if (strcmp(dh__presets[i].fields[k].target, path) == 0)
                return 1;
    return 0;
}

int dh_preset_model_path(const char *path)
{
    static const char *const prefixes[] = {"ticket.", "customer.", "message.", "metadata.", NULL};
    if (strcmp(path, "platform") == 0 || strcmp(path, "metadata") == 0)
        return 1;
    for (const char *const *t = prefixes; *t; t++)
        if (strncmp(path, *t, strlen(*t)) == 0 && path[strlen(*t)] != '\0')
            return 1;
    return 0;
}

void dh_preset_names(char *out, size_t outlen)
{
    dh_join_names(out, outlen, dh__presets, dh__npresets, sizeof(dh__presets[0]),
                  offsetof(struct dh_preset, name));
}

static void dh__free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

void dh_preset_free_all(void)
{
    for (size_t i = 0; i < dh__npresets; i++) {
        struct dh_preset *p = &dh__presets[i];
        for (size_t k = 0; k < p->nfields; k++) {
            struct dh_preset_field *f = &p->fields[k];
            free(f->target);
            dh__free_list(f->paths, f->npaths);
            json_decref(f->map);
            free(f->def);
        }
        free(p->fields);
        free(p->name);
        free(p->provider);
        free(p->description);
        free(p->signature);
        free(p->delivery_id_header);
        dh__free_list(p->delivery_id_paths, p->ndelivery_id_paths);
        free(p->event_header);
        free(p->event_strip_prefix);
        free(p->signature_scheme);
        json_decref(p->event_map);
        dh__free_list(p->unwrap, p->nunwrap);
        dh__free_list(p->event_paths, p->nevent_paths);
        dh__free_list(p->required, p->nrequired);
    }
    free(dh__presets);
    dh__presets = NULL;
    dh__npresets = 0;
}
