/*
 * admin.h: the admin REST API, served on its own listener.
 *
 * Every request needs `Authorization: Bearer <admin.token>` (compared in
 * constant time). Routes:
 *   GET /api/events?source=&type=&limit=&cursor=   newest first, paged
 *   GET /api/events/{id}                           document + raw payload
 *   GET /api/events/{id}/raw                       the stored bytes
 *   GET /api/stats                                 outcome, commit, delivery counters
 * and the endpoint and delivery routes of docs/delivery.md (api_delivery.c).
 * Runs on the admin listener's thread; writes go through the commit thread.
 */
#ifndef DH_ADMIN_H
#define DH_ADMIN_H

#include <microhttpd.h>

#include "config/config.h"
#include "delivery/engine.h"
#include "delivery/registry.h"
#include "ingest/ingest.h"
#include "store/commit.h"
#include "store/store.h"

struct dh_api;

struct dh_api_deps {
    const struct dh_config *cfg; /* the admin token */
    struct dh_store *st;         /* history */
    struct dh_ingest *in;        /* per-source counters */
    struct dh_committer *committer;
    struct dh_registry *reg;     /* endpoints */
    struct dh_engine *engine;    /* breaker states, wakeups */
};

struct dh_api *dh_api_new(const struct dh_api_deps *deps);
void dh_api_free(struct dh_api *api);
/* Answers one request (called once its body, if any, is in). */
enum MHD_Result dh_api_handle(struct dh_api *api, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *body, size_t len);

#endif
