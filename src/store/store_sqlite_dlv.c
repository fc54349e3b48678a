/*
 * store_sqlite_dlv.c: deliveries, attempts and endpoints in SQLite.
 *
 * The write functions run on the commit thread inside the transaction of a
 * DH_COMMIT_CALL item (store.h), so delivery bookkeeping shares the group
 * commit's fsync with the events. The hot statements (claim, finish) are
 * prepared once, on first use. Reads use the reader connection under its
 * mutex, like the event reads.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/id.h"
#include "store/sqlite_impl.h"

#define DH__SQL_FAIL DH_E_STORE_UNAVAILABLE

static int dh__lazy(struct dh__sqlite *s, sqlite3_stmt **st, const char *sql)
{
    if (*st != NULL)
        return 0;
    return sqlite3_prepare_v3(s->wdb, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK
               ? 0
               : DH__SQL_FAIL;
}

void dh__sqlite_dlv_finalize(struct dh__sqlite *s)
{
    sqlite3_finalize(s->st_claim_sel);
    sqlite3_finalize(s->st_claim_upd);
    sqlite3_finalize(s->st_next_due);
    sqlite3_finalize(s->st_att_put);
    sqlite3_finalize(s->st_dlv_upd);
}

static char *dh__col_dup(sqlite3_stmt *q, int i)
{
    const char *v = (const char *)sqlite3_column_text(q, i);
    return v ? dh_strdup(v) : NULL;
}

static json_t *dh__col_json_str(sqlite3_stmt *q, int i)
{
    const char *v = (const char *)sqlite3_column_text(q, i);
    return v ? json_string(v) : json_null();
}

static json_t *dh__iso(int64_t ms)
{
    char ts[40];
    if (ms <= 0)
        return json_null();
    dh_clock_format_iso(ms, ts, sizeof(ts));
    return json_string(ts);
}

int dh__sqlite_dlv_insert(struct dh__sqlite *s, const char *ev_id, const char *endpoint_id,
                          int64_t now_ms, char id_out[DH_ID_MAX])
{
    sqlite3_stmt *q = s->st_dlv_put;
    int rc;

    dh_id_new("msg", id_out);
    sqlite3_bind_text(q, 1, id_out, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, ev_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, endpoint_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, now_ms);
    rc = dh__sqlite_step_done(q);
    if (rc < 0)
        return rc;
    return sqlite3_changes(s->wdb) > 0 ? 1 : 0;
}

int dh__sqlite_dlv_claim(struct dh_store *st, struct dh_dlv_claim *claims, size_t n,
                         int64_t now_ms, int64_t lease_until_ms)
{
    struct dh__sqlite *s = st->impl;
    int rc;

    if (dh__lazy(s, &s->st_claim_sel,
                 "SELECT d.id, d.event_id, d.attempts, e.source, e.type, e.received_at, e.doc "
                 "FROM deliveries d JOIN events e ON e.id = d.event_id "
                 "WHERE d.endpoint_id = ?1 AND d.state IN ('pending', 'retry_wait', 'in_flight') "
                 "AND d.next_at <= ?2 ORDER BY d.next_at LIMIT ?3") < 0 ||
        dh__lazy(s, &s->st_claim_upd,
                 "UPDATE deliveries SET state = 'in_flight', next_at = ?2, updated_at = ?3 "
                 "WHERE id = ?1") < 0 ||
        dh__lazy(s, &s->st_next_due,
                 "SELECT MIN(next_at) FROM deliveries WHERE endpoint_id = ?1 "
                 "AND state IN ('pending', 'retry_wait', 'in_flight')") < 0)
        return DH__SQL_FAIL;

    for (size_t c = 0; c < n; c++) {
        struct dh_dlv_claim *cl = &claims[c];
        sqlite3_stmt *q = s->st_claim_sel;

        cl->rows = NULL;
        cl->nrows = 0;
        cl->next_due_ms = 0;
        if (cl->limit > 0) {
            cl->rows = dh_calloc(cl->limit, sizeof(*cl->rows));
            sqlite3_bind_text(q, 1, cl->endpoint_id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 2, now_ms);
            sqlite3_bind_int(q, 3, (int)cl->limit);
            while ((rc = sqlite3_step(q)) == SQLITE_ROW && cl->nrows < cl->limit) {
                struct dh_dlv_claimed *r = &cl->rows[cl->nrows++];
                snprintf(r->id, sizeof(r->id), "%s", (const char *)sqlite3_column_text(q, 0));
                snprintf(r->event_id, sizeof(r->event_id), "%s",
                         (const char *)sqlite3_column_text(q, 1));
                r->attempts = (unsigned)sqlite3_column_int(q, 2);
                r->source = dh__col_dup(q, 3);
                r->type = dh__col_dup(q, 4);
                r->received_ms = sqlite3_column_int64(q, 5);
                r->doc_len = (size_t)sqlite3_column_bytes(q, 6);
                r->doc = dh__col_dup(q, 6);
            }
            sqlite3_reset(q);
            if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return DH__SQL_FAIL;
            /* Leased only after the read has finished: updating next_at
             * while walking the index ordered by it could revisit rows. */
            for (size_t i = 0; i < cl->nrows; i++) {
                sqlite3_stmt *u = s->st_claim_upd;
                sqlite3_bind_text(u, 1, cl->rows[i].id, -1, SQLITE_STATIC);
                sqlite3_bind_int64(u, 2, lease_until_ms);
                sqlite3_bind_int64(u, 3, now_ms);
                if (dh__sqlite_step_done(u) < 0)
                    return DH__SQL_FAIL;
            }
        }
        q = s->st_next_due;
        sqlite3_bind_text(q, 1, cl->endpoint_id, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
            cl->next_due_ms = sqlite3_column_int64(q, 0);
        sqlite3_reset(q);
    }
    return 0;
}

