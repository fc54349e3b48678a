/*
 * api_delivery.c: the admin API's endpoint, delivery and replay routes
 * (docs/delivery.md is the reference users read).
 *
 * Reads go to the store's reader; every change is made durable through the
 * commit thread (dh_commit_call) before it is answered, then the engine is
 * woken to act on it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_impl.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/id.h"
#include "http/respond.h"

#define DH__KEY_MAX 96

static json_t *dh__endpoint_json(struct dh_api *api, struct dh_ep_entry *e)
{
    json_t *o = dh_endpoint_to_json(e->ep);
    json_t *st = dh_engine_status(api->engine, e->ep->id);
    char reason[sizeof(e->reason)];
    int paused = atomic_load(&e->paused);

    dh_registry_reason(api->reg, e, reason, sizeof(reason));
    json_object_set_new(st, "paused", json_boolean(paused));
    json_object_set_new(st, "paused_reason",
                        paused && reason[0] ? json_string(reason) : json_null());
    json_object_set_new(o, "status", st);
    return o;
}

/* Parses a JSON object body into *out. When it is not one, answers the
 * error, leaves *out NULL and returns the answer's result. */
static enum MHD_Result dh__bad_body(struct MHD_Connection *conn, const char *body, size_t len,
                                    json_t **out, int required)
{
    json_error_t jerr;
    *out = NULL;
    if (len == 0 && !required) {
        *out = json_object();
        return MHD_YES;
    }
    *out = json_loadb(body ? body : "", len, 0, &jerr);
    if (*out == NULL) {
        char msg[300];
        snprintf(msg, sizeof(msg), "the body is not valid JSON: %s (line %d)", jerr.text,
                 jerr.line);
        return dh_http_respond_error(conn, DH_E_INVALID_JSON, msg, 0, NULL);
    }
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return dh_http_respond_error(conn, DH_E_BAD_REQUEST, "the body must be a JSON object", 0,
                                     NULL);
    }
    return MHD_YES;
}

static enum MHD_Result dh__list_endpoints(struct dh_api *api, struct MHD_Connection *conn)
{
    struct dh_epset *set = dh_registry_acquire(api->reg);
    json_t *items = json_array();
    for (size_t i = 0; i < set->n; i++)
        json_array_append_new(items, dh__endpoint_json(api, set->v[i]));
    dh_epset_release(set);
    return dh_http_respond_json(conn, 200, json_pack("{s:o}", "items", items), NULL);
}

static enum MHD_Result dh__answer_entry(struct dh_api *api, struct MHD_Connection *conn,
                                        unsigned status, struct dh_ep_entry *e)
{
    json_t *o = dh__endpoint_json(api, e);
    dh_ep_entry_unref(e);
    return dh_http_respond_json(conn, status, o, NULL);
}

static enum MHD_Result dh__endpoint_change(struct dh_api *api, struct MHD_Connection *conn,
                                           const char *key, const char *method,
                                           const char *body, size_t len)
{
    char err[1024] = "";
    struct dh_ep_entry *e = NULL;
    json_t *spec = NULL;
    enum MHD_Result ret;
    int rc;

    if (strcmp(method, "DELETE") == 0) {
        rc = dh_registry_delete(api->reg, key, err, sizeof(err));
        if (rc < 0)
            return dh_http_respond_error(conn, rc, err, 0, NULL);
        return dh_http_respond(conn, 204, "", 0, NULL, NULL);
    }
    ret = dh__bad_body(conn, body, len, &spec, 1);
    if (spec == NULL)
        return ret; /* answered */
    if (key == NULL)
        rc = dh_registry_create(api->reg, spec, &e, err, sizeof(err));
    else
        rc = dh_registry_update(api->reg, key, spec, &e, err, sizeof(err));
    json_decref(spec);
    if (rc < 0)
        return dh_http_respond_error(conn, rc, err, 0, NULL);
    ret = dh__answer_entry(api, conn, key == NULL ? 201 : 200, e);
    dh_engine_kick(api->engine);
    return ret;
}

/* Store calls made from the API. */
struct dh__replay_call {
    struct dh_dlv_replay rp;
    const char *event_id;
    char **endpoint_ids;
    size_t n;
    char (*ids)[DH_ID_MAX];
};

static int dh__replay_fn(struct dh_store *st, struct dh_commit_item *item)
{
    struct dh__replay_call *c = item->call_arg;
    int rc = st->ops->dlv_replay(st, &c->rp, dh_clock_wall_ms());
    item->ndue = c->rp.replayed;
    return rc;
}

