/*
 * normalize.h: payloads to the ticket model (DESIGN section 3), driven by a
 * preset. Pure functions over jansson values; any thread.
 */
#ifndef DH_NORMALIZE_H
#define DH_NORMALIZE_H

#include <jansson.h>

#include "ingest/preset.h"

#define DH_EVENT_TYPE_MAX 64

/* Fills doc's ticket, customer, message, platform and metadata fields from
 * payload with the given field specs (the preset's, or a source's version of
 * them), reading inside the preset's wrapper when present. Fields that no
 * path finds are left out (absent when unknown); ticket.id, customer.id and
 * message.id are always strings. */
void dh_normalize(const struct dh_preset *p, const struct dh_preset_field *fields,
                  size_t nfields, json_t *payload, json_t *doc);
/* Returns the event type the payload names through the preset's paths, or
 * NULL. Borrowed from payload. */
const char *dh_normalize_event_type(const struct dh_preset *p, json_t *payload);
/* Writes the delivery id the payload carries (the preset's
 * delivery_id_paths; "eventId" for HubSpot) into out and returns out, or
 * returns NULL when there is none. */
const char *dh_normalize_delivery_id(const struct dh_preset *p, json_t *payload, char *out,
                                     size_t outlen);
/* Renames an event type: strips the preset's prefix, then applies the
 * source's map (from, to pairs; it wins) or the preset's. Returns type, a
 * suffix of it, or a string owned by one of the maps. */
const char *dh_normalize_map_event_type(const struct dh_preset *p, char *const *source_map,
                                        size_t npairs, const char *type);
/* Returns 1 when s is a usable event type: 1 to 64 of [A-Za-z0-9._:-]. */
int dh_normalize_event_type_valid(const char *s);

#endif
