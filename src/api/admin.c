/*
 * admin.c: the admin REST API (admin.h).
 */
#include "api/admin.h"
#include "api/api_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/id.h"
#include "core/jsonx.h"
#include "http/respond.h"


struct dh_api *dh_api_new(const struct dh_api_deps *d)
{
    struct dh_api *api = dh_new(struct dh_api);
    struct dh_iov iov = {d->cfg->admin_token, strlen(d->cfg->admin_token)};
    api->st = d->st;
    api->in = d->in;
    api->committer = d->committer;
    api->reg = d->reg;
    api->engine = d->engine;
    dh_sha256(&iov, 1, api->token_digest);
    return api;
}

void dh_api_free(struct dh_api *api)
{
    free(api);
}

static int dh__authorized(struct dh_api *api, struct MHD_Connection *conn)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    unsigned char d[32];
    struct dh_iov iov;

    if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0)
        return 0;
    v += 7;
    while (*v == ' ')
        v++;
    iov = (struct dh_iov){v, strlen(v)};
    dh_sha256(&iov, 1, d);
    return dh_ct_equal(d, 32, api->token_digest, 32);
}

int dh_api_page_limit(const char *limit, int *out)
{
    char *end = NULL;
    long v;

    *out = 50;
    if (limit == NULL)
        return 0;
    v = strtol(limit, &end, 10);
    if (*end != '\0' || v < 1 || v > 500)
        return DH_E_BAD_REQUEST;
    *out = (int)v;
    return 0;
}

enum MHD_Result dh_api_respond_page(struct MHD_Connection *conn, int rc, json_t *items,
                                    const char *next)
{
    if (rc < 0) {
        json_decref(items);
        return dh_http_respond_error(conn, rc, NULL, 5, NULL);
    }
    return dh_http_respond_json(conn, 200,
                                json_pack("{s:o,s:o}", "items", items, "next_cursor",
                                          next[0] ? json_string(next) : json_null()),
                                NULL);
}

const char *dh_api_arg(struct MHD_Connection *conn, const char *name)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
    return (v != NULL && v[0] != '\0') ? v : NULL;
}

static enum MHD_Result dh__list_events(struct dh_api *api, struct MHD_Connection *conn)
{
    struct dh_event_query q = {0};
    const char *limit = dh_api_arg(conn, "limit");
    char next[DH_ID_MAX];
    json_t *items = NULL;
    int rc;

    q.source = dh_api_arg(conn, "source");
    q.type = dh_api_arg(conn, "type");
    q.cursor = dh_api_arg(conn, "cursor");
    if (dh_api_page_limit(limit, &q.limit) < 0)
        return dh_http_respond_error(conn, DH_E_BAD_REQUEST, DH_API_LIMIT_MESSAGE, 0, NULL);
    if (q.cursor != NULL && !dh_id_valid("evt", q.cursor))
        return dh_http_respond_error(conn, DH_E_BAD_REQUEST, DH_API_CURSOR_MESSAGE, 0, NULL);
    rc = api->st->ops->list_events(api->st, &q, &items, next);
    return dh_api_respond_page(conn, rc, items, next);
}

static enum MHD_Result dh__get_event(struct dh_api *api, struct MHD_Connection *conn,
                                     const char *id, int raw)
{
    struct dh_event_row row;
    enum MHD_Result ret;
    int rc;

    if (!dh_id_valid("evt", id))
        return dh_http_respond_error(conn, DH_E_NOT_FOUND, "no such event", 0, NULL);
    rc = api->st->ops->get_event(api->st, id, &row);
    if (rc == DH_E_NOT_FOUND)
        return dh_http_respond_error(conn, rc, "no such event", 0, NULL);
    if (rc < 0)
        return dh_http_respond_error(conn, rc, NULL, 5, NULL);
    if (raw) {
        ret = dh_http_respond(conn, 200, row.raw, row.raw_len, row.content_type, NULL);
    } else {
        json_t *doc = json_loads(row.doc, JSON_ALLOW_NUL, NULL);
        json_t *payload = json_loadb(row.raw, row.raw_len, JSON_ALLOW_NUL, NULL);
        if (doc == NULL)
            doc = json_object();
        json_object_set_new(doc, "raw", payload ? payload : json_null());
        ret = dh_http_respond_json(conn, 200, doc, NULL);
    }
    dh_event_row_clear(&row);
    return ret;
}

enum MHD_Result dh_api_handle(struct dh_api *api, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *body, size_t len)
{
    enum MHD_Result ret;
    char id[DH_ID_MAX + 8];

    if (!dh__authorized(api, conn)) {
        static const struct dh_http_header www[] = {{"WWW-Authenticate", "Bearer"},
                                                    {NULL, NULL}};
        json_t *msg = json_pack("{s:{s:s,s:s}}", "error", "code", "unauthorized", "message",
                                 "send Authorization: Bearer <admin token>");
        return dh_http_respond_json(conn, 401, msg, www);
    }
    if (dh_api_delivery_route(api, conn, url, method, body, len, &ret))
        return ret;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return dh_http_respond_error(conn, DH_E_METHOD, "this path is read-only", 0, NULL);
    if (strcmp(url, "/api/stats") == 0) {
        unsigned long long txns = 0, items = 0;
        json_t *dlv = NULL;
        dh_commit_stats(api->committer, &txns, &items);
        if (api->st->ops->dlv_counts(api->st, &dlv) < 0)
            dlv = json_null();
        /* items per transaction is how well group commit is batching. */
        return dh_http_respond_json(conn, 200,
                                    json_pack("{s:o,s:{s:I,s:I},s:o}", "sources",
                                              dh_ingest_stats(api->in), "commits",
                                              "transactions", (json_int_t)txns, "items",
                                              (json_int_t)items, "deliveries", dlv),
                                    NULL);
    }
    if (strcmp(url, "/api/events") == 0 || strcmp(url, "/api/events/") == 0)
        return dh__list_events(api, conn);
    if (strncmp(url, "/api/events/", 12) == 0) {
        const char *rest = url + 12;
        size_t n = strcspn(rest, "/");
        if (n < sizeof(id)) {
            memcpy(id, rest, n);
            id[n] = '\0';
            if (rest[n] == '\0')
                return dh__get_event(api, conn, id, 0);
            if (strcmp(rest + n, "/raw") == 0)
                return dh__get_event(api, conn, id, 1);
        }
    }
    return dh_http_respond_error(conn, DH_E_NOT_FOUND, "no such admin endpoint", 0, NULL);
}
