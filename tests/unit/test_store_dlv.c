/*
 * test_store_dlv.c: deliveries in the SQLite store: written with their
 * event in one transaction (and not for a duplicate), one per event and
 * endpoint, claimed under a lease, finished, replayed, and put back to
 * pending when a crashed process left them in flight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/id.h"
#include "core/log.h"
#include "store/store.h"

struct fixture {
    char dir[64];
    char path[128];
    char url[160];
    struct dh_store *st;
};

static struct dh_store *open_store(const char *url)
{
    struct dh_store *st = NULL;
    char err[512] = "";
    if (dh_store_open(url, &st, err, sizeof(err)) != 0)
        fail_msg("cannot open %s: %s", url, err);
    return st;
}

static int setup(void **state)
{
    struct fixture *f = dh_new(struct fixture);
    snprintf(f->dir, sizeof(f->dir), "/tmp/dh_test_dlv_XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/d.db", f->dir);
    snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
    f->st = open_store(f->url);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    static const char *const suffix[] = {"", "-wal", "-shm", ".lock"};
    char p[200];
    dh_store_close(f->st);
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Writes one event with deliveries to targets; returns the item's ndue. */
static size_t write_event(struct dh_store *st, struct dh_event_rec *ev, const char *key,
                          const char *const *targets, size_t n)
{
    struct dh_commit_item it;
    struct dh_commit_item *items[1] = {&it};

    memset(ev, 0, sizeof(*ev));
    dh_id_new("evt", ev->id);
    ev->source = dh_strdup("src");
    ev->provider = dh_strdup("generic");
    ev->type = dh_strdup("ticket.created");
    ev->content_type = dh_strdup("application/json");
    ev->received_ms = dh_clock_wall_ms();
    snprintf(ev->dedupe_key, sizeof(ev->dedupe_key), "%s", key);
    ev->dedupe_window_ms = 60000;
    ev->auth_index = -1;
    ev->doc = dh_asprintf("{\"id\":\"%s\",\"source\":\"src\",\"type\":\"ticket.created\"}", ev->id);
    ev->doc_len = strlen(ev->doc);
    ev->raw = dh_strdup("{}");
    ev->raw_len = 2;
    ev->targets = dh_calloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        ev->targets[i] = dh_strdup(targets[i]);
    ev->ntargets = n;
    memset(&it, 0, sizeof(it));
    it.kind = DH_COMMIT_EVENT;
    it.evs = ev;
    it.nevs = 1;
    assert_int_equal(st->ops->write_batch(st, items, 1), 0);
    return it.ndue;
}

static json_t *counts(struct dh_store *st)
{
    json_t *c = NULL;
    assert_int_equal(st->ops->dlv_counts(st, &c), 0);
    return c;
}

static int count_of(struct dh_store *st, const char *state)
{
    json_t *c = counts(st);
    int n = (int)json_integer_value(json_object_get(c, state));
    json_decref(c);
    return n;
}

/* Runs fn inside a transaction, as the commit thread would. */
static int in_txn(struct dh_store *st, dh_commit_call_fn fn, void *arg)
{
    struct dh_commit_item it;
    struct dh_commit_item *items[1] = {&it};
    memset(&it, 0, sizeof(it));
    it.kind = DH_COMMIT_CALL;
    it.call = fn;
    it.call_arg = arg;
    return st->ops->write_batch(st, items, 1);
}

struct claim_arg {
    struct dh_dlv_claim c;
    int64_t now, lease;
};

static int claim_fn(struct dh_store *st, struct dh_commit_item *it)
{
    struct claim_arg *a = it->call_arg;
    return st->ops->dlv_claim(st, &a->c, 1, a->now, a->lease);
}

static void claim(struct dh_store *st, struct claim_arg *a, const char *ep, unsigned limit,
                  int64_t now, int64_t lease)
{
    memset(a, 0, sizeof(*a));
    a->c.endpoint_id = ep;
    a->c.limit = limit;
    a->now = now;
    a->lease = lease;
    assert_int_equal(in_txn(st, claim_fn, a), 0);
}

static void claim_clear(struct claim_arg *a)
{
    for (size_t i = 0; i < a->c.nrows; i++)
        dh_dlv_claimed_clear(&a->c.rows[i]);
    free(a->c.rows);
}

struct finish_arg {
    struct dh_dlv_result r;
};

static int finish_fn(struct dh_store *st, struct dh_commit_item *it)
{
    struct finish_arg *a = it->call_arg;
    return st->ops->dlv_finish(st, &a->r, 1);
}

