/*
 * preset.h: provider presets, loaded from data (the JSON files in providers/).
 *
 * A preset says, per ticket-model field, which payload paths to try in order,
 * how to transform the value (lower-case, HTML to text) and how to map it
 * (priority 1..4 to low..urgent); where the event type comes from; which
 * header carries the provider's delivery id; and which fields are required.
 * The JSON files are compiled into the binary; presets are immutable after
 * dh_preset_load_all() and shared read-only by all threads.
 */
#ifndef DH_PRESET_H
#define DH_PRESET_H

#include <stddef.h>

#include <jansson.h>

enum dh_field_transform { DH_TR_NONE, DH_TR_LOWER, DH_TR_HTML_TO_TEXT };

struct dh_preset_field {
    char *target;  /* ticket-model path, e.g. "ticket.priority" */
    char **paths;  /* payload paths, tried in order */
    size_t npaths;
    int any_type;  /* keep objects/arrays/numbers as they are */
    enum dh_field_transform transform;
    json_t *map;   /* value map (object of strings) or NULL */
    char *def;     /* default when no path matches, or NULL */
};

struct dh_preset {
    char *name;
    char *provider;
    char *description;
    char *signature;
    char **unwrap;   /* wrapper keys to look inside first */
    size_t nunwrap;
    char *signature_scheme; /* the auth scheme the platform signs with, or NULL */
    int array_events;       /* the body is a JSON array, one event per element */
    char *event_header;
    char **event_paths;
    size_t nevent_paths;
    char *event_strip_prefix; /* removed from event types before mapping */
    json_t *event_map;        /* platform event type -> deskhook's, or NULL */
    char *delivery_id_header;
    char **delivery_id_paths; /* payload paths of the delivery id, tried after the header */
    size_t ndelivery_id_paths;
    char **required;
    size_t nrequired;
    struct dh_preset_field *fields;
    size_t nfields;
};

/* Parses every embedded preset. Returns 0, or DH_E_CONFIG with the reason in
 * err (a broken preset file is a build defect). Main thread, at start. */
int dh_preset_load_all(char *err, size_t errlen);
/* Returns the preset called name, or NULL. Any thread after loading. */
const struct dh_preset *dh_preset_find(const char *name);
/* Returns 1 when path is a field of the ticket model (DESIGN section 3) or
 * one some preset fills: what `required:` and `rate_limit.key` may name. */
int dh_preset_known_field(const char *path);
/* Returns 1 when path may be filled by a source's own `fields:` entry:
 * anything under ticket., customer., message. or metadata, or platform. */
int dh_preset_model_path(const char *path);
/* Writes the names of all presets, comma separated, into out. */
void dh_preset_names(char *out, size_t outlen);
/* Frees all presets (at exit). */
void dh_preset_free_all(void);

#endif
