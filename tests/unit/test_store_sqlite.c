/*
 * test_store_sqlite.c: the SQLite store as the commit thread drives it:
 * events written in batches and read back byte for byte, newest-first
 * paging, dedupe across and inside batches, the lock that keeps a second
 * process away, reopening, and the commit thread itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/id.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "store/commit.h"
#include "store/store.h"

#define HOUR_MS INT64_C(3600000)

/* Each test gets its own directory with one database. */
struct fixture {
    char dir[64];
    char path[128];
    char url[160];
    struct dh_store *st;
};

static void remove_db(const char *path)
{
    static const char *const suffix[] = {"", "-wal", "-shm", ".lock", "-journal"};
    char p[200];
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
        unlink(p);
    }
}

static struct dh_store *open_store(const char *url)
{
    struct dh_store *st = NULL;
    char err[512] = "";
    int rc = dh_store_open(url, &st, err, sizeof(err));
    if (rc != 0)
        fail_msg("cannot open %s: %s (%d)", url, err, rc);
    assert_non_null(st);
    return st;
}

static int setup(void **state)
{
    struct fixture *f = dh_new(struct fixture);
    snprintf(f->dir, sizeof(f->dir), "/tmp/dh_test_store_XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/events.db", f->dir);
    snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
    f->st = open_store(f->url);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    dh_store_close(f->st);
    remove_db(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* ---- building items ---- */

/* Fills ev as ingest would: a fresh id, names, a document that carries the
 * id, and raw bytes (raw_len of them, which may include NUL). */
static void fill_event(struct dh_event_rec *ev, const char *source, const char *type,
                       const char *key, int64_t received_ms, int64_t window_ms, const char *raw,
                       size_t raw_len)
{
    json_t *doc;

    memset(ev, 0, sizeof(*ev));
    dh_id_new("evt", ev->id);
    ev->source = dh_strdup(source);
    ev->provider = dh_strdup("generic");
    ev->type = dh_strdup(type);
    ev->ticket_id = dh_strdup("T-1");
    ev->content_type = dh_strdup("application/json; charset=utf-8");
    ev->received_ms = received_ms;
    snprintf(ev->dedupe_key, sizeof(ev->dedupe_key), "%s", key);
    ev->dedupe_window_ms = window_ms;
    ev->auth_index = -1;
    doc = json_pack("{s:s,s:s,s:s,s:s}", "id", ev->id, "source", source, "type", type,
                    "dedupe_key", key);
    ev->doc = dh_json_dump(doc);
    ev->doc_len = strlen(ev->doc);
    json_decref(doc);
    ev->raw = dh_malloc(raw_len + 1);
    memcpy(ev->raw, raw, raw_len);
    ev->raw[raw_len] = '\0';
    ev->raw_len = raw_len;
}

/* A one-event item. */
static struct dh_commit_item *new_item(const char *source, const char *type, const char *key,
                                       int64_t received_ms, int64_t window_ms)
{
    struct dh_commit_item *it = dh_new(struct dh_commit_item);
    char raw[100];
    int n = snprintf(raw, sizeof(raw), "{\"key\":\"%s\"}", key);

    it->kind = DH_COMMIT_EVENT;
    it->evs = &it->one;
    it->nevs = 1;
    fill_event(&it->one, source, type, key, received_ms, window_ms, raw, (size_t)n);
    it->rc = 12345;
    return it;
}

static struct dh_commit_item *new_probe(void)
{
    struct dh_commit_item *it = dh_new(struct dh_commit_item);
    it->kind = DH_COMMIT_PROBE;
    it->rc = 12345;
    return it;
}

static struct dh_event_rec *ev_of(struct dh_commit_item *it)
{
    assert_int_equal(it->nevs, 1);
    return &it->evs[0];
}

static void free_item(struct dh_commit_item *it)
{
    for (size_t i = 0; it->kind == DH_COMMIT_EVENT && i < it->nevs; i++)
        dh_event_rec_clear(&it->evs[i]);
    free(it);
}

static void free_items(struct dh_commit_item **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free_item(items[i]);
}

static void write_batch(struct dh_store *st, struct dh_commit_item **items, size_t n)
{
    int rc = st->ops->write_batch(st, items, n);
    if (rc != 0)
        fail_msg("write_batch failed: %d (%s)", rc, dh_strerror(rc));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(items[i]->rc, 0);
}

static int is_stored(struct dh_store *st, const char *id)
{
    struct dh_event_row row;
    int rc = st->ops->get_event(st, id, &row);
    if (rc == 0) {
        dh_event_row_clear(&row);
        return 1;
    }
    assert_int_equal(rc, DH_E_NOT_FOUND);
    return 0;
}

/* Lists every page (limit per page) and returns the ids, newest first, as
 * one JSON array of strings. */
static json_t *list_all(struct dh_store *st, const char *source, const char *type, int limit,
                        int *pages)
{
    json_t *ids = json_array();
    char cursor[DH_ID_MAX] = "";
    *pages = 0;
    for (;;) {
        struct dh_event_query q = {source, type, cursor[0] ? cursor : NULL, limit};
        char next[DH_ID_MAX];
        json_t *items = NULL;
        size_t i;
        json_t *doc;

        assert_int_equal(st->ops->list_events(st, &q, &items, next), 0);
        assert_true(json_is_array(items));
        assert_true(json_array_size(items) <= (size_t)limit);
        (*pages)++;
        json_array_foreach(items, i, doc)
            json_array_append(ids, json_object_get(doc, "id"));
        if (next[0] != '\0') {
            /* A page that has a successor is full and ends at the cursor. */
            assert_int_equal(json_array_size(items), (size_t)limit);
            assert_string_equal(next,
                                json_string_value(json_object_get(
                                    json_array_get(items, json_array_size(items) - 1), "id")));
        }
        json_decref(items);
        if (next[0] == '\0')
            break;
        snprintf(cursor, sizeof(cursor), "%s", next);
        if (*pages > 1000)
            fail_msg("paging does not end");
    }
    return ids;
}

/* ---- tests ---- */

static void test_store_and_read_back(void **state)
{
    struct fixture *f = *state;
    static const char body[] = "{\"subject\":\"caf\xc3\xa9\"}\0after the NUL\xff\xfe";
    struct dh_commit_item *items[4];
    struct dh_event_row row;
    int64_t now = dh_clock_wall_ms();

    for (int i = 0; i < 3; i++) {
        char key[32];
        snprintf(key, sizeof(key), "sha256:read-%d", i);
        items[i] = new_item("fd", "ticket.created", key, now, HOUR_MS);
    }
    /* The third one carries a body with a NUL byte and invalid UTF-8 inside. */
    dh_event_rec_clear(&items[2]->one);
    fill_event(&items[2]->one, "fd", "ticket.updated", "sha256:nul", now, HOUR_MS, body,
               sizeof(body) - 1);
    /* An empty body and no content type. */
    items[3] = new_item("fd", "ticket.created", "sha256:empty", now, HOUR_MS);
    free(items[3]->one.raw);
    items[3]->one.raw = NULL;
    items[3]->one.raw_len = 0;
    free(items[3]->one.content_type);
    items[3]->one.content_type = NULL;

    write_batch(f->st, items, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(ev_of(items[i])->duplicate, 0);

    for (int i = 0; i < 4; i++) {
        struct dh_event_rec *ev = ev_of(items[i]);
        assert_int_equal(f->st->ops->get_event(f->st, ev->id, &row), 0);
        assert_string_equal(row.id, ev->id);
        assert_string_equal(row.doc, ev->doc);
        assert_int_equal(row.raw_len, ev->raw_len);
        if (ev->raw_len > 0)
            assert_memory_equal(row.raw, ev->raw, ev->raw_len);
        assert_non_null(row.raw);
        dh_event_row_clear(&row);
    }
    /* The NUL and what follows it survive. */
    assert_int_equal(f->st->ops->get_event(f->st, items[2]->one.id, &row), 0);
    assert_int_equal(row.raw_len, sizeof(body) - 1);
    assert_memory_equal(row.raw, body, sizeof(body) - 1);
    assert_string_equal(row.content_type, "application/json; charset=utf-8");
    dh_event_row_clear(&row);
    /* No content type is stored as JSON's. */
    assert_int_equal(f->st->ops->get_event(f->st, items[3]->one.id, &row), 0);
    assert_int_equal(row.raw_len, 0);
    assert_string_equal(row.content_type, "application/json");
    dh_event_row_clear(&row);

    /* An id that was never stored. */
    {
        char id[DH_ID_MAX];
        dh_id_new("evt", id);
        assert_int_equal(f->st->ops->get_event(f->st, id, &row), DH_E_NOT_FOUND);
        assert_null(row.raw);
        assert_null(row.doc);
    }
    free_items(items, 4);
}

static void test_list_newest_first_and_paging(void **state)
{
    struct fixture *f = *state;
    enum { N = 11 };
    struct dh_commit_item *items[N];
    int64_t now = dh_clock_wall_ms();
    json_t *ids;
    int pages;

    /* Sources alternate a, b, c; types t1 for even i, t2 for odd. */
    for (int i = 0; i < N; i++) {
        char key[32], source[2] = {(char)('a' + i % 3), '\0'};
        snprintf(key, sizeof(key), "sha256:list-%d", i);
        items[i] = new_item(source, i % 2 ? "t2" : "t1", key, now, HOUR_MS);
    }
    /* Two batches, so order does not depend on one transaction. */
    write_batch(f->st, items, 6);
    write_batch(f->st, items + 6, N - 6);

    /* All of them, newest first, in pages of 4: 4 + 4 + 3. */
    ids = list_all(f->st, NULL, NULL, 4, &pages);
    assert_int_equal(pages, 3);
    assert_int_equal(json_array_size(ids), N);
    for (int i = 0; i < N; i++)
        assert_string_equal(json_string_value(json_array_get(ids, (size_t)i)),
                            items[N - 1 - i]->one.id);
    json_decref(ids);

    /* A page size that divides the count exactly ends without an empty page. */
    ids = list_all(f->st, NULL, NULL, N, &pages);
    assert_int_equal(pages, 1);
    assert_int_equal(json_array_size(ids), N);
    json_decref(ids);
    ids = list_all(f->st, NULL, NULL, 1, &pages);
    assert_int_equal(pages, N);
    json_decref(ids);

    /* By source: a is i = 0, 3, 6, 9. */
    ids = list_all(f->st, "a", NULL, 3, &pages);
    assert_int_equal(json_array_size(ids), 4);
    assert_int_equal(pages, 2);
    assert_string_equal(json_string_value(json_array_get(ids, 0)), items[9]->one.id);
    assert_string_equal(json_string_value(json_array_get(ids, 3)), items[0]->one.id);
    json_decref(ids);

    /* By type: t2 is the odd ones. */
    ids = list_all(f->st, NULL, "t2", 50, &pages);
    assert_int_equal(json_array_size(ids), 5);
    assert_string_equal(json_string_value(json_array_get(ids, 0)), items[9]->one.id);
    json_decref(ids);

    /* Both: source b (1, 4, 7, 10) and type t1 (even) is 4 and 10. */
    ids = list_all(f->st, "b", "t1", 50, &pages);
    assert_int_equal(json_array_size(ids), 2);
    assert_string_equal(json_string_value(json_array_get(ids, 0)), items[10]->one.id);
    assert_string_equal(json_string_value(json_array_get(ids, 1)), items[4]->one.id);
    json_decref(ids);

    /* Nothing matches. */
    ids = list_all(f->st, "zzz", NULL, 50, &pages);
    assert_int_equal(json_array_size(ids), 0);
    assert_int_equal(pages, 1);
    json_decref(ids);

    /* The documents come back as written. */
    {
        struct dh_event_query q = {NULL, NULL, NULL, 1};
        char next[DH_ID_MAX];
        json_t *items_json = NULL;
        json_t *want = json_loads(items[N - 1]->one.doc, 0, NULL);
        assert_int_equal(f->st->ops->list_events(f->st, &q, &items_json, next), 0);
        assert_true(json_equal(json_array_get(items_json, 0), want));
        json_decref(want);
        json_decref(items_json);
    }
    free_items(items, N);
}

static void test_dedupe_across_batches(void **state)
{
    struct fixture *f = *state;
    int64_t now = dh_clock_wall_ms();
    struct dh_commit_item *first = new_item("fd", "t", "sha256:again", now, HOUR_MS);
    struct dh_commit_item *repeat = new_item("fd", "t", "sha256:again", now + 10, HOUR_MS);
    struct dh_commit_item *other = new_item("fd", "t", "sha256:other", now + 10, HOUR_MS);
    struct dh_commit_item *batch[2] = {repeat, other};

    write_batch(f->st, &first, 1);
    assert_int_equal(first->one.duplicate, 0);

    write_batch(f->st, batch, 2);
    assert_int_equal(repeat->one.duplicate, 1);
    assert_string_equal(repeat->one.existing_id, first->one.id);
    assert_int_equal(other->one.duplicate, 0);
    /* The repeat is answered, not stored. */
    assert_true(is_stored(f->st, first->one.id));
    assert_false(is_stored(f->st, repeat->one.id));
    assert_true(is_stored(f->st, other->one.id));
    free_item(first);
    free_item(repeat);
    free_item(other);
}

static void test_dedupe_inside_one_batch(void **state)
{
    struct fixture *f = *state;
    int64_t now = dh_clock_wall_ms();
    struct dh_commit_item *stored = new_item("fd", "t", "sha256:k0", now, HOUR_MS);
    struct dh_commit_item *items[6];
    json_t *ids;
    int pages;

    write_batch(f->st, &stored, 1);

    items[0] = new_item("fd", "t", "sha256:k1", now, HOUR_MS);
    items[1] = new_item("fd", "t", "sha256:k2", now, HOUR_MS);
    items[2] = new_item("fd", "t", "sha256:k1", now, HOUR_MS); /* repeat of 0 */
    items[3] = new_item("fd", "t", "sha256:k0", now, HOUR_MS); /* repeat of stored */
    items[4] = new_item("fd", "t", "sha256:k0", now, HOUR_MS); /* and again */
    items[5] = new_item("fd", "t", "sha256:k1", now, HOUR_MS); /* third time */
    write_batch(f->st, items, 6);

    assert_int_equal(items[0]->one.duplicate, 0);
    assert_int_equal(items[1]->one.duplicate, 0);
    assert_int_equal(items[2]->one.duplicate, 1);
    assert_string_equal(items[2]->one.existing_id, items[0]->one.id);
    assert_int_equal(items[3]->one.duplicate, 1);
    assert_string_equal(items[3]->one.existing_id, stored->one.id);
    /* A repeat of a repeat names the one that is stored. */
    assert_int_equal(items[4]->one.duplicate, 1);
    assert_string_equal(items[4]->one.existing_id, stored->one.id);
    assert_int_equal(items[5]->one.duplicate, 1);
    assert_string_equal(items[5]->one.existing_id, items[0]->one.id);

    /* The batch committed: exactly the three distinct keys are stored. */
    ids = list_all(f->st, NULL, NULL, 50, &pages);
    assert_int_equal(json_array_size(ids), 3);
    json_decref(ids);
    assert_true(is_stored(f->st, items[0]->one.id));
    assert_true(is_stored(f->st, items[1]->one.id));
    assert_false(is_stored(f->st, items[2]->one.id));
    free_items(items, 6);
    free_item(stored);
}

static void test_dedupe_window_expires(void **state)
{
    struct fixture *f = *state;
    int64_t now = dh_clock_wall_ms();
    /* Received 10 s ago with a 1 s window: forgotten by now. */
    struct dh_commit_item *old = new_item("fd", "t", "sha256:old", now - 10000, 1000);
    struct dh_commit_item *again, *third;

    write_batch(f->st, &old, 1);
    assert_int_equal(old->one.duplicate, 0);
    again = new_item("fd", "t", "sha256:old", now, 60000);
    write_batch(f->st, &again, 1);
    assert_int_equal(again->one.duplicate, 0);
    assert_true(is_stored(f->st, old->one.id));
    assert_true(is_stored(f->st, again->one.id));
    /* The new one starts a new window. */
    third = new_item("fd", "t", "sha256:old", now + 1, 60000);
    write_batch(f->st, &third, 1);
    assert_int_equal(third->one.duplicate, 1);
    assert_string_equal(third->one.existing_id, again->one.id);
    /* Maintenance purges only what expired. */
    assert_int_equal(f->st->ops->maintain(f->st, dh_clock_wall_ms()), 0);
    free_item(third);
    third = new_item("fd", "t", "sha256:old", now + 2, 60000);
    write_batch(f->st, &third, 1);
    assert_int_equal(third->one.duplicate, 1);
    free_item(old);
    free_item(again);
    free_item(third);
}

static void test_probe(void **state)
{
    struct fixture *f = *state;
    int64_t now = dh_clock_wall_ms();
    struct dh_commit_item *items[3];

    items[0] = new_probe();
    write_batch(f->st, items, 1);
    free_item(items[0]);

    /* Probes mix with events in one batch. */
    items[0] = new_item("fd", "t", "sha256:p1", now, HOUR_MS);
    items[1] = new_probe();
    items[2] = new_item("fd", "t", "sha256:p2", now, HOUR_MS);
    write_batch(f->st, items, 3);
    assert_true(is_stored(f->st, items[0]->one.id));
    assert_true(is_stored(f->st, items[2]->one.id));
    free_items(items, 3);
}

static void test_locked(void **state)
{
    struct fixture *f = *state;
    struct dh_store *second = (struct dh_store *)&second;
    char err[512] = "";
    char lockpath[200];

    assert_int_equal(dh_store_open(f->url, &second, err, sizeof(err)), DH_E_STORE_LOCKED);
    assert_null(second);
    snprintf(lockpath, sizeof(lockpath), "%s.lock", f->path);
    if (strstr(err, lockpath) == NULL)
        fail_msg("message \"%s\" does not name the lock %s", err, lockpath);
    assert_non_null(strstr(err, "in use"));
    assert_null(strchr(err, '\n'));
    /* The first store still works. */
    {
        struct dh_commit_item *it = new_item("fd", "t", "sha256:still", dh_clock_wall_ms(),
                                             HOUR_MS);
        write_batch(f->st, &it, 1);
        assert_true(is_stored(f->st, it->one.id));
        free_item(it);
    }
    /* Once it is closed, the database can be opened again. */
    dh_store_close(f->st);
    f->st = open_store(f->url);
}

static void test_bad_urls(void **state)
{
    struct dh_store *st = (struct dh_store *)&st;
    char err[512] = "";
    (void)state;

    assert_true(dh_store_open("deskhook.db", &st, err, sizeof(err)) < 0);
    assert_null(st);
    assert_true(err[0] != '\0');
    err[0] = '\0';
    assert_true(dh_store_open("postgres://x", &st, err, sizeof(err)) < 0);
    assert_true(err[0] != '\0');
    err[0] = '\0';
    assert_true(dh_store_open("sqlite:", &st, err, sizeof(err)) < 0);
    assert_true(err[0] != '\0');
    err[0] = '\0';
    assert_true(dh_store_open("sqlite:/nonexistent-dir/x/y.db", &st, err, sizeof(err)) < 0);
    assert_true(err[0] != '\0');
}

static void test_reopen_keeps_everything(void **state)
{
    struct fixture *f = *state;
    int64_t now = dh_clock_wall_ms();
    struct dh_commit_item *items[3], *repeat;
    struct dh_event_row row;
    json_t *ids;
    int pages;

    for (int i = 0; i < 3; i++) {
        char key[32];
        snprintf(key, sizeof(key), "sha256:keep-%d", i);
        items[i] = new_item("fd", "t", key, now, HOUR_MS);
    }
    write_batch(f->st, items, 3);
    dh_store_close(f->st);
    f->st = open_store(f->url);

    for (int i = 0; i < 3; i++) {
        assert_int_equal(f->st->ops->get_event(f->st, items[i]->one.id, &row), 0);
        assert_int_equal(row.raw_len, items[i]->one.raw_len);
        assert_memory_equal(row.raw, items[i]->one.raw, row.raw_len);
        dh_event_row_clear(&row);
    }
    ids = list_all(f->st, NULL, NULL, 2, &pages);
    assert_int_equal(json_array_size(ids), 3);
    json_decref(ids);
    /* Dedupe keys survive too. */
    repeat = new_item("fd", "t", "sha256:keep-1", now + 5, HOUR_MS);
    write_batch(f->st, &repeat, 1);
    assert_int_equal(repeat->one.duplicate, 1);
    assert_string_equal(repeat->one.existing_id, items[1]->one.id);
    free_item(repeat);
    free_items(items, 3);
}

/* ---- the commit thread ---- */

struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    int bad; /* done called twice, or with an error */
};

static struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

static void on_done(struct dh_commit_item *it)
{
    pthread_mutex_lock(&w.lock);
    if (it->arg != NULL || it->rc != 0)
        w.bad++;
    it->arg = it; /* marks it done */
    w.done++;
    pthread_cond_broadcast(&w.cond);
    pthread_mutex_unlock(&w.lock);
}

static void wait_done(int n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    pthread_mutex_lock(&w.lock);
    while (w.done < n)
        if (pthread_cond_timedwait(&w.cond, &w.lock, &ts) != 0)
            break;
    pthread_mutex_unlock(&w.lock);
}

struct submitter {
    struct dh_committer *c;
    struct dh_commit_item **items;
    size_t n;
};

static void *submit_all(void *arg)
{
    struct submitter *s = arg;
    for (size_t i = 0; i < s->n; i++)
        if (dh_commit_submit(s->c, s->items[i]) != 0)
            return (void *)1;
    return NULL;
}

static void test_commit_thread(void **state)
{
    struct fixture *f = *state;
    enum { THREADS = 4, PER = 100, N = THREADS * PER };
    struct dh_commit_item **items = calloc(N, sizeof(*items));
    struct dh_commit_item *dup;
    struct dh_committer *c = NULL;
    struct submitter subs[THREADS];
    pthread_t threads[THREADS];
    int64_t now = dh_clock_wall_ms();

    w.done = 0;
    w.bad = 0;
    for (int i = 0; i < N; i++) {
        char key[32];
        snprintf(key, sizeof(key), "sha256:commit-%d", i);
        items[i] = new_item("fd", "t", key, now, HOUR_MS);
        items[i]->done = on_done;
    }
    assert_int_equal(dh_commit_start(f->st, 16, 0, &c), 0);
    assert_non_null(c);

    /* One item on its own is committed without waiting for more. */
    assert_int_equal(dh_commit_submit(c, items[0]), 0);
    wait_done(1);
    assert_int_equal(w.done, 1);
    assert_true(is_stored(f->st, items[0]->one.id));

    /* The rest from several threads at once. */
    for (int t = 0; t < THREADS; t++) {
        subs[t].c = c;
        subs[t].items = items + 1 + t * PER;
        subs[t].n = t == THREADS - 1 ? PER - 1 : PER;
        assert_int_equal(pthread_create(&threads[t], NULL, submit_all, &subs[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        void *ret = NULL;
        pthread_join(threads[t], &ret);
        assert_null(ret);
    }
    /* A repeat of the first, submitted last. */
    dup = new_item("fd", "t", "sha256:commit-0", now + 1, HOUR_MS);
    dup->done = on_done;
    assert_int_equal(dh_commit_submit(c, dup), 0);

    /* Stop drains everything that was queued. */
    dh_commit_stop(c);
    assert_int_equal(w.done, N + 1);
    assert_int_equal(w.bad, 0);
    for (int i = 0; i < N; i++) {
        assert_ptr_equal(items[i]->arg, items[i]);
        assert_int_equal(items[i]->one.duplicate, 0);
        assert_true(is_stored(f->st, items[i]->one.id));
    }
    assert_int_equal(dup->one.duplicate, 1);
    assert_string_equal(dup->one.existing_id, items[0]->one.id);
    assert_false(is_stored(f->st, dup->one.id));
    free_item(dup);
    free_items(items, N);
    free(items);
}

static void test_commit_stats_and_batches(void **state)
{
    struct fixture *f = *state;
    enum { N = 50 };
    struct dh_commit_item *items[N];
    struct dh_committer *c = NULL;
    unsigned long long txns = 0, nitems = 0;
    int64_t now = dh_clock_wall_ms();

    w.done = 0;
    w.bad = 0;
    for (int i = 0; i < N; i++) {
        char key[32];
        snprintf(key, sizeof(key), "sha256:stats-%d", i);
        items[i] = new_item("fd", "t", key, now, HOUR_MS);
        items[i]->done = on_done;
    }
    /* max_batch 8: 50 items need at least 7 transactions. */
    assert_int_equal(dh_commit_start(f->st, 8, 0, &c), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(dh_commit_submit(c, items[i]), 0);
    wait_done(N);
    assert_int_equal(w.done, N);
    dh_commit_stats(c, &txns, &nitems);
    assert_int_equal(nitems, N);
    assert_true(txns >= 7 && txns <= N);
    dh_commit_stop(c);
    for (int i = 0; i < N; i++)
        assert_true(is_stored(f->st, items[i]->one.id));
    free_items(items, N);

    /* Stopping an idle committer, and NULL, are fine. */
    assert_int_equal(dh_commit_start(f->st, 8, 250, &c), 0);
    dh_commit_stop(c);
    dh_commit_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_and_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_newest_first_and_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe_across_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe_inside_one_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe_window_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locked, setup, teardown),
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_stats_and_batches, setup, teardown),
    };

    dh_log_threshold = DH_LOG_WARN; /* no "store migrated" lines */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
