/*
 * commit.h: group commit, the one thread that writes to the store.
 *
 * DESIGN
 * Request threads submit items and go on serving other connections (the
 * HTTP layer suspends the connection). The commit thread takes everything
 * queued (up to max_batch), writes it in one transaction through the store's
 * ops, waits for it to be durable, then calls each item's done callback. The
 * more requests arrive together, the more share one fsync: throughput grows
 * with load while latency stays one transaction.
 *
 *   submit ──▶ queue ──▶ commit thread: write_batch (BEGIN … COMMIT, fsync)
 *                                        └──▶ done(item) for each, in order
 *
 * Under sustained load it waits a moment before taking the queue (the
 * commit delay), so a batch is not cut short while the request threads are
 * still parsing what arrived during the last fsync.
 *
 * When idle for a second the thread runs the store's maintenance (dedupe
 * purge). dh_commit_stop() refuses new items, drains the queue, then joins.
 */
#ifndef DH_COMMIT_H
#define DH_COMMIT_H

#include <stddef.h>

#include "store/store.h"

struct dh_committer;

/* Starts the commit thread over st. Under sustained load (a batch starting
 * within 2 ms of the previous one's end) the thread waits delay_us before
 * taking the queue, so the batch gathers the requests still being parsed;
 * 0 disables the wait. Returns 0 or a negative code. */
int dh_commit_start(struct dh_store *st, size_t max_batch, unsigned delay_us,
                    struct dh_committer **out);
/* Queues item; its done callback runs later on the commit thread. Returns 0,
 * or DH_E_SHUTTING_DOWN (item untouched, done not called). Any thread. */
int dh_commit_submit(struct dh_committer *c, struct dh_commit_item *item);
/* Drains the queue, stops and joins the thread, frees c. NULL is fine. */
void dh_commit_stop(struct dh_committer *c);
/* Runs fn(st, item) with item->call_arg = arg inside a transaction of the
 * commit thread and waits until it is durable. Returns its rc. For rare
 * writes (the admin API); never call it from the commit thread. */
int dh_commit_call(struct dh_committer *c, dh_commit_call_fn fn, void *arg);
/* fn(arg) runs on the commit thread after every durable batch that made
 * deliveries due (item->ndue): it wakes the delivery engine. Set it before
 * the first item that can create deliveries. */
void dh_commit_set_kick(struct dh_committer *c, void (*fn)(void *arg), void *arg);
/* Number of transactions and items committed so far (for logs and stats). */
void dh_commit_stats(struct dh_committer *c, unsigned long long *txns, unsigned long long *items);

#endif
