/*
 * normalize.h: payloads to the ticket model (DESIGN section 3), driven by a
 * preset, over a scanned body (core/jscan.h): values are picked out where
 * they lie and the document is written straight into a buffer, with no
 * tree of allocated nodes on the ingest path. Any thread; a struct dh_norm
 * belongs to the request that filled it.
 */
#ifndef DH_NORMALIZE_H
#define DH_NORMALIZE_H

#include <stddef.h>

#include "core/buf.h"
#include "core/jscan.h"
#include "ingest/preset.h"

#define DH_EVENT_TYPE_MAX 64
#define DH_NORM_MAX 64 /* fields one document can have */

/* One normalized field. */
struct dh_norm_value {
    const char *target; /* e.g. "ticket.subject" (borrowed from the field spec) */
    char *text;         /* the value: text, or JSON when json is set */
    size_t len;
    int json;           /* text is a JSON value (type "any" fields) */
};

struct dh_norm {
    struct dh_norm_value v[DH_NORM_MAX];
    size_t n;
};

/* Fills nv from the event at token root of js with the given field specs
 * (the preset's, or a source's version of them), reading inside the
 * preset's wrapper first. Fields no path finds are left out; ticket.id,
 * customer.id and message.id are always strings. */
void dh_normalize(const struct dh_preset *p, const struct dh_preset_field *fields,
                  size_t nfields, const struct dh_jscan *js, int root, struct dh_norm *nv);
/* Returns the text of target in nv (NUL-terminated), or NULL. */
const char *dh_norm_get(const struct dh_norm *nv, const char *target);
/* Adds a string value for target unless nv already has one. Copies text. */
void dh_norm_default(struct dh_norm *nv, const char *target, const char *text);
/* Appends the fields as JSON members, nested by their dotted targets
 * (",\"ticket\":{…},\"customer\":{…}"), each preceded by a comma. */
int dh_norm_write(const struct dh_norm *nv, struct dh_buf *out);
void dh_norm_clear(struct dh_norm *nv);

/* Copies the event type the payload names through the preset's paths into
 * out and returns out, or returns NULL. */
const char *dh_normalize_event_type(const struct dh_preset *p, const struct dh_jscan *js,
                                    int root, char *out, size_t outlen);
/* Copies the delivery id the payload carries (the preset's
 * delivery_id_paths) into out and returns out, or returns NULL. */
const char *dh_normalize_delivery_id(const struct dh_preset *p, const struct dh_jscan *js,
                                     int root, char *out, size_t outlen);
/* Renames an event type: strips the preset's prefix, then applies the
 * source's map (from, to pairs; it wins) or the preset's. Returns type, a
 * suffix of it, or a string owned by one of the maps. */
const char *dh_normalize_map_event_type(const struct dh_preset *p, char *const *source_map,
                                        size_t npairs, const char *type);
/* Returns 1 when s is a usable event type: 1 to 64 of [A-Za-z0-9._:-]. */
int dh_normalize_event_type_valid(const char *s);

/* Appends s (len bytes, UTF-8) to out as a JSON string literal. */
int dh_json_write_string(struct dh_buf *out, const char *s, size_t len);

#endif
