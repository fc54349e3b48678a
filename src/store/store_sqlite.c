/*
 * store_sqlite.c: the embedded SQLite backend ("sqlite:PATH").
 *
 * DESIGN
 * Three connections, each confined: the writer (commit thread only), the
 * reader (admin API threads, under a mutex), and the checkpointer (its own
 * thread). The database runs in WAL mode with synchronous=FULL, so a COMMIT
 * returns only after the WAL is fsync'ed. Automatic checkpoints are off
 * (they would run inside a COMMIT and stall every request of that batch);
 * the checkpointer runs PASSIVE checkpoints twice a second instead, which
 * never block the writer. A lock file held with flock() keeps a second
 * process off the same database (store.h invariant 3).
 *
 * Dedupe: a row per key with the first event's id and an expiry. Within one
 * batch repeats are caught in a small hash table before SQL sees them, so a
 * conflict never aborts the batch (store.h invariant 2).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "store/sqlite_impl.h"
#include "store/store.h"


/* Numbered migrations; index + 1 is the version. Never edit one that has
 * shipped: add another. */
static const char *const dh__migrations[] = {
    /* 1: events, dedupe keys, and a heartbeat for write probes. */
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  source TEXT NOT NULL,"
    "  provider TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  ticket_id TEXT,"
    "  received_at INTEGER NOT NULL,"
    "  dedupe_key TEXT NOT NULL,"
    "  auth_index INTEGER,"
    "  content_type TEXT NOT NULL,"
    "  doc TEXT NOT NULL,"
    "  raw BLOB NOT NULL);"
    "CREATE INDEX events_source ON events(source, id);"
    "CREATE INDEX events_type ON events(type, id);"
    "CREATE TABLE dedupe ("
    "  key TEXT PRIMARY KEY,"
    "  event_id TEXT NOT NULL,"
    "  expires_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX dedupe_expires ON dedupe(expires_at);"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;",
    /* 2: outbound delivery. One delivery per event and endpoint; its id is
     * the webhook-id. In-flight rows carry their lease's end in next_at, so
     * an expired lease is simply due again. */
    "CREATE TABLE endpoints ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  spec TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE endpoint_state ("
    "  id TEXT PRIMARY KEY,"
    "  paused INTEGER NOT NULL,"
    "  reason TEXT,"
    "  updated_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE deliveries ("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  event_id TEXT NOT NULL,"
    "  endpoint_id TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_at INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  last_status INTEGER,"
    "  last_outcome TEXT,"
    "  UNIQUE (event_id, endpoint_id));"
    "CREATE INDEX deliveries_due ON deliveries(endpoint_id, next_at)"
    "  WHERE state IN ('pending', 'retry_wait', 'in_flight');"
    "CREATE INDEX deliveries_endpoint ON deliveries(endpoint_id, seq);"
    "CREATE TABLE attempts ("
    "  seq INTEGER PRIMARY KEY,"
    "  delivery_id TEXT NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  started_at INTEGER NOT NULL,"
    "  duration_ms INTEGER NOT NULL,"
    "  status INTEGER,"
    "  outcome TEXT NOT NULL,"
    "  error TEXT,"
    "  headers TEXT,"
    "  body BLOB,"
    "  body_truncated INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX attempts_delivery ON attempts(delivery_id, seq);",
};

#define DH__CKPT_INTERVAL_MS 100 /* between checkpoints: the shorter, the shorter each pause */
#define DH__WAL_REWIND_FRAMES 2048 /* the commit thread rewinds a WAL this long */
#define DH__NMIGRATIONS (sizeof(dh__migrations) / sizeof(dh__migrations[0]))

int dh__sqlite_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        if (err != NULL)
            snprintf(err, errlen, "%s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return DH_E_STORE_UNAVAILABLE;
    }
    return 0;
}

static int dh__open_conn(const char *path, sqlite3 **out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "no memory");
        sqlite3_close(db);
        return DH_E_STORE_UNAVAILABLE;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_extended_result_codes(db, 1);
    *out = db;
    return 0;
}

