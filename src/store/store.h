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
    char **targets;        /* ids of the endpoints that get a delivery */
    size_t ntargets;
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
    DH_COMMIT_CALL,  /* run call() inside the transaction (delivery writes) */
};

struct dh_store;
struct dh_commit_item;
typedef void (*dh_commit_done_fn)(struct dh_commit_item *item);
/* A write run by the commit thread inside the batch's transaction. Returns
 * 0, or a negative code that rolls the whole batch back (only for a store
 * failure: a call must not fail for a reason of its own). */
typedef int (*dh_commit_call_fn)(struct dh_store *st, struct dh_commit_item *item);

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
    dh_commit_call_fn call;   /* DH_COMMIT_CALL */
    void *call_arg;
    /* results, written by the commit thread */
    int rc;                   /* 0, or the reason the write failed */
    size_t ndue;              /* deliveries this item made due (wakes the engine) */
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

/* --- deliveries (delivery/engine.h drives them) --------------------------- */

/* States, as stored and shown by the API. */
#define DH_DLV_PENDING "pending"
#define DH_DLV_IN_FLIGHT "in_flight"
#define DH_DLV_RETRY_WAIT "retry_wait"
#define DH_DLV_DELIVERED "delivered"
#define DH_DLV_DEAD "dead"

/* A delivery claimed for an attempt, with the event it carries. */
struct dh_dlv_claimed {
    char id[DH_ID_MAX]; /* msg_…: also the webhook-id */
    char event_id[DH_ID_MAX];
    unsigned attempts;  /* made so far in this run */
    char *source;
    char *type;
    int64_t received_ms;
    char *doc;
    size_t doc_len;
};
void dh_dlv_claimed_clear(struct dh_dlv_claimed *c);

/* One endpoint's claim: up to limit due deliveries, oldest due first, are
 * leased (in_flight until lease_until_ms) and returned. */
struct dh_dlv_claim {
    const char *endpoint_id;
    unsigned limit;
    /* results */
    struct dh_dlv_claimed *rows; /* nrows, owned by the requester */
    size_t nrows;
    int64_t next_due_ms;         /* earliest next_at still waiting; 0: none */
};

/* The end of one attempt. */
struct dh_dlv_result {
    char id[DH_ID_MAX];
    unsigned attempt;       /* this attempt's number in the run, from 1 */
    int64_t started_ms;     /* wall clock */
    int64_t duration_ms;
    int status;             /* HTTP status, 0 when none */
    const char *outcome;    /* delivery/outcome.h */
    char *error;            /* a short reason, or NULL */
    char *resp_headers;     /* JSON object text, or NULL */
    char *resp_body;        /* the first 4 KiB */
    size_t resp_body_len;
    int body_truncated;
    const char *state;      /* the delivery's new state */
    int64_t next_at_ms;     /* retry_wait: when */
};
void dh_dlv_result_clear(struct dh_dlv_result *r);

/* Which deliveries a replay puts back to pending. */
struct dh_dlv_replay {
    const char *id;          /* one delivery, or NULL */
    const char *endpoint_id; /* with id NULL: this endpoint's ... */
    const char *state;       /* ... deliveries in this state (dead by default) */
    int64_t since_ms, until_ms; /* created in [since, until); 0: open */
    /* result */
    size_t replayed;
};

struct dh_dlv_query {
    const char *endpoint_id; /* NULL: any */
    const char *state;
    const char *event_id;
    const char *cursor;
    int limit;
};

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

    /* Deliveries and endpoints. The write ops run only inside a
     * DH_COMMIT_CALL on the commit thread; the reads on any thread. */
    int (*dlv_claim)(struct dh_store *st, struct dh_dlv_claim *claims, size_t n, int64_t now_ms,
                     int64_t lease_until_ms);
    int (*dlv_finish)(struct dh_store *st, const struct dh_dlv_result *res, size_t n);
    int (*dlv_replay)(struct dh_store *st, struct dh_dlv_replay *rp, int64_t now_ms);
    /* Creates (or puts back to pending) the delivery of event_id to each
     * endpoint; ids[i] receives the delivery id. */
    int (*dlv_fanout)(struct dh_store *st, const char *event_id, char *const *endpoint_ids,
                      size_t n, int64_t now_ms, char (*ids)[DH_ID_MAX]);
    int (*ep_save)(struct dh_store *st, const char *id, const char *name, const char *spec,
                   int64_t now_ms);
    /* Deletes an endpoint; its unfinished deliveries become dead. */
    int (*ep_delete)(struct dh_store *st, const char *id, int64_t now_ms);
    int (*ep_set_paused)(struct dh_store *st, const char *id, int paused, const char *reason,
                         int64_t now_ms);
    /* Reads: [{id, name, spec (text)}] of API endpoints, and [{id, paused,
     * reason}] of every endpoint with a stored state. */
    int (*ep_load)(struct dh_store *st, json_t **endpoints, json_t **states);
    int (*dlv_list)(struct dh_store *st, const struct dh_dlv_query *q, json_t **items,
                    char next[DH_ID_MAX]);
    /* One delivery with its attempts; DH_E_NOT_FOUND when absent. */
    int (*dlv_get)(struct dh_store *st, const char *id, json_t **out);
    /* {"pending": N, ...} over every state. */
    int (*dlv_counts)(struct dh_store *st, json_t **out);
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
