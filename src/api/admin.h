/*
 * admin.h: the admin REST API, served on its own listener.
 *
 * Every request needs `Authorization: Bearer <admin.token>` (compared in
 * constant time). Routes:
 *   GET /api/events?source=&type=&limit=&cursor=   newest first, paged
 *   GET /api/events/{id}                           document + raw payload
 *   GET /api/events/{id}/raw                       the stored bytes
 *   GET /api/stats                                 outcome and commit counters
 * Read-only over the store; runs on the admin listener's thread.
 */
#ifndef DH_ADMIN_H
#define DH_ADMIN_H

#include <microhttpd.h>

#include "config/config.h"
#include "ingest/ingest.h"
#include "store/commit.h"
#include "store/store.h"

struct dh_api;

/* Builds the API over st (history), in (per-source counters) and committer
 * (group-commit counters) with the config's admin token. */
struct dh_api *dh_api_new(const struct dh_config *cfg, struct dh_store *st, struct dh_ingest *in,
                          struct dh_committer *committer);
void dh_api_free(struct dh_api *api);
/* Answers one request (called once its body, if any, is in). */
enum MHD_Result dh_api_handle(struct dh_api *api, struct MHD_Connection *conn, const char *url,
                              const char *method);

#endif