static int dh__migrate(struct dh__sqlite *s, char *err, size_t errlen)
{
    sqlite3_stmt *q = NULL;
    int version = 0;
    int rc;

    rc = dh__sqlite_exec(s->wdb,
                  "CREATE TABLE IF NOT EXISTS schema_migrations ("
                  " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
                  err, errlen);
    if (rc < 0)
        return rc;
    if (sqlite3_prepare_v2(s->wdb, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1,
                           &q, NULL) != SQLITE_OK)
        return DH_E_STORE_UNAVAILABLE;
    if (sqlite3_step(q) == SQLITE_ROW)
        version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    if (version > (int)DH__NMIGRATIONS) {
        snprintf(err, errlen,
                 "the database is at schema version %d, newer than this deskhook knows (%zu)",
                 version, DH__NMIGRATIONS);
        return DH_E_STORE_UNAVAILABLE;
    }
    for (size_t v = (size_t)version; v < DH__NMIGRATIONS; v++) {
        char *sql = dh_asprintf("BEGIN IMMEDIATE; %s; INSERT INTO schema_migrations VALUES "
                                "(%zu, %lld); COMMIT;",
                                dh__migrations[v], v + 1, (long long)dh_clock_wall_ms());
        rc = dh__sqlite_exec(s->wdb, sql, err, errlen);
        free(sql);
        if (rc < 0) {
            dh__sqlite_exec(s->wdb, "ROLLBACK", NULL, 0);
            return rc;
        }
        dh_info("store migrated", DH_LN("schema_version", v + 1));
    }
    return 0;
}

static void *dh__ckpt_main(void *arg)
{
    struct dh__sqlite *s = arg;

    pthread_setname_np(pthread_self(), "dh-checkpoint");
    pthread_mutex_lock(&s->ckpt_lock);
    while (!s->ckpt_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += DH__CKPT_INTERVAL_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->ckpt_cond, &s->ckpt_lock, &ts);
        if (s->ckpt_stop)
            break;
        pthread_mutex_unlock(&s->ckpt_lock);
        int nlog = 0, nckpt = 0;
        /* PASSIVE never holds up the writer. It cannot rewind the WAL under
         * steady load (the writer has always appended more by the time it
         * finishes): dh__sqlite_after_batch does that, with little left to
         * copy because of this pass. */
        sqlite3_wal_checkpoint_v2(s->cdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
        dh_debug("checkpoint", DH_LN("wal_frames", nlog), DH_LN("copied", nckpt));
        pthread_mutex_lock(&s->ckpt_lock);
    }
    pthread_mutex_unlock(&s->ckpt_lock);
    return NULL;
}

static int dh__prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK
               ? 0
               : DH_E_STORE_UNAVAILABLE;
}

/* Called by SQLite on the commit thread after each commit. */
static int dh__wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct dh__sqlite *s = arg;
    s->wal_frames = frames;
    return SQLITE_OK;
}

static void dh__sqlite_close(struct dh_store *st);

