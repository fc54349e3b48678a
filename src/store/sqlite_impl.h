/*
 * sqlite_impl.h: the SQLite backend's shared state, for its own files only
 * (store_sqlite.c: events and the connections; store_sqlite_dlv.c:
 * deliveries and endpoints).
 */
#ifndef DH_SQLITE_IMPL_H
#define DH_SQLITE_IMPL_H

#include <pthread.h>

#include <sqlite3.h>

#include "store/store.h"

struct dh__sqlite {
    char *path;
    int lock_fd;
    sqlite3 *wdb;                /* commit thread */
    sqlite3_stmt *st_dedupe_get; /* commit thread */
    sqlite3_stmt *st_dedupe_put;
    sqlite3_stmt *st_event_put;
    sqlite3_stmt *st_probe;
    sqlite3_stmt *st_dlv_put;    /* commit thread: fan-out rows */
    sqlite3_stmt *st_claim_sel;  /* commit thread, prepared on first use */
    sqlite3_stmt *st_claim_upd;
    sqlite3_stmt *st_next_due;
    sqlite3_stmt *st_att_put;
    sqlite3_stmt *st_dlv_upd;
    sqlite3 *rdb; /* under rlock */
    pthread_mutex_t rlock;
    sqlite3 *cdb; /* checkpoint thread */
    pthread_t ckpt_thread;
    int ckpt_started;
    pthread_mutex_t ckpt_lock;
    pthread_cond_t ckpt_cond;
    int ckpt_stop; /* under ckpt_lock */
    int wal_frames; /* commit thread: frames in the WAL after the last commit */
};

/* Runs sql on db; fills err with SQLite's reason. */
int dh__sqlite_exec(sqlite3 *db, const char *sql, char *err, size_t errlen);
/* Steps a statement that returns no rows, then resets it. */
int dh__sqlite_step_done(sqlite3_stmt *q);
/* Inserts the delivery of ev_id to endpoint_id unless one exists (commit
 * thread). Returns 1 when a row was made, 0 when it existed, or a negative
 * code. */
int dh__sqlite_dlv_insert(struct dh__sqlite *s, const char *ev_id, const char *endpoint_id,
                          int64_t now_ms, char id_out[DH_ID_MAX]);

/* store_sqlite_dlv.c */
void dh__sqlite_dlv_finalize(struct dh__sqlite *s);
int dh__sqlite_dlv_claim(struct dh_store *st, struct dh_dlv_claim *claims, size_t n,
                         int64_t now_ms, int64_t lease_until_ms);
int dh__sqlite_dlv_finish(struct dh_store *st, const struct dh_dlv_result *res, size_t n);
int dh__sqlite_dlv_replay(struct dh_store *st, struct dh_dlv_replay *rp, int64_t now_ms);
int dh__sqlite_dlv_fanout(struct dh_store *st, const char *event_id, char *const *endpoint_ids,
                          size_t n, int64_t now_ms, char (*ids)[DH_ID_MAX]);
int dh__sqlite_ep_save(struct dh_store *st, const char *id, const char *name, const char *spec,
                       int64_t now_ms);
int dh__sqlite_ep_delete(struct dh_store *st, const char *id, int64_t now_ms);
int dh__sqlite_ep_set_paused(struct dh_store *st, const char *id, int paused, const char *reason,
                             int64_t now_ms);
int dh__sqlite_ep_load(struct dh_store *st, json_t **endpoints, json_t **states);
int dh__sqlite_dlv_list(struct dh_store *st, const struct dh_dlv_query *q, json_t **items,
                        char next[DH_ID_MAX]);
int dh__sqlite_dlv_get(struct dh_store *st, const char *id, json_t **out);
int dh__sqlite_dlv_counts(struct dh_store *st, json_t **out);

#endif
