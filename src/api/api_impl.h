/*
 * api_impl.h: what the admin API's files share (admin.c: routing, events,
 * stats; api_delivery.c: endpoints, deliveries, replay).
 */
#ifndef DH_API_IMPL_H
#define DH_API_IMPL_H

#include <microhttpd.h>

#include "api/admin.h"

struct dh_api {
    struct dh_store *st;
    struct dh_ingest *in;
    struct dh_committer *committer;
    struct dh_registry *reg;
    struct dh_engine *engine;
    unsigned char token_digest[32];
};

/* The page size of a list: limit (NULL: 50) as a whole number from 1 to
 * 500. Returns 0, or DH_E_BAD_REQUEST. */
int dh_api_page_limit(const char *limit, int *out);
#define DH_API_LIMIT_MESSAGE "limit must be a whole number from 1 to 500"
#define DH_API_CURSOR_MESSAGE "cursor is not one this API gave out"
/* Answers one page of a list: {"items", "next_cursor"} (null at the end),
 * or the store's error rc. Takes items. */
enum MHD_Result dh_api_respond_page(struct MHD_Connection *conn, int rc, json_t *items,
                                    const char *next);

/* A query argument, or NULL when absent or empty. */
const char *dh_api_arg(struct MHD_Connection *conn, const char *name);

/* Answers the endpoint, delivery and replay routes. Returns 1 with *ret
 * when url is one of them, 0 otherwise. */
int dh_api_delivery_route(struct dh_api *api, struct MHD_Connection *conn, const char *url,
                          const char *method, const char *body, size_t len,
                          enum MHD_Result *ret);

#endif