static int dh__sqlite_open(const char *target, struct dh_store *st, char *err, size_t errlen)
{
    struct dh__sqlite *s = dh_new(struct dh__sqlite);
    char *lockpath = NULL;
    int rc = DH_E_STORE_UNAVAILABLE;

    s->lock_fd = -1;
    pthread_mutex_init(&s->rlock, NULL);
    pthread_mutex_init(&s->ckpt_lock, NULL);
    pthread_cond_init(&s->ckpt_cond, NULL);
    st->impl = s;
    if (target[0] == '\0') {
        snprintf(err, errlen, "sqlite: needs a file path (sqlite:deskhook.db)");
        rc = -EINVAL;
        goto out;
    }
    s->path = dh_strdup(target);

    /* Invariant 3: one process per database. */
    lockpath = dh_asprintf("%s.lock", target);
    s->lock_fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot create lock file %s: %s", lockpath, strerror(errno));
        goto out;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        char pid[32] = "";
        ssize_t n = pread(s->lock_fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        snprintf(err, errlen,
                 "store sqlite:%s is in use by another deskhook process%s%s (lock %s); "
                 "stop it or use another store",
                 target, pid[0] ? " pid " : "", pid, lockpath);
        close(s->lock_fd);
        s->lock_fd = -1;
        rc = DH_E_STORE_LOCKED;
        goto out;
    }
    if (ftruncate(s->lock_fd, 0) == 0) {
        char pid[32];
        int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
        if (pwrite(s->lock_fd, pid, (size_t)n, 0) < 0)
            dh_warn("cannot write pid to lock file", DH_LS("error", strerror(errno)));
    }

    rc = dh__open_conn(target, &s->wdb, err, errlen);
    if (rc < 0)
        goto out;
    rc = dh__sqlite_exec(s->wdb,
                  "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                  "PRAGMA wal_autocheckpoint=0; PRAGMA foreign_keys=ON;",
                  err, errlen);
    if (rc < 0)
        goto out;
    rc = dh__migrate(s, err, errlen);
    if (rc < 0)
        goto out;
    /* The lock file makes this the only process: every lease left behind
     * belongs to a process that is gone, so its deliveries go out again at
     * once (with the same webhook-id). */
    rc = dh__sqlite_exec(s->wdb,
                  "UPDATE deliveries SET state = 'pending', next_at = 0 "
                  "WHERE state = 'in_flight'",
                  err, errlen);
    if (rc < 0)
        goto out;
    sqlite3_wal_hook(s->wdb, dh__wal_hook, s);
    if (dh__prepare(s->wdb, "SELECT event_id, expires_at FROM dedupe WHERE key = ?1",
                    &s->st_dedupe_get) < 0 ||
        dh__prepare(s->wdb,
                    "INSERT INTO dedupe (key, event_id, expires_at) VALUES (?1, ?2, ?3) "
                    "ON CONFLICT (key) DO UPDATE SET event_id = excluded.event_id, "
                    "expires_at = excluded.expires_at",
                    &s->st_dedupe_put) < 0 ||
        dh__prepare(s->wdb,
                    "INSERT INTO events (id, source, provider, type, ticket_id, received_at, "
                    "dedupe_key, auth_index, content_type, doc, raw) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                    &s->st_event_put) < 0 ||
        dh__prepare(s->wdb,
                    "INSERT INTO meta (key, value) VALUES ('heartbeat', ?1) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &s->st_probe) < 0 ||
        dh__prepare(s->wdb,
                    "INSERT INTO deliveries (id, event_id, endpoint_id, state, next_at, "
                    "created_at, updated_at) VALUES (?1, ?2, ?3, 'pending', ?4, ?4, ?4) "
                    "ON CONFLICT (event_id, endpoint_id) DO NOTHING",
                    &s->st_dlv_put) < 0) {
        snprintf(err, errlen, "cannot prepare statements: %s", sqlite3_errmsg(s->wdb));
        rc = DH_E_STORE_UNAVAILABLE;
        goto out;
    }
    rc = dh__open_conn(target, &s->rdb, err, errlen);
    if (rc < 0)
        goto out;
    rc = dh__open_conn(target, &s->cdb, err, errlen);
    if (rc < 0)
        goto out;
    /* A connection that has not read the database does not know it is in
     * WAL mode, and its checkpoints would silently do nothing. */
    rc = dh__sqlite_exec(s->cdb, "PRAGMA journal_mode=WAL", err, errlen);
    if (rc < 0)
        goto out;
    rc = -pthread_create(&s->ckpt_thread, NULL, dh__ckpt_main, s);
    if (rc < 0) {
        snprintf(err, errlen, "cannot start the checkpoint thread");
        goto out;
    }
    s->ckpt_started = 1;
    rc = 0;
out:
    free(lockpath);
    if (rc < 0)
        dh__sqlite_close(st);
    return rc;
}

static void dh__sqlite_close(struct dh_store *st)
{
    struct dh__sqlite *s = st->impl;

    if (s == NULL)
        return;
    if (s->cdb != NULL) {
        pthread_mutex_lock(&s->ckpt_lock);
        s->ckpt_stop = 1;
        pthread_cond_signal(&s->ckpt_cond);
        pthread_mutex_unlock(&s->ckpt_lock);
        if (s->ckpt_started)
            pthread_join(s->ckpt_thread, NULL);
        sqlite3_close(s->cdb);
    }
    sqlite3_finalize(s->st_dedupe_get);
    sqlite3_finalize(s->st_dedupe_put);
    sqlite3_finalize(s->st_event_put);
    sqlite3_finalize(s->st_probe);
    sqlite3_finalize(s->st_dlv_put);
    dh__sqlite_dlv_finalize(s);
    sqlite3_close(s->rdb);
    if (s->wdb != NULL) {
        /* A clean stop leaves a small WAL behind for the next start. */
        sqlite3_wal_checkpoint_v2(s->wdb, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        sqlite3_close(s->wdb);
    }
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the flock */
    pthread_mutex_destroy(&s->rlock);
    pthread_mutex_destroy(&s->ckpt_lock);
    pthread_cond_destroy(&s->ckpt_cond);
    free(s->path);
    free(s);
    st->impl = NULL;
}

/* In-batch dedupe: open addressing over item indexes. */
static size_t dh__hash(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

int dh__sqlite_step_done(sqlite3_stmt *q)
{
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? 0 : DH_E_STORE_UNAVAILABLE;
}

static int dh__write_event(struct dh__sqlite *s, struct dh_event_rec *ev, int64_t now,
                           size_t *ndue)
{
    sqlite3_stmt *q = s->st_dedupe_get;
    int rc;

    sqlite3_bind_text(q, 1, ev->dedupe_key, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW && sqlite3_column_int64(q, 1) > now) {
        ev->duplicate = 1;
        snprintf(ev->existing_id, sizeof(ev->existing_id), "%s",
                 (const char *)sqlite3_column_text(q, 0));
        sqlite3_reset(q);
        return 0;
    }
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return DH_E_STORE_UNAVAILABLE;

    q = s->st_event_put;
    sqlite3_bind_text(q, 1, ev->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, ev->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, ev->provider, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, ev->type, -1, SQLITE_STATIC);
    if (ev->ticket_id != NULL)
        sqlite3_bind_text(q, 5, ev->ticket_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, 5);
    sqlite3_bind_int64(q, 6, ev->received_ms);
    sqlite3_bind_text(q, 7, ev->dedupe_key, -1, SQLITE_STATIC);
    if (ev->auth_index >= 0)
        sqlite3_bind_int(q, 8, ev->auth_index);
    else
        sqlite3_bind_null(q, 8);
    sqlite3_bind_text(q, 9, ev->content_type ? ev->content_type : "application/json", -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(q, 10, ev->doc, (int)ev->doc_len, SQLITE_STATIC);
    sqlite3_bind_blob(q, 11, ev->raw_len ? ev->raw : "", (int)ev->raw_len, SQLITE_STATIC);
    rc = dh__sqlite_step_done(q);
    if (rc < 0)
        return rc;

    /* The deliveries, in the event's transaction: nothing is acknowledged
     * without them. */
    for (size_t i = 0; i < ev->ntargets; i++) {
        char did[DH_ID_MAX];
        rc = dh__sqlite_dlv_insert(s, ev->id, ev->targets[i], now, did);
        if (rc < 0)
            return rc;
        *ndue += (size_t)rc;
    }

    q = s->st_dedupe_put;
    sqlite3_bind_text(q, 1, ev->dedupe_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, ev->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, ev->received_ms + ev->dedupe_window_ms);
    return dh__sqlite_step_done(q);
}

static int dh__sqlite_write_batch(struct dh_store *st, struct dh_commit_item **items, size_t n)
{
    struct dh__sqlite *s = st->impl;
    size_t cap = 16, nevs = 0;
    struct dh_event_rec **slots;
    int64_t now = dh_clock_wall_ms();
    int rc;

    for (size_t i = 0; i < n; i++)
        nevs += items[i]->kind == DH_COMMIT_EVENT ? items[i]->nevs : 0;
    while (cap < nevs * 2)
        cap *= 2;
    slots = dh_calloc(cap, sizeof(*slots));

    rc = dh__sqlite_exec(s->wdb, "BEGIN IMMEDIATE", NULL, 0);
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        struct dh_commit_item *it = items[i];
        it->rc = 0;
        it->ndue = 0;
        if (it->kind == DH_COMMIT_CALL) {
            rc = it->call(st, it);
            if (rc < 0)
                goto out;
            continue;
        }
        if (it->kind == DH_COMMIT_PROBE) {
            char ts[40];
            dh_clock_format_iso(now, ts, sizeof(ts));
            sqlite3_bind_text(s->st_probe, 1, ts, -1, SQLITE_TRANSIENT);
            rc = dh__sqlite_step_done(s->st_probe);
            if (rc < 0)
                goto out;
            continue;
        }
        for (size_t e = 0; e < it->nevs; e++) {
            struct dh_event_rec *ev = &it->evs[e];
            size_t h = dh__hash(ev->dedupe_key) & (cap - 1);

            ev->duplicate = 0;
            /* A repeat of an earlier event of this batch: its first id. */
            while (slots[h] != NULL && strcmp(slots[h]->dedupe_key, ev->dedupe_key) != 0)
                h = (h + 1) & (cap - 1);
            if (slots[h] != NULL) {
                ev->duplicate = 1;
                snprintf(ev->existing_id, sizeof(ev->existing_id), "%s",
                         slots[h]->duplicate ? slots[h]->existing_id : slots[h]->id);
                continue;
            }
            slots[h] = ev;
            rc = dh__write_event(s, ev, now, &it->ndue);
            if (rc < 0)
                goto out;
        }
    }
    rc = dh__sqlite_exec(s->wdb, "COMMIT", NULL, 0);
out:
    if (rc < 0) {
        dh_error("store transaction failed", DH_LS("error", sqlite3_errmsg(s->wdb)),
                 DH_LN("sqlite_code", sqlite3_extended_errcode(s->wdb)));
        if (!sqlite3_get_autocommit(s->wdb))
            dh__sqlite_exec(s->wdb, "ROLLBACK", NULL, 0);
        for (size_t i = 0; i < n; i++) {
            items[i]->rc = DH_E_STORE_UNAVAILABLE;
            for (size_t e = 0; items[i]->kind == DH_COMMIT_EVENT && e < items[i]->nevs; e++)
                items[i]->evs[e].duplicate = 0;
        }
    }
    free(slots);
    return rc;
}

/* Commit thread, after a batch has been answered: when the WAL has grown,
 * finish the checkpoint here, between two transactions, so the next one
 * starts the WAL from the beginning. The background pass has copied most of
 * it already; PASSIVE returns at once if that pass is still running. */
static void dh__sqlite_after_batch(struct dh_store *st)
{
    struct dh__sqlite *s = st->impl;
    int nlog = 0, nckpt = 0;

    if (s->wal_frames < DH__WAL_REWIND_FRAMES)
        return;
    int64_t t0 = dh_clock_mono_us();
    if (sqlite3_wal_checkpoint_v2(s->wdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt) ==
            SQLITE_OK &&
        nlog == nckpt)
        s->wal_frames = 0;
    dh_debug("wal rewind", DH_LN("wal_frames", nlog), DH_LN("copied", nckpt),
             DH_LN("duration_us", dh_clock_mono_us() - t0));
}

static int dh__sqlite_maintain(struct dh_store *st, int64_t now_ms)
{
    struct dh__sqlite *s = st->impl;
    char sql[200];
    snprintf(sql, sizeof(sql),
             "DELETE FROM dedupe WHERE key IN (SELECT key FROM dedupe WHERE expires_at <= %lld "
             "LIMIT 10000)",
             (long long)now_ms);
    return dh__sqlite_exec(s->wdb, sql, NULL, 0);
}

static int dh__sqlite_list(struct dh_store *st, const struct dh_event_query *qy, json_t **items,
                           char next[DH_ID_MAX])
{
    struct dh__sqlite *s = st->impl;
    char sql[512];
    sqlite3_stmt *q = NULL;
    int idx = 1, count = 0, rc = 0;
    json_t *arr = json_array();

    next[0] = '\0';
    snprintf(sql, sizeof(sql), "SELECT id, doc FROM events WHERE 1%s%s%s ORDER BY id DESC LIMIT ?",
             qy->source ? " AND source = ?" : "", qy->type ? " AND type = ?" : "",
             qy->cursor ? " AND id < ?" : "");
    pthread_mutex_lock(&s->rlock);
    if (sqlite3_prepare_v2(s->rdb, sql, -1, &q, NULL) != SQLITE_OK) {
        rc = DH_E_STORE_UNAVAILABLE;
        goto out;
    }
    if (qy->source)
        sqlite3_bind_text(q, idx++, qy->source, -1, SQLITE_STATIC);
    if (qy->type)
        sqlite3_bind_text(q, idx++, qy->type, -1, SQLITE_STATIC);
    if (qy->cursor)
        sqlite3_bind_text(q, idx++, qy->cursor, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, idx, qy->limit + 1);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (count == qy->limit) {
            /* One more row exists: the page ends at the previous id. */
            json_t *last = json_array_get(arr, json_array_size(arr) - 1);
            snprintf(next, DH_ID_MAX, "%s", json_string_value(json_object_get(last, "id")));
            break;
        }
        json_t *doc = json_loads((const char *)sqlite3_column_text(q, 1), JSON_ALLOW_NUL, NULL);
        if (doc != NULL)
            json_array_append_new(arr, doc);
        count++;
    }
    rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : DH_E_STORE_UNAVAILABLE;
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

static int dh__sqlite_get(struct dh_store *st, const char *id, struct dh_event_row *row)
{
    struct dh__sqlite *s = st->impl;
    sqlite3_stmt *q = NULL;
    int rc;

    memset(row, 0, sizeof(*row));
    pthread_mutex_lock(&s->rlock);
    if (sqlite3_prepare_v2(s->rdb, "SELECT doc, raw, content_type FROM events WHERE id = ?1", -1,
                           &q, NULL) != SQLITE_OK) {
        rc = DH_E_STORE_UNAVAILABLE;
        goto out;
    }
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        const void *raw = sqlite3_column_blob(q, 1);
        row->raw_len = (size_t)sqlite3_column_bytes(q, 1);
        row->raw = dh_malloc(row->raw_len + 1);
        if (row->raw_len)
            memcpy(row->raw, raw, row->raw_len);
        row->raw[row->raw_len] = '\0';
        row->doc = dh_strdup((const char *)sqlite3_column_text(q, 0));
        row->content_type = dh_strdup((const char *)sqlite3_column_text(q, 2));
        snprintf(row->id, sizeof(row->id), "%s", id);
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? DH_E_NOT_FOUND : DH_E_STORE_UNAVAILABLE;
    }
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->rlock);
    return rc;
}

const struct dh_store_ops dh_store_sqlite_ops = {
    .scheme = "sqlite",
    .open = dh__sqlite_open,
    .close = dh__sqlite_close,
    .write_batch = dh__sqlite_write_batch,
    .maintain = dh__sqlite_maintain,
    .after_batch = dh__sqlite_after_batch,
    .list_events = dh__sqlite_list,
    .get_event = dh__sqlite_get,
    .dlv_claim = dh__sqlite_dlv_claim,
    .dlv_finish = dh__sqlite_dlv_finish,
    .dlv_replay = dh__sqlite_dlv_replay,
    .dlv_fanout = dh__sqlite_dlv_fanout,
    .ep_save = dh__sqlite_ep_save,
    .ep_delete = dh__sqlite_ep_delete,
    .ep_set_paused = dh__sqlite_ep_set_paused,
    .ep_load = dh__sqlite_ep_load,
    .dlv_list = dh__sqlite_dlv_list,
    .dlv_get = dh__sqlite_dlv_get,
    .dlv_counts = dh__sqlite_dlv_counts,
};
