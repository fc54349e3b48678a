/*
 * registry.h: the set of endpoints, from the config file and the admin API.
 *
 * DESIGN
 * Readers (request threads matching events, the delivery thread, the admin
 * API) take a reference to the current immutable set and let go when done;
 * a change (create, update, delete) builds a new set and swaps it in under
 * the lock, so nobody ever waits on a writer or sees a half-made endpoint.
 * An entry survives as long as any set or transfer holds it.
 *
 * Changes are written to the store through the commit thread before they
 * are swapped in: an endpoint the API answered for survives a restart. The
 * pause flag lives in the entry (atomic) and in the store; the circuit
 * breaker is the engine's (engine.h).
 *
 * Threads: every function may be called from any thread, except that the
 * committer must be attached (dh_registry_attach) before changes are made.
 */
#ifndef DH_REGISTRY_H
#define DH_REGISTRY_H

#include <stdatomic.h>
#include <stddef.h>

#include <jansson.h>

#include "config/config.h"
#include "delivery/endpoint.h"
#include "store/commit.h"
#include "store/store.h"

struct dh_ep_entry {
    struct dh_endpoint *ep;
    atomic_int paused;
    atomic_int refs;
    char reason[120]; /* why it is paused; under the registry lock */
};

struct dh_epset {
    atomic_int refs;
    size_t n;
    struct dh_ep_entry **v;
};

struct dh_registry;

/* Validates the config's endpoints (names unique, every key), adding each
 * problem to el with the item's line. Returns 0 or DH_E_CONFIG. */
int dh_registry_check(const struct dh_config *cfg, struct dh_errlist *el);

/* Builds the registry from the config's endpoints and the API endpoints and
 * pause states stored in st. Returns 0, DH_E_CONFIG (problems in el) or a
 * store error. */
int dh_registry_new(const struct dh_config *cfg, struct dh_store *st, struct dh_registry **out,
                    struct dh_errlist *el);
void dh_registry_attach(struct dh_registry *reg, struct dh_committer *com);
void dh_registry_free(struct dh_registry *reg);

struct dh_epset *dh_registry_acquire(struct dh_registry *reg);
void dh_epset_release(struct dh_epset *set);
/* The entry with this id or name, or NULL. Borrowed from set. */
struct dh_ep_entry *dh_epset_find(const struct dh_epset *set, const char *key);
void dh_ep_entry_ref(struct dh_ep_entry *e);
void dh_ep_entry_unref(struct dh_ep_entry *e);

/* dh_ingest_targets_fn: the ids of the active endpoints subscribed to an
 * event (arg is the registry). */
void dh_registry_targets(void *arg, const char *source, const char *type, char ***ids,
                         size_t *n);

/* Admin API changes; each is durable when it returns. err gets a message
 * for the user. Return 0, DH_E_NOT_FOUND, DH_E_CONFLICT (name taken),
 * DH_E_READ_ONLY (a config endpoint), DH_E_BAD_REQUEST or a store error. */
int dh_registry_create(struct dh_registry *reg, const json_t *spec, struct dh_ep_entry **out,
                       char *err, size_t errlen);
int dh_registry_update(struct dh_registry *reg, const char *key, const json_t *patch,
                       struct dh_ep_entry **out, char *err, size_t errlen);
int dh_registry_delete(struct dh_registry *reg, const char *key, char *err, size_t errlen);
/* Pauses or resumes (config endpoints too). *out gets a reference. */
int dh_registry_set_paused(struct dh_registry *reg, const char *key, int paused,
                           const char *reason, struct dh_ep_entry **out);
/* Marks an entry paused in memory only (the caller writes the store). */
void dh_registry_mark_paused(struct dh_registry *reg, struct dh_ep_entry *e, const char *reason);
/* The pause reason of e (copied under the lock). */
void dh_registry_reason(struct dh_registry *reg, const struct dh_ep_entry *e, char *out,
                        size_t outlen);

#endif