int dh__sqlite_dlv_finish(struct dh_store *st, const struct dh_dlv_result *res, size_t n)
{
    struct dh__sqlite *s = st->impl;
    int64_t now = dh_clock_wall_ms();

    if (dh__lazy(s, &s->st_att_put,
                 "INSERT INTO attempts (delivery_id, n, started_at, duration_ms, status, outcome, "
                 "error, headers, body, body_truncated) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)") < 0 ||
        dh__lazy(s, &s->st_dlv_upd,
                 "UPDATE deliveries SET state = ?2, attempts = ?3, next_at = ?4, updated_at = ?5, "
                 "last_status = ?6, last_outcome = ?7 WHERE id = ?1 AND state = 'in_flight'") < 0)
        return DH__SQL_FAIL;

    for (size_t i = 0; i < n; i++) {
        const struct dh_dlv_result *r = &res[i];
        sqlite3_stmt *q = s->st_att_put;

        sqlite3_bind_text(q, 1, r->id, -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 2, (int)r->attempt);
        sqlite3_bind_int64(q, 3, r->started_ms);
        sqlite3_bind_int64(q, 4, r->duration_ms);
        if (r->status > 0)
            sqlite3_bind_int(q, 5, r->status);
        else
            sqlite3_bind_null(q, 5);
        sqlite3_bind_text(q, 6, r->outcome, -1, SQLITE_STATIC);
        if (r->error)
            sqlite3_bind_text(q, 7, r->error, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(q, 7);
        if (r->resp_headers)
            sqlite3_bind_text(q, 8, r->resp_headers, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(q, 8);
        if (r->resp_body_len > 0)
            sqlite3_bind_blob(q, 9, r->resp_body, (int)r->resp_body_len, SQLITE_STATIC);
        else
            sqlite3_bind_null(q, 9);
        sqlite3_bind_int(q, 10, r->body_truncated);
        if (dh__sqlite_step_done(q) < 0)
            return DH__SQL_FAIL;

        q = s->st_dlv_upd;
        sqlite3_bind_text(q, 1, r->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, r->state, -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 3, (int)r->attempt);
        sqlite3_bind_int64(q, 4, r->next_at_ms);
        sqlite3_bind_int64(q, 5, now);
        if (r->status > 0)
            sqlite3_bind_int(q, 6, r->status);
        else
            sqlite3_bind_null(q, 6);
        sqlite3_bind_text(q, 7, r->outcome, -1, SQLITE_STATIC);
        if (dh__sqlite_step_done(q) < 0)
            return DH__SQL_FAIL;
    }
    return 0;
}

/* Runs a one-off write statement with text/int64 parameters given as a
 * format: 't' text (NULL binds NULL), 'i' int64. */
static int dh__run(struct dh__sqlite *s, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *q = NULL;
    va_list ap;
    int rc;

    if (sqlite3_prepare_v2(s->wdb, sql, -1, &q, NULL) != SQLITE_OK)
        return DH__SQL_FAIL;
    va_start(ap, fmt);
    for (int i = 0; fmt[i]; i++) {
        if (fmt[i] == 't') {
            const char *v = va_arg(ap, const char *);
            if (v)
                sqlite3_bind_text(q, i + 1, v, -1, SQLITE_TRANSIENT);
            else
                sqlite3_bind_null(q, i + 1);
        } else {
            sqlite3_bind_int64(q, i + 1, va_arg(ap, int64_t));
        }
    }
    va_end(ap);
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? 0 : DH__SQL_FAIL;
}

int dh__sqlite_dlv_replay(struct dh_store *st, struct dh_dlv_replay *rp, int64_t now_ms)
{
    struct dh__sqlite *s = st->impl;
    int rc;

    rp->replayed = 0;
    if (rp->id != NULL) {
        rc = dh__run(s,
                     "UPDATE deliveries SET state = 'pending', attempts = 0, next_at = ?2, "
                     "updated_at = ?2 WHERE id = ?1 AND state != 'in_flight'",
                     "ti", rp->id, now_ms);
    } else {
        rc = dh__run(s,
                     "UPDATE deliveries SET state = 'pending', attempts = 0, next_at = ?3, "
                     "updated_at = ?3 WHERE endpoint_id = ?1 AND state = ?2 "
                     "AND created_at >= ?4 AND created_at < ?5",
                     "ttiii", rp->endpoint_id, rp->state ? rp->state : DH_DLV_DEAD, now_ms,
                     rp->since_ms, rp->until_ms > 0 ? rp->until_ms : INT64_MAX);
    }
    if (rc == 0)
        rp->replayed = (size_t)sqlite3_changes(s->wdb);
    return rc;
}

int dh__sqlite_dlv_fanout(struct dh_store *st, const char *event_id, char *const *endpoint_ids,
                          size_t n, int64_t now_ms, char (*ids)[DH_ID_MAX])
{
    struct dh__sqlite *s = st->impl;
    sqlite3_stmt *q = NULL;
    int rc = 0;

    if (sqlite3_prepare_v2(s->wdb,
                           "SELECT id, state FROM deliveries WHERE event_id = ?1 AND "
                           "endpoint_id = ?2",
                           -1, &q, NULL) != SQLITE_OK)
        return DH__SQL_FAIL;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int made = dh__sqlite_dlv_insert(s, event_id, endpoint_ids[i], now_ms, ids[i]);
        if (made < 0) {
            rc = made;
            break;
        }
        if (made == 1)
            continue;
        /* It existed: the same delivery (same webhook-id) goes out again,
         * unless it is on its way right now. */
        sqlite3_bind_text(q, 1, event_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, endpoint_ids[i], -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW) {
            snprintf(ids[i], DH_ID_MAX, "%s", (const char *)sqlite3_column_text(q, 0));
            int in_flight = strcmp((const char *)sqlite3_column_text(q, 1), "in_flight") == 0;
            sqlite3_reset(q);
            if (!in_flight)
                rc = dh__run(s,
                             "UPDATE deliveries SET state = 'pending', attempts = 0, "
                             "next_at = ?2, updated_at = ?2 WHERE id = ?1",
                             "ti", ids[i], now_ms);
        } else {
            sqlite3_reset(q);
            rc = DH__SQL_FAIL;
        }
    }
    sqlite3_finalize(q);
    return rc;
}

int dh__sqlite_ep_save(struct dh_store *st, const char *id, const char *name, const char *spec,
                       int64_t now_ms)
{
    return dh__run(st->impl,
                   "INSERT INTO endpoints (id, name, spec, created_at, updated_at) "
                   "VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (id) DO UPDATE SET "
                   "name = excluded.name, spec = excluded.spec, updated_at = excluded.updated_at",
                   "ttti", id, name, spec, now_ms);
}

int dh__sqlite_ep_delete(struct dh_store *st, const char *id, int64_t now_ms)
{
    struct dh__sqlite *s = st->impl;
    int rc = dh__run(s, "DELETE FROM endpoints WHERE id = ?1", "t", id);
    if (rc == 0)
        rc = dh__run(s, "DELETE FROM endpoint_state WHERE id = ?1", "t", id);
    if (rc == 0)
        rc = dh__run(s,
                     "UPDATE deliveries SET state = 'dead', updated_at = ?2 WHERE endpoint_id = ?1 "
                     "AND state IN ('pending', 'retry_wait', 'in_flight')",
                     "ti", id, now_ms);
    return rc;
}

int dh__sqlite_ep_set_paused(struct dh_store *st, const char *id, int paused, const char *reason,
                             int64_t now_ms)
{
    return dh__run(st->impl,
                   "INSERT INTO endpoint_state (id, paused, reason, updated_at) "
                   "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET "
                   "paused = excluded.paused, reason = excluded.reason, "
                   "updated_at = excluded.updated_at",
                   "titi", id, (int64_t)paused, paused ? reason : NULL, now_ms);
}

/* Reader side. */

int dh__sqlite_ep_load(struct dh_store *st, json_t **endpoints, json_t **states)
{
    struct dh__sqlite *s = st->impl;
    sqlite3_stmt *q = NULL;
    int rc = 0;

    *endpoints = json_array();
    *states = json_array();
    pthread_mutex_lock(&s->rlock);
    if (sqlite3_prepare_v2(s->rdb, "SELECT id, name, spec FROM endpoints ORDER BY created_at",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = DH__SQL_FAIL;
        goto out;
    }
    while (sqlite3_step(q) == SQLITE_ROW)
        json_array_append_new(*endpoints,
                              json_pack("{s:o,s:o,s:o}", "id", dh__col_json_str(q, 0), "name",
                                        dh__col_json_str(q, 1), "spec", dh__col_json_str(q, 2)));
    sqlite3_finalize(q);
    q = NULL;
    if (sqlite3_prepare_v2(s->rdb, "SELECT id, paused, reason FROM endpoint_state", -1, &q,
                           NULL) != SQLITE_OK) {
        rc = DH__SQL_FAIL;
        goto out;
    }
    while (sqlite3_step(q) == SQLITE_ROW)
        json_array_append_new(*states, json_pack("{s:o,s:b,s:o}", "id", dh__col_json_str(q, 0),
                                                 "paused", sqlite3_column_int(q, 1),
                                                 "reason", dh__col_json_str(q, 2)));
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->rlock);
    return rc;
}

#define DH__DLV_COLS                                                                           \
    "id, event_id, endpoint_id, state, attempts, next_at, created_at, updated_at, "          \
    "last_status, last_outcome, seq"

static json_t *dh__dlv_row(sqlite3_stmt *q)
{
    const char *state = (const char *)sqlite3_column_text(q, 3);
    int waits = strcmp(state, "pending") == 0 || strcmp(state, "retry_wait") == 0;
    return json_pack("{s:o,s:o,s:o,s:s,s:i,s:o,s:o,s:o,s:o,s:o}", "id", dh__col_json_str(q, 0),
                     "event_id", dh__col_json_str(q, 1), "endpoint", dh__col_json_str(q, 2),
                     "state", state, "attempt_count", sqlite3_column_int(q, 4),
                     "next_attempt_at", waits ? dh__iso(sqlite3_column_int64(q, 5)) : json_null(),
                     "created_at", dh__iso(sqlite3_column_int64(q, 6)), "updated_at",
                     dh__iso(sqlite3_column_int64(q, 7)), "last_status",
                     sqlite3_column_type(q, 8) == SQLITE_NULL ? json_null()
                                                              : json_integer(sqlite3_column_int(q, 8)),
                     "last_outcome", dh__col_json_str(q, 9));
}

int dh__sqlite_dlv_list(struct dh_store *st, const struct dh_dlv_query *qy, json_t **items,
                        char next[DH_ID_MAX])
{
    struct dh__sqlite *s = st->impl;
    char sql[600];
    sqlite3_stmt *q = NULL;
    int idx = 1, count = 0, rc;
    json_t *arr = json_array();
    int64_t cursor_seq = 0;

    next[0] = '\0';
    if (qy->cursor != NULL)
        cursor_seq = strtoll(qy->cursor, NULL, 10);
    snprintf(sql, sizeof(sql),
             "SELECT " DH__DLV_COLS " FROM deliveries WHERE 1%s%s%s%s ORDER BY seq DESC LIMIT ?",
             qy->endpoint_id ? " AND endpoint_id = ?" : "", qy->state ? " AND state = ?" : "",
             qy->event_id ? " AND event_id = ?" : "", qy->cursor ? " AND seq < ?" : "");
    pthread_mutex_lock(&s->rlock);
    if (sqlite3_prepare_v2(s->rdb, sql, -1, &q, NULL) != SQLITE_OK) {
        rc = DH__SQL_FAIL;
        goto out;
    }
    if (qy->endpoint_id)
        sqlite3_bind_text(q, idx++, qy->endpoint_id, -1, SQLITE_STATIC);
    if (qy->state)
        sqlite3_bind_text(q, idx++, qy->state, -1, SQLITE_STATIC);
    if (qy->event_id)
        sqlite3_bind_text(q, idx++, qy->event_id, -1, SQLITE_STATIC);
    if (qy->cursor)
        sqlite3_bind_int64(q, idx++, cursor_seq);
    sqlite3_bind_int(q, idx, qy->limit + 1);
    int64_t last_seq = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (count == qy->limit) {
            /* One more row exists: the next page starts after the last. */
            snprintf(next, DH_ID_MAX, "%lld", (long long)last_seq);
            break;
        }
        json_array_append_new(arr, dh__dlv_row(q));
        last_seq = sqlite3_column_int64(q, 10);
        count++;
    }
    rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : DH__SQL_FAIL;
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->rlock);
    if (rc < 0) {
        json_decref(arr);
        arr = NULL;
    }
    *items = arr;
    return rc;
}