static int dh__fanout_fn(struct dh_store *st, struct dh_commit_item *item)
{
    struct dh__replay_call *c = item->call_arg;
    item->ndue = c->n;
    return st->ops->dlv_fanout(st, c->event_id, c->endpoint_ids, c->n, dh_clock_wall_ms(),
                               c->ids);
}

static int dh__time_arg(const json_t *body, const char *key, int64_t *ms, char *err,
                        size_t errlen)
{
    const json_t *v = json_object_get(body, key);
    *ms = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v) || dh_clock_parse_iso(json_string_value(v), ms) < 0) {
        snprintf(err, errlen, "%s must be a UTC time such as 2026-11-01T00:00:00Z", key);
        return DH_E_BAD_REQUEST;
    }
    return 0;
}

static enum MHD_Result dh__endpoint_replay(struct dh_api *api, struct MHD_Connection *conn,
                                           const char *key, const char *body, size_t len)
{
    struct dh_epset *set = dh_registry_acquire(api->reg);
    struct dh_ep_entry *e = dh_epset_find(set, key);
    struct dh__replay_call c;
    char err[200] = "", id[DH_ID_MAX + 32];
    json_t *b = NULL;
    const char *state;
    int rc;

    memset(&c, 0, sizeof(c));
    if (e == NULL) {
        dh_epset_release(set);
        return dh_http_respond_error(conn, DH_E_NOT_FOUND, "no such endpoint", 0, NULL);
    }
    snprintf(id, sizeof(id), "%s", e->ep->id);
    dh_epset_release(set);
    {
        enum MHD_Result ret = dh__bad_body(conn, body, len, &b, 0);
        if (b == NULL)
            return ret; /* answered */
    }
    state = json_string_value(json_object_get(b, "state"));
    if (json_object_get(b, "state") != NULL && state == NULL)
        state = "";
    if (state == NULL)
        state = DH_DLV_DEAD;
    if (strcmp(state, DH_DLV_DEAD) != 0 && strcmp(state, DH_DLV_DELIVERED) != 0) {
        json_decref(b);
        return dh_http_respond_error(conn, DH_E_BAD_REQUEST,
                                     "state must be dead or delivered", 0, NULL);
    }
    rc = dh__time_arg(b, "since", &c.rp.since_ms, err, sizeof(err));
    if (rc == 0)
        rc = dh__time_arg(b, "until", &c.rp.until_ms, err, sizeof(err));
    if (rc < 0) {
        json_decref(b);
        return dh_http_respond_error(conn, rc, err, 0, NULL);
    }
    c.rp.endpoint_id = id;
    c.rp.state = state;
    rc = dh_commit_call(api->committer, dh__replay_fn, &c);
    json_decref(b);
    if (rc < 0)
        return dh_http_respond_error(conn, rc, NULL, 5, NULL);
    return dh_http_respond_json(conn, 202, json_pack("{s:I}", "replayed", (json_int_t)c.rp.replayed),
                                NULL);
}

static enum MHD_Result dh__endpoint_pause(struct dh_api *api, struct MHD_Connection *conn,
                                          const char *key, int paused)
{
    struct dh_ep_entry *e = NULL;
    int rc = dh_registry_set_paused(api->reg, key, paused, paused ? "paused over the API" : NULL,
                                    &e);
    if (rc == DH_E_NOT_FOUND)
        return dh_http_respond_error(conn, rc, "no such endpoint", 0, NULL);
    if (rc < 0)
        return dh_http_respond_error(conn, rc, NULL, 5, NULL);
    if (!paused)
        dh_engine_resume(api->engine, e->ep->id);
    return dh__answer_entry(api, conn, 200, e);
}

