/*
 * commit.c: the group-commit thread (commit.h).
 */
#include "store/commit.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"

/* A batch that starts within this long of the previous one's end means the
 * gateway is under sustained load. */
#define DH__BUSY_US 2000

/* Owned by the commit thread; the queue fields are shared under lock. */
struct dh_committer {
    struct dh_store *st;
    size_t max_batch;
    unsigned delay_us;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct dh_commit_item *head, *tail; /* under lock */
    int stopping;                       /* under lock */
    unsigned long long txns, items;     /* under lock */
    void (*kick)(void *arg);            /* set before use, then read-only */
    void *kick_arg;
};

static void *dh__commit_main(void *arg)
{
    struct dh_committer *c = arg;
    struct dh_commit_item **batch = dh_calloc(c->max_batch, sizeof(*batch));
    int64_t last_maint = dh_clock_mono_ms();
    int64_t last_end_us = 0;

    pthread_setname_np(pthread_self(), "dh-commit");

    for (;;) {
        size_t n = 0;
        pthread_mutex_lock(&c->lock);
        while (c->head == NULL && !c->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT)
                break;
        }
        if (c->head == NULL && c->stopping) {
            pthread_mutex_unlock(&c->lock);
            break;
        }
        if (c->head != NULL && !c->stopping && c->delay_us > 0 &&
            dh_clock_mono_us() - last_end_us < DH__BUSY_US) {
            /* Under sustained load the request threads are still parsing
             * the requests that arrived during the last fsync; on a small
             * machine they share a core with this thread. Waiting a moment
             * lets them finish, so one fsync covers them all instead of
             * the first two or three. An idle gateway commits at once. */
            pthread_mutex_unlock(&c->lock);
            usleep((useconds_t)c->delay_us);
            pthread_mutex_lock(&c->lock);
        }
        while (c->head != NULL && n < c->max_batch) {
            batch[n++] = c->head;
            c->head = c->head->next;
        }
        if (c->head == NULL)
            c->tail = NULL;
        pthread_mutex_unlock(&c->lock);

        if (n > 0) {
            int64_t t0 = dh_clock_mono_us();
            int rc = c->st->ops->write_batch(c->st, batch, n);
            dh_debug("batch committed", DH_LN("items", n),
                     DH_LN("duration_us", dh_clock_mono_us() - t0));
            if (rc < 0)
                dh_error("store write failed", DH_LS("error", dh_strerror(rc)),
                         DH_LN("batch", n));
            pthread_mutex_lock(&c->lock);
            c->txns++;
            c->items += n;
            pthread_mutex_unlock(&c->lock);
            /* Invariant 1 (store.h): done runs only after write_batch has
             * returned, i.e. after the transaction was made durable. */
            size_t ndue = 0;
            for (size_t i = 0; i < n; i++)
                ndue += rc == 0 ? batch[i]->ndue : 0;
            for (size_t i = 0; i < n; i++)
                batch[i]->done(batch[i]);
            if (ndue > 0 && c->kick != NULL)
                c->kick(c->kick_arg);
            if (c->st->ops->after_batch != NULL)
                c->st->ops->after_batch(c->st);
            last_end_us = dh_clock_mono_us();
        }
        int64_t now = dh_clock_mono_ms();
        if (now - last_maint >= 1000 && c->st->ops->maintain != NULL) {
            c->st->ops->maintain(c->st, dh_clock_wall_ms());
            last_maint = now;
        }
    }
    free(batch);
    return NULL;
}

int dh_commit_start(struct dh_store *st, size_t max_batch, unsigned delay_us,
                    struct dh_committer **out)
{
    struct dh_committer *c = dh_new(struct dh_committer);
    int rc;

    c->st = st;
    c->max_batch = max_batch ? max_batch : 1;
    c->delay_us = delay_us;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    rc = pthread_create(&c->thread, NULL, dh__commit_main, c);
    if (rc != 0) {
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->cond);
        free(c);
        return -rc;
    }
    *out = c;
    return 0;
}

int dh_commit_submit(struct dh_committer *c, struct dh_commit_item *item)
{
    item->next = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->stopping) {
        pthread_mutex_unlock(&c->lock);
        return DH_E_SHUTTING_DOWN;
    }
    if (c->tail != NULL)
        c->tail->next = item;
    else
        c->head = item;
    c->tail = item;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

void dh_commit_stop(struct dh_committer *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = 1;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
}

void dh_commit_stats(struct dh_committer *c, unsigned long long *txns, unsigned long long *items)
{
    pthread_mutex_lock(&c->lock);
    *txns = c->txns;
    *items = c->items;
    pthread_mutex_unlock(&c->lock);
}

void dh_commit_set_kick(struct dh_committer *c, void (*fn)(void *arg), void *arg)
{
    c->kick = fn;
    c->kick_arg = arg;
}

/* A caller waiting on its own item. */
struct dh__sync {
    struct dh_commit_item item;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
};

static void dh__sync_done(struct dh_commit_item *item)
{
    struct dh__sync *w = (struct dh__sync *)item;
    pthread_mutex_lock(&w->lock);
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

int dh_commit_call(struct dh_committer *c, dh_commit_call_fn fn, void *arg)
{
    struct dh__sync w;
    int rc;

    memset(&w, 0, sizeof(w));
    w.item.kind = DH_COMMIT_CALL;
    w.item.call = fn;
    w.item.call_arg = arg;
    w.item.done = dh__sync_done;
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    rc = dh_commit_submit(c, &w.item);
    if (rc == 0) {
        pthread_mutex_lock(&w.lock);
        while (!w.done)
            pthread_cond_wait(&w.cond, &w.lock);
        pthread_mutex_unlock(&w.lock);
        rc = w.item.rc;
    }
    pthread_mutex_destroy(&w.lock);
    pthread_cond_destroy(&w.cond);
    return rc;
}