static int replay_fn(struct dh_store *st, struct dh_commit_item *it)
{
    return st->ops->dlv_replay(st, it->call_arg, dh_clock_wall_ms());
}

static void test_fanout_with_event(void **state)
{
    struct fixture *f = *state;
    struct dh_event_rec ev, dup;
    static const char *const two[] = {"crm", "slack"};

    assert_int_equal(write_event(f->st, &ev, "k1", two, 2), 2);
    assert_int_equal(count_of(f->st, "pending"), 2);
    /* A duplicate event makes no deliveries. */
    assert_int_equal(write_event(f->st, &dup, "k1", two, 2), 0);
    assert_true(dup.duplicate);
    assert_int_equal(count_of(f->st, "pending"), 2);
    dh_event_rec_clear(&ev);
    dh_event_rec_clear(&dup);

    /* One delivery per event and endpoint, however often it is named. */
    static const char *const twice[] = {"crm", "crm"};
    assert_int_equal(write_event(f->st, &ev, "k9", twice, 2), 1);
    assert_int_equal(count_of(f->st, "pending"), 3);
    dh_event_rec_clear(&ev);
}

struct fanout_arg {
    const char *ev;
    char *eps[2];
    char ids[2][DH_ID_MAX];
};

static int fanout_fn(struct dh_store *st, struct dh_commit_item *it)
{
    struct fanout_arg *a = it->call_arg;
    return st->ops->dlv_fanout(st, a->ev, a->eps, 2, dh_clock_wall_ms(), a->ids);
}

static void test_claim_lease_finish_replay(void **state)
{
    struct fixture *f = *state;
    struct dh_event_rec ev;
    static const char *const one[] = {"crm"};
    struct claim_arg a;
    struct finish_arg fin;
    json_t *d = NULL;

    write_event(f->st, &ev, "k2", one, 1);
    int64_t now = dh_clock_wall_ms(); /* a row is due from its creation */
    claim(f->st, &a, "crm", 10, now, now + 60000);
    assert_int_equal(a.c.nrows, 1);
    assert_string_equal(a.c.rows[0].event_id, ev.id);
    assert_int_equal(a.c.rows[0].attempts, 0);
    assert_non_null(strstr(a.c.rows[0].doc, ev.id));
    assert_int_equal(count_of(f->st, "in_flight"), 1);
    char id[DH_ID_MAX];
    snprintf(id, sizeof(id), "%s", a.c.rows[0].id);
    claim_clear(&a);

    /* Leased: not claimed again before the lease ends, claimed after. */
    claim(f->st, &a, "crm", 10, now + 1000, now + 61000);
    assert_int_equal(a.c.nrows, 0);
    assert_int_equal(a.c.next_due_ms, now + 60000);
    claim_clear(&a);

    /* A failed attempt waits, then a success is final. */
    memset(&fin, 0, sizeof(fin));
    snprintf(fin.r.id, sizeof(fin.r.id), "%s", id);
    fin.r.attempt = 1;
    fin.r.started_ms = now;
    fin.r.status = 503;
    fin.r.outcome = "http_5xx";
    fin.r.state = DH_DLV_RETRY_WAIT;
    fin.r.next_at_ms = now + 5000;
    fin.r.resp_body = "down";
    fin.r.resp_body_len = 4;
    fin.r.resp_headers = "{\"retry-after\":\"5\"}";
    assert_int_equal(in_txn(f->st, finish_fn, &fin), 0);
    claim(f->st, &a, "crm", 10, now + 4000, now + 64000);
    assert_int_equal(a.c.nrows, 0);
    assert_int_equal(a.c.next_due_ms, now + 5000);
    claim_clear(&a);
    claim(f->st, &a, "crm", 10, now + 5000, now + 65000);
    assert_int_equal(a.c.nrows, 1);
    assert_int_equal(a.c.rows[0].attempts, 1);
    claim_clear(&a);
    fin.r.attempt = 2;
    fin.r.status = 200;
    fin.r.outcome = "http_2xx";
    fin.r.state = DH_DLV_DELIVERED;
    fin.r.next_at_ms = 0;
    fin.r.resp_body = NULL;
    fin.r.resp_body_len = 0;
    fin.r.resp_headers = NULL;
    assert_int_equal(in_txn(f->st, finish_fn, &fin), 0);

    assert_int_equal(f->st->ops->dlv_get(f->st, id, &d), 0);
    assert_string_equal(json_string_value(json_object_get(d, "state")), "delivered");
    json_t *atts = json_object_get(d, "attempts");
    assert_int_equal(json_array_size(atts), 2);
    json_t *a0 = json_array_get(atts, 0);
    assert_string_equal(json_string_value(json_object_get(a0, "outcome")), "http_5xx");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(a0, "response"), "body")), "down");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(a0, "response"), "headers"),
                            "retry-after")),
                        "5");
    json_decref(d);

    /* Replay: the same delivery goes back to pending with a fresh budget. */
    struct dh_dlv_replay rp = {0};
    rp.id = id;
    assert_int_equal(in_txn(f->st, replay_fn, &rp), 0);
    assert_int_equal(rp.replayed, 1);
    claim(f->st, &a, "crm", 10, dh_clock_wall_ms(), now + 70000);
    assert_int_equal(a.c.nrows, 1);
    assert_string_equal(a.c.rows[0].id, id);
    assert_int_equal(a.c.rows[0].attempts, 0);
    claim_clear(&a);

    /* Replaying the event to crm again keeps the one delivery and its id;
     * a new endpoint gets a new one. */
    struct fanout_arg fa = {ev.id, {"crm", "new"}, {{0}}};
    assert_int_equal(in_txn(f->st, fanout_fn, &fa), 0);
    assert_string_equal(fa.ids[0], id);
    assert_string_not_equal(fa.ids[1], id);
    json_t *items = NULL;
    char next[DH_ID_MAX];
    struct dh_dlv_query q = {.event_id = ev.id, .limit = 10};
    assert_int_equal(f->st->ops->dlv_list(f->st, &q, &items, next), 0);
    assert_int_equal(json_array_size(items), 2);
    json_decref(items);
    dh_event_rec_clear(&ev);
}

