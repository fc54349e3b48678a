/*
 * store.h: the durable store, an ops table chosen by the URL scheme.
 *
 * DESIGN
 * Every write goes through one commit thread (commit.h), which hands the
 * backend a batch of items to write in one transaction and makes it durable
 * before any item's requester is told. Reads (the admin API) use the
 * backend's own read connection and may run on any thread. A backend owns
 * the meaning of its tables; nobody else runs SQL.
 *
 * Invariants:
 *  1. An item is reported written only after the transaction holding it is
 *     durable (fsync'ed).
 *  2. A batch either commits whole or not at all; a repeat inside a batch is
 *     caught in memory so one conflict never aborts the others.
 *  3. Exactly one process uses a store at a time (a lock file), so the commit
 *     thread is the only writer.
 */
#ifndef DH_STORE_H
#define DH_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/id.h"

/* One event to write. Filled by ingest on a request thread, read by the
 * commit thread; the strings are owned by the record (dh_event_rec_clear). */
struct dh_event_rec {
    char id[DH_ID_MAX];
    char *source;
    char *provider;
    char *type;
    char *ticket_id;       /* may be NULL */
    char *content_type;
    int64_t received_ms;
    char dedupe_key[80];
    int64_t dedupe_window_ms;
    int auth_index;        /* which secret/token matched; -1 when none */
    char *doc;             /* normalized document, JSON text without raw */
    size_t doc_len;
    char *raw;             /* body byte for byte */
    size_t raw_len;
    /* results, written by the commit thread */
    int duplicate;         /* 1: a repeat of existing_id within the window */
    char existing_id[DH_ID_MAX];
};

void dh_event_rec_clear(struct dh_event_rec *ev);

enum dh_commit_kind {
    DH_COMMIT_EVENT, /* store ev unless its dedupe key was seen in the window */
    DH_COMMIT_PROBE, /* write a heartbeat row: proves the store can write */
};

struct dh_commit_item;
typedef void (*dh_commit_done_fn)(struct dh_commit_item *item);

/* A unit of work for the commit thread: one request's events (several for
 * a batch or a multi-event payload), stored all in one transaction or not
 * at all. The submitter owns it; the commit thread fills the results and
 * then calls done (on the commit thread), after which it never touches the
 * item again. */
struct dh_commit_item {
    enum dh_commit_kind kind;
    struct dh_event_rec *evs; /* nevs records; often &one */
    size_t nevs;
    struct dh_event_rec one;
    /* results, written by the commit thread */
    int rc;                   /* 0, or the reason the write failed */
    dh_commit_done_fn done;
    void *arg;
    struct dh_commit_item *next; /* queue link, commit.c only */
};

/* An event as read back. */
struct dh_event_row {
    char id[DH_ID_MAX];
    char *doc;
    char *raw;
    size_t raw_len;
    char *content_type;
};
void dh_event_row_clear(struct dh_event_row *r);

struct dh_event_query {
    const char *source; /* NULL: any */
    const char *type;   /* NULL: any */
    const char *cursor; /* NULL: from the newest */
    int limit;
};

struct dh_store;

struct dh_store_ops {
    const char *scheme; /* "sqlite" */
    /* Opens target (the URL after "scheme:"); fills err on failure. */
    int (*open)(const char *target, struct dh_store *st, char *err, size_t errlen);
    void (*close)(struct dh_store *st);
    /* Commit thread only: writes items in one durable transaction and fills
     * each item's results. Returns 0, or a negative code when the
     * transaction failed (then every item's rc is set to that code). */
    int (*write_batch)(struct dh_store *st, struct dh_commit_item **items, size_t n);
    /* Commit thread only, when idle: purges expired dedupe keys. */
    int (*maintain)(struct dh_store *st, int64_t now_ms);
    /* Commit thread only, after each batch has been answered: housekeeping
     * that must run between transactions (SQLite rewinds its WAL). May be
     * NULL. */
    void (*after_batch)(struct dh_store *st);
    /* Any thread: newest-first page of normalized documents. Returns a JSON
     * array (new reference) in *items and the cursor of the next page (or
     * "" at the end) in next. */
    int (*list_events)(struct dh_store *st, const struct dh_event_query *q, json_t **items,
                       char next[DH_ID_MAX]);
    /* Any thread: one event; DH_E_NOT_FOUND when absent. */
    int (*get_event)(struct dh_store *st, const char *id, struct dh_event_row *row);
};

struct dh_store {
    const struct dh_store_ops *ops;
    void *impl;
    char *url;
};

/* Opens the store named by url ("sqlite:path"). Returns 0 and *out, or a
 * negative code with a one-line reason in err (for example the store is in
 * use by another process). */
int dh_store_open(const char *url, struct dh_store **out, char *err, size_t errlen);
/* Closes the store; the commit thread must be stopped first. NULL is fine. */
void dh_store_close(struct dh_store *st);

extern const struct dh_store_ops dh_store_sqlite_ops;

#endif
