/*
 * id.h: time-ordered identifiers such as "evt_01JD6W8Q4M2V7Y3X9K5T0B1C2D".
 *
 * An id is a prefix, then 26 Crockford base32 characters: 48 bits of Unix
 * milliseconds and 80 bits that are random at each new millisecond and
 * incremented within one, so ids from one process sort in creation order and
 * ids from different processes almost never collide. Any thread.
 */
#ifndef DH_ID_H
#define DH_ID_H

#include <stddef.h>

#define DH_ID_MAX 48

/* Writes prefix + "_" + 26 characters into out (DH_ID_MAX bytes). */
void dh_id_new(const char *prefix, char out[DH_ID_MAX]);
/* Returns 1 when s looks like an id with that prefix, else 0. */
int dh_id_valid(const char *prefix, const char *s);

#endif