int dh__sqlite_dlv_get(struct dh_store *st, const char *id, json_t **out)
{
    struct dh__sqlite *s = st->impl;
    sqlite3_stmt *q = NULL;
    json_t *d = NULL, *atts = NULL;
    int rc;

    *out = NULL;
    pthread_mutex_lock(&s->rlock);
    if (sqlite3_prepare_v2(s->rdb, "SELECT " DH__DLV_COLS " FROM deliveries WHERE id = ?1", -1,
                           &q, NULL) != SQLITE_OK) {
        rc = DH__SQL_FAIL;
        goto out;
    }
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        rc = rc == SQLITE_DONE ? DH_E_NOT_FOUND : DH__SQL_FAIL;
        goto out;
    }
    d = dh__dlv_row(q);
    sqlite3_finalize(q);
    q = NULL;
    if (sqlite3_prepare_v2(s->rdb,
                           "SELECT n, started_at, duration_ms, status, outcome, error, headers, "
                           "body, body_truncated FROM attempts WHERE delivery_id = ?1 "
                           "ORDER BY seq",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = DH__SQL_FAIL;
        goto out;
    }
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    atts = json_array();
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *htext = (const char *)sqlite3_column_text(q, 6);
        json_t *headers = htext ? json_loads(htext, 0, NULL) : NULL;
        const void *body = sqlite3_column_blob(q, 7);
        int blen = sqlite3_column_bytes(q, 7);
        json_array_append_new(
            atts, json_pack("{s:i,s:o,s:I,s:o,s:o,s:o,s:{s:o,s:o,s:b}}", "n",
                            sqlite3_column_int(q, 0), "started_at",
                            dh__iso(sqlite3_column_int64(q, 1)), "duration_ms",
                            (json_int_t)sqlite3_column_int64(q, 2), "status",
                            sqlite3_column_type(q, 3) == SQLITE_NULL
                                ? json_null()
                                : json_integer(sqlite3_column_int(q, 3)),
                            "outcome", dh__col_json_str(q, 4), "error", dh__col_json_str(q, 5),
                            "response", "headers", headers ? headers : json_object(), "body",
                            body ? json_stringn_nocheck(body, (size_t)blen) : json_string(""),
                            "body_truncated", sqlite3_column_int(q, 8)));
    }
    rc = rc == SQLITE_DONE ? 0 : DH__SQL_FAIL;
    if (rc == 0) {
        json_object_set_new(d, "attempts", atts);
        atts = NULL;
        *out = d;
        d = NULL;
    }
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->rlock);
    json_decref(d);
    json_decref(atts);
    return rc;
}

int dh__sqlite_dlv_counts(struct dh_store *st, json_t **out)
{
    struct dh__sqlite *s = st->impl;
    sqlite3_stmt *q = NULL;
    int rc;
    json_t *o = json_pack("{s:i,s:i,s:i,s:i,s:i}", DH_DLV_PENDING, 0, DH_DLV_IN_FLIGHT, 0,
                          DH_DLV_RETRY_WAIT, 0, DH_DLV_DELIVERED, 0, DH_DLV_DEAD, 0);

    *out = NULL;
    pthread_mutex_lock(&s->rlock);
    if (sqlite3_prepare_v2(s->rdb, "SELECT state, COUNT(*) FROM deliveries GROUP BY state", -1,
                           &q, NULL) != SQLITE_OK) {
        rc = DH__SQL_FAIL;
        goto out;
    }
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        json_object_set_new(o, (const char *)sqlite3_column_text(q, 0),
                            json_integer(sqlite3_column_int64(q, 1)));
    rc = rc == SQLITE_DONE ? 0 : DH__SQL_FAIL;
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->rlock);
    if (rc < 0)
        json_decref(o);
    else
        *out = o;
    return rc;
}