static enum MHD_Result dh__endpoints(struct dh_api *api, struct MHD_Connection *conn,
                                     const char *rest, const char *method, const char *body,
                                     size_t len)
{
    char key[DH__KEY_MAX];
    size_t n;
    const char *action;

    if (rest[0] == '\0') {
        if (strcmp(method, "GET") == 0)
            return dh__list_endpoints(api, conn);
        if (strcmp(method, "POST") == 0)
            return dh__endpoint_change(api, conn, NULL, method, body, len);
        return dh_http_respond_error(conn, DH_E_METHOD, "use GET or POST", 0, NULL);
    }
    n = strcspn(rest, "/");
    if (n == 0 || n >= sizeof(key))
        return dh_http_respond_error(conn, DH_E_NOT_FOUND, "no such endpoint", 0, NULL);
    memcpy(key, rest, n);
    key[n] = '\0';
    action = rest + n;
    if (action[0] == '\0') {
        if (strcmp(method, "GET") == 0) {
            struct dh_epset *set = dh_registry_acquire(api->reg);
            struct dh_ep_entry *e = dh_epset_find(set, key);
            enum MHD_Result ret;
            if (e == NULL)
                ret = dh_http_respond_error(conn, DH_E_NOT_FOUND, "no such endpoint", 0, NULL);
            else
                ret = dh_http_respond_json(conn, 200, dh__endpoint_json(api, e), NULL);
            dh_epset_release(set);
            return ret;
        }
        if (strcmp(method, "PATCH") == 0 || strcmp(method, "DELETE") == 0)
            return dh__endpoint_change(api, conn, key, method, body, len);
        return dh_http_respond_error(conn, DH_E_METHOD, "use GET, PATCH or DELETE", 0, NULL);
    }
    if (strcmp(method, "POST") != 0)
        return dh_http_respond_error(conn, DH_E_METHOD, "use POST", 0, NULL);
    if (strcmp(action, "/pause") == 0)
        return dh__endpoint_pause(api, conn, key, 1);
    if (strcmp(action, "/resume") == 0)
        return dh__endpoint_pause(api, conn, key, 0);
    if (strcmp(action, "/replay") == 0)
        return dh__endpoint_replay(api, conn, key, body, len);
    return dh_http_respond_error(conn, DH_E_NOT_FOUND, "no such admin endpoint", 0, NULL);
}

static enum MHD_Result dh__list_deliveries(struct dh_api *api, struct MHD_Connection *conn)
{
    struct dh_dlv_query q = {0};
    const char *limit = dh_api_arg(conn, "limit");
    char next[DH_ID_MAX];
    json_t *items = NULL;
    int rc;

    q.endpoint_id = dh_api_arg(conn, "endpoint");
    q.state = dh_api_arg(conn, "state");
    q.event_id = dh_api_arg(conn, "event");
    q.cursor = dh_api_arg(conn, "cursor");
    if (dh_api_page_limit(limit, &q.limit) < 0)
        return dh_http_respond_error(conn, DH_E_BAD_REQUEST, DH_API_LIMIT_MESSAGE, 0, NULL);
    if (q.cursor != NULL && q.cursor[strspn(q.cursor, "0123456789")] != '\0')
        return dh_http_respond_error(conn, DH_E_BAD_REQUEST, DH_API_CURSOR_MESSAGE, 0, NULL);
    /* endpoint= takes a name or an id; the store keeps ids. The set is held
     * so the id stays valid through the read. */
    struct dh_epset *set = dh_registry_acquire(api->reg);
    struct dh_ep_entry *e = q.endpoint_id ? dh_epset_find(set, q.endpoint_id) : NULL;
    if (e != NULL)
        q.endpoint_id = e->ep->id;
    rc = api->st->ops->dlv_list(api->st, &q, &items, next);
    dh_epset_release(set);
    return dh_api_respond_page(conn, rc, items, next);
}

static enum MHD_Result dh__delivery(struct dh_api *api, struct MHD_Connection *conn,
                                    const char *rest, const char *method)
{
    char id[DH_ID_MAX];
    size_t n = strcspn(rest, "/");
    json_t *d = NULL;
    int rc;

    if (n == 0 || n >= sizeof(id))
        return dh_http_respond_error(conn, DH_E_NOT_FOUND, "no such delivery", 0, NULL);
    memcpy(id, rest, n);
    id[n] = '\0';
    rc = api->st->ops->dlv_get(api->st, id, &d);
    if (rc == DH_E_NOT_FOUND)
        return dh_http_respond_error(conn, rc, "no such delivery", 0, NULL);
    if (rc < 0)
        return dh_http_respond_error(conn, rc, NULL, 5, NULL);
    if (rest[n] == '\0') {
        if (strcmp(method, "GET") != 0) {
            json_decref(d);
            return dh_http_respond_error(conn, DH_E_METHOD, "use GET", 0, NULL);
        }
        return dh_http_respond_json(conn, 200, d, NULL);
    }
    if (strcmp(rest + n, "/replay") != 0 || strcmp(method, "POST") != 0) {
        json_decref(d);
        return dh_http_respond_error(conn, DH_E_NOT_FOUND, "no such admin endpoint", 0, NULL);
    }
    {
        const char *state = json_string_value(json_object_get(d, "state"));
        const char *ep = json_string_value(json_object_get(d, "endpoint"));
        struct dh_epset *set = dh_registry_acquire(api->reg);
        int gone = dh_epset_find(set, ep) == NULL;
        dh_epset_release(set);
        if (strcmp(state, DH_DLV_IN_FLIGHT) == 0) {
            json_decref(d);
            return dh_http_respond_error(conn, DH_E_CONFLICT,
                                         "the delivery is in flight; replay it once it ends", 0,
                                         NULL);
        }
        if (gone) {
            json_decref(d);
            return dh_http_respond_error(conn, DH_E_CONFLICT,
                                         "its endpoint no longer exists", 0, NULL);
        }
    }
    json_decref(d);
    {
        struct dh__replay_call c;
        memset(&c, 0, sizeof(c));
        c.rp.id = id;
        rc = dh_commit_call(api->committer, dh__replay_fn, &c);
        if (rc < 0)
            return dh_http_respond_error(conn, rc, NULL, 5, NULL);
    }
    rc = api->st->ops->dlv_get(api->st, id, &d);
    if (rc < 0)
        return dh_http_respond_error(conn, rc, NULL, 5, NULL);
    json_object_del(d, "attempts");
    return dh_http_respond_json(conn, 202, d, NULL);
}