static void test_inflight_reset_on_open(void **state)
{
    struct fixture *f = *state;
    struct dh_event_rec ev;
    static const char *const one[] = {"crm"};
    struct claim_arg a;

    write_event(f->st, &ev, "k3", one, 1);
    int64_t now = dh_clock_wall_ms();
    claim(f->st, &a, "crm", 10, now, now + 3600000);
    assert_int_equal(a.c.nrows, 1);
    claim_clear(&a);
    /* The process dies with the delivery leased for an hour; the next one
     * sends it at once. */
    dh_store_close(f->st);
    f->st = open_store(f->url);
    assert_int_equal(count_of(f->st, "in_flight"), 0);
    assert_int_equal(count_of(f->st, "pending"), 1);
    claim(f->st, &a, "crm", 10, now + 1, now + 60000);
    assert_int_equal(a.c.nrows, 1);
    assert_string_equal(a.c.rows[0].event_id, ev.id);
    claim_clear(&a);
    dh_event_rec_clear(&ev);
}

static void test_bulk_replay_filters(void **state)
{
    struct fixture *f = *state;
    struct dh_event_rec ev[3];
    static const char *const one[] = {"crm"};
    char key[16];
    struct claim_arg a;
    int64_t created = dh_clock_wall_ms();

    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof(key), "b%d", i);
        write_event(f->st, &ev[i], key, one, 1);
    }
    int64_t now = dh_clock_wall_ms();
    claim(f->st, &a, "crm", 10, now, now + 60000);
    assert_int_equal(a.c.nrows, 3);
    for (size_t i = 0; i < 3; i++) {
        struct finish_arg fin;
        memset(&fin, 0, sizeof(fin));
        snprintf(fin.r.id, sizeof(fin.r.id), "%s", a.c.rows[i].id);
        fin.r.attempt = 1;
        fin.r.status = 400;
        fin.r.outcome = "http_4xx";
        fin.r.state = DH_DLV_DEAD;
        assert_int_equal(in_txn(f->st, finish_fn, &fin), 0);
    }
    claim_clear(&a);
    assert_int_equal(count_of(f->st, "dead"), 3);

    struct dh_dlv_replay rp = {0};
    rp.endpoint_id = "crm";
    rp.state = DH_DLV_DEAD;
    rp.since_ms = created + 3600000; /* none created that late */
    assert_int_equal(in_txn(f->st, replay_fn, &rp), 0);
    assert_int_equal(rp.replayed, 0);
    rp.since_ms = created - 1000;
    assert_int_equal(in_txn(f->st, replay_fn, &rp), 0);
    assert_int_equal(rp.replayed, 3);
    assert_int_equal(count_of(f->st, "pending"), 3);
    for (int i = 0; i < 3; i++)
        dh_event_rec_clear(&ev[i]);
}

int main(void)
{
    dh_log_threshold = DH_LOG_ERROR;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fanout_with_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_lease_finish_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inflight_reset_on_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bulk_replay_filters, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