static enum MHD_Result dh__event_replay(struct dh_api *api, struct MHD_Connection *conn,
                                        const char *id)
{
    struct dh_event_row row;
    struct dh__replay_call c;
    json_t *doc = NULL, *out = NULL;
    int rc;

    memset(&c, 0, sizeof(c));
    if (!dh_id_valid("evt", id))
        return dh_http_respond_error(conn, DH_E_NOT_FOUND, "no such event", 0, NULL);
    rc = api->st->ops->get_event(api->st, id, &row);
    if (rc == DH_E_NOT_FOUND)
        return dh_http_respond_error(conn, rc, "no such event", 0, NULL);
    if (rc < 0)
        return dh_http_respond_error(conn, rc, NULL, 5, NULL);
    doc = json_loads(row.doc, 0, NULL);
    dh_event_row_clear(&row);
    dh_registry_targets(api->reg, json_string_value(json_object_get(doc, "source")),
                        json_string_value(json_object_get(doc, "type")), &c.endpoint_ids, &c.n);
    json_decref(doc);
    c.event_id = id;
    c.ids = dh_calloc(c.n ? c.n : 1, sizeof(*c.ids));
    rc = c.n > 0 ? dh_commit_call(api->committer, dh__fanout_fn, &c) : 0;
    if (rc == 0) {
        json_t *list = json_array();
        for (size_t i = 0; i < c.n; i++)
            json_array_append_new(list, json_pack("{s:s,s:s,s:s}", "id", c.ids[i], "endpoint",
                                                  c.endpoint_ids[i], "state", DH_DLV_PENDING));
        out = json_pack("{s:s,s:o}", "event_id", id, "deliveries", list);
    }
    for (size_t i = 0; i < c.n; i++)
        free(c.endpoint_ids[i]);
    free(c.endpoint_ids);
    free(c.ids);
    if (rc < 0)
        return dh_http_respond_error(conn, rc, NULL, 5, NULL);
    return dh_http_respond_json(conn, 202, out, NULL);
}

int dh_api_delivery_route(struct dh_api *api, struct MHD_Connection *conn, const char *url,
                          const char *method, const char *body, size_t len,
                          enum MHD_Result *ret)
{
    if (strcmp(url, "/api/endpoints") == 0 || strcmp(url, "/api/endpoints/") == 0) {
        *ret = dh__endpoints(api, conn, "", method, body, len);
        return 1;
    }
    if (strncmp(url, "/api/endpoints/", 15) == 0) {
        *ret = dh__endpoints(api, conn, url + 15, method, body, len);
        return 1;
    }
    if (strcmp(url, "/api/deliveries") == 0 || strcmp(url, "/api/deliveries/") == 0) {
        *ret = strcmp(method, "GET") == 0
                   ? dh__list_deliveries(api, conn)
                   : dh_http_respond_error(conn, DH_E_METHOD, "use GET", 0, NULL);
        return 1;
    }
    if (strncmp(url, "/api/deliveries/", 16) == 0) {
        *ret = dh__delivery(api, conn, url + 16, method);
        return 1;
    }
    if (strncmp(url, "/api/events/", 12) == 0) {
        const char *rest = url + 12;
        size_t n = strcspn(rest, "/");
        char id[DH_ID_MAX];
        if (strcmp(rest + n, "/replay") == 0 && n < sizeof(id)) {
            memcpy(id, rest, n);
            id[n] = '\0';
            *ret = strcmp(method, "POST") == 0
                       ? dh__event_replay(api, conn, id)
                       : dh_http_respond_error(conn, DH_E_METHOD, "use POST", 0, NULL);
            return 1;
        }
    }
    return 0;
}
