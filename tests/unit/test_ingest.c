/*
 * test_ingest.c: from a request (path, headers, body) to the record that
 * gets committed: routing, the header checks, and the normalized document a
 * Freshdesk or generic webhook turns into.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include <unistd.h>

#include "config/config.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/id.h"
#include "ingest/ingest.h"
#include "ingest/preset.h"

static const char config_yaml[] =
    "admin: {token: t}\n"
    "dedupe_window: 24h\n"
    "limits: {max_json_depth: 8}\n"
    "sources:\n"
    "  - name: freshdesk\n"
    "    preset: freshdesk\n"
    "    paths: [/webhook/freshdesk, /hooks/fd/]\n"
    "    max_body: 1KiB\n"
    "    dedupe_window: 60s\n"
    "    auth: none\n"
    "  - name: generic\n"
    "    preset: generic\n"
    "    default_event: generic.default\n"
    "    auth: {bearer: {tokens: [gen-token-0, gen-token-1]}}\n"
    "  - name: testing\n"
    "    required: [customer.email]\n"
    "    auth: none\n"
    "  - name: limited\n"
    "    rate_limit: 2/1h\n"
    "    auth: none\n"
    "  - name: custom\n"
    "    auth: none\n"
    "    fields: {ticket.subject: [headline, subject], ticket.priority: level,\n"
    "             metadata.region: where.region}\n"
    "    event_map: {legacy.create: ticket.created}\n"
    "    required: [ticket.subject]\n"
    "    required_message: \"send a headline\"\n"
    "  - name: perplatform\n"
    "    auth: none\n"
    "    rate_limit: {rate: 1/1h, key: platform}\n";

static const char seed[] =
    "{\"freshdesk_webhook\":{\"ticket_id\":1228307,"
    "\"ticket_subject\":\"ParkWhiz refund request from the online form\","
    "\"ticket_description\":\"<div>ParkWhiz refund request received.</div>\","
    "\"ticket_url\":\"https://parkonectcare.freshdesk.com/helpdesk/tickets/1228307\","
    "\"ticket_portal_url\":\"https://help.parkwhiz.com/support/tickets/1228307\","
    "\"ticket_status\":\"Open\",\"ticket_priority\":\"Low\","
    "\"ticket_contact_name\":\"Adam Volin\",\"ticket_contact_email\":\"ajvolin@gmail.com\"}}";

static struct dh_config *cfg;
static struct dh_ingest *ing;

static int setup(void **state)
{
    char path[] = "/tmp/dh_test_ingest_XXXXXX";
    struct dh_errlist el = {0};
    char err[256] = "";
    int fd;

    (void)state;
    if (dh_crypto_init() != 0 || dh_preset_load_all(err, sizeof(err)) != 0) {
        fprintf(stderr, "presets: %s\n", err);
        return -1;
    }
    fd = mkstemp(path);
    if (fd < 0 || write(fd, config_yaml, strlen(config_yaml)) != (ssize_t)strlen(config_yaml))
        return -1;
    close(fd);
    if (dh_config_load(path, &cfg, &el) != 0 || dh_ingest_new(cfg, &ing, &el) != 0) {
        for (size_t i = 0; i < el.n; i++)
            fprintf(stderr, "%s\n", el.lines[i]);
        dh_errlist_free(&el);
        unlink(path);
        return -1;
    }
    unlink(path);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dh_ingest_free(ing);
    dh_config_free(cfg);
    dh_preset_free_all();
    return 0;
}

static const struct dh_ingest_source *source(const char *name)
{
    for (size_t i = 0; i < ing->nsources; i++)
        if (strcmp(ing->sources[i].cfg->name, name) == 0)
            return &ing->sources[i];
    fail_msg("no source %s", name);
    return NULL;
}

/* ---- routing ---- */

static void route_to(const char *path, const char *src, const char *et, int want_batch)
{
    const struct dh_ingest_source *s = NULL;
    char event_type[80] = "junk";
    int batch = -1;
    int rc = dh_ingest_route(ing, path, &s, event_type, sizeof(event_type), &batch);
    if (rc != 0)
        fail_msg("%s: rc %d (%s)", path, rc, dh_error_code(rc));
    assert_non_null(s);
    assert_string_equal(s->cfg->name, src);
    assert_string_equal(event_type, et);
    assert_int_equal(batch, want_batch);
}

static void route_ok(const char *path, const char *src, const char *et)
{
    route_to(path, src, et, 0);
}

static void route_bad(const char *path, int want)
{
    const struct dh_ingest_source *s = (const struct dh_ingest_source *)&s;
    char event_type[80] = "junk";
    int batch = 0;
    int rc = dh_ingest_route(ing, path, &s, event_type, sizeof(event_type), &batch);
    if (rc != want)
        fail_msg("%s: rc %s, wanted %s", path, rc ? dh_error_code(rc) : "ok",
                 dh_error_code(want));
    assert_null(s);
}

static void test_route_webhooks(void **state)
{
    (void)state;
    route_ok("/webhooks/freshdesk", "freshdesk", "");
    route_ok("/webhooks/freshdesk/", "freshdesk", "");
    route_ok("/webhooks/freshdesk/ticket.updated", "freshdesk", "ticket.updated");
    route_ok("/webhooks/generic/order:paid_v2-x", "generic", "order:paid_v2-x");
    route_ok("/webhooks/testing", "testing", "");
}

static void test_route_batch(void **state)
{
    (void)state;
    route_to("/webhooks/generic/batch", "generic", "", 1);
    route_to("/webhooks/generic/batch/", "generic", "", 1);
    route_to("/webhook/freshdesk/batch", "freshdesk", "", 1);
    route_to("/hooks/fd/batch", "freshdesk", "", 1);
    /* Only the exact word. */
    route_ok("/webhooks/generic/batches", "generic", "batches");
    route_bad("/webhooks/generic/batch/x", DH_E_UNKNOWN_SOURCE);
}

static void test_route_extra_paths(void **state)
{
    (void)state;
    route_ok("/webhook/freshdesk", "freshdesk", "");
    route_ok("/webhook/freshdesk/ticket.updated", "freshdesk", "ticket.updated");
    /* Mounted as "/hooks/fd/": the trailing slash does not matter. */
    route_ok("/hooks/fd", "freshdesk", "");
    route_ok("/hooks/fd/", "freshdesk", "");
    route_ok("/hooks/fd/ticket.closed", "freshdesk", "ticket.closed");
    /* A longer name is another path. */
    route_bad("/webhook/freshdeskx", DH_E_NOT_FOUND);
    route_bad("/hooks/fdx", DH_E_NOT_FOUND);
}

static void test_route_unknown_source(void **state)
{
    (void)state;
    route_bad("/webhooks/zendesk", DH_E_UNKNOWN_SOURCE);
    route_bad("/webhooks/", DH_E_UNKNOWN_SOURCE);
    route_bad("/webhooks/FreshDesk", DH_E_UNKNOWN_SOURCE);
    route_bad("/webhooks/freshdesk/a/b", DH_E_UNKNOWN_SOURCE);
    route_bad("/webhooks/freshdesk-", DH_E_UNKNOWN_SOURCE);
}

static void test_route_invalid_event_type(void **state)
{
    char path[200];
    (void)state;

    route_bad("/webhooks/freshdesk/ticket updated", DH_E_INVALID_EVENT_TYPE);
    route_bad("/webhooks/freshdesk/ticket!", DH_E_INVALID_EVENT_TYPE);
    route_bad("/webhook/freshdesk/<script>", DH_E_INVALID_EVENT_TYPE);
    /* 64 characters are fine, 65 are not. */
    snprintf(path, sizeof(path), "/webhooks/freshdesk/%064d", 7);
    route_ok(path, "freshdesk", path + strlen("/webhooks/freshdesk/"));
    snprintf(path, sizeof(path), "/webhooks/freshdesk/%065d", 7);
    route_bad(path, DH_E_INVALID_EVENT_TYPE);
}

static void test_route_unrelated(void **state)
{
    (void)state;
    route_bad("/", DH_E_NOT_FOUND);
    route_bad("/health", DH_E_NOT_FOUND);
    route_bad("/api/events", DH_E_NOT_FOUND);
    route_bad("/webhooks", DH_E_NOT_FOUND);
    route_bad("/webhooksfreshdesk", DH_E_NOT_FOUND);
    route_bad("/freshdesk", DH_E_NOT_FOUND);
}

/* ---- header checks ---- */

static void test_check_headers(void **state)
{
    const struct dh_ingest_source *fd = source("freshdesk"); /* max_body: 1KiB */
    (void)state;

    assert_int_equal(dh_ingest_check_headers(fd, "application/json", 100), 0);
    assert_int_equal(dh_ingest_check_headers(fd, "application/json; charset=utf-8", 100), 0);
    assert_int_equal(dh_ingest_check_headers(fd, "application/json;charset=UTF-8", 100), 0);
    assert_int_equal(dh_ingest_check_headers(fd, "Application/JSON", 100), 0);
    assert_int_equal(dh_ingest_check_headers(fd, "application/vnd.x+json", 100), 0);
    assert_int_equal(dh_ingest_check_headers(fd, "application/cloudevents+json; charset=utf-8",
                                             100),
                     0);
    /* Unknown length (chunked) passes here; the body is bounded later. */
    assert_int_equal(dh_ingest_check_headers(fd, "application/json", -1), 0);
    assert_int_equal(dh_ingest_check_headers(fd, "application/json", 1024), 0);

    assert_int_equal(dh_ingest_check_headers(fd, "text/plain", 100), DH_E_MEDIA_TYPE);
    assert_int_equal(dh_ingest_check_headers(fd, NULL, 100), DH_E_MEDIA_TYPE);
    assert_int_equal(dh_ingest_check_headers(fd, "", 100), DH_E_MEDIA_TYPE);
    assert_int_equal(dh_ingest_check_headers(fd, "application/x-www-form-urlencoded", 100),
                     DH_E_MEDIA_TYPE);
    assert_int_equal(dh_ingest_check_headers(fd, "application/jsonp", 100), DH_E_MEDIA_TYPE);
    assert_int_equal(dh_ingest_check_headers(fd, "text/json", 100), DH_E_MEDIA_TYPE);
    assert_int_equal(dh_ingest_check_headers(fd, "application/+json", 100), DH_E_MEDIA_TYPE);

    assert_int_equal(dh_ingest_check_headers(fd, "application/json", 1025), DH_E_TOO_LARGE);
    /* Size is checked before the content type. */
    assert_int_equal(dh_ingest_check_headers(fd, "text/plain", 1025), DH_E_TOO_LARGE);
    assert_int_equal(dh_ingest_check_headers(fd, NULL, 1 << 30), DH_E_TOO_LARGE);
    /* Another source has the default 1 MiB. */
    assert_int_equal(dh_ingest_check_headers(source("testing"), "application/json", 1025), 0);
    assert_int_equal(dh_ingest_check_headers(source("testing"), "application/json", 1048577),
                     DH_E_TOO_LARGE);
}

/* ---- prepare ---- */

struct hdr {
    const char *name;
    const char *value;
};

static const char *get_header(void *ctx, const char *name)
{
    for (const struct hdr *h = ctx; h != NULL && h->name != NULL; h++)
        if (strcasecmp(h->name, name) == 0)
            return h->value;
    return NULL;
}

static const struct hdr no_headers[] = {{NULL, NULL}};
static const struct hdr generic_auth[] = {{"Authorization", "Bearer gen-token-0"}, {NULL, NULL}};

/* One prepared request: the item with its records, and the per-element
 * results of an array body. */
struct prepared {
    struct dh_commit_item item;
    struct dh_ingest_result res;
    struct dh_ingest_error err;
};

static void prepared_clear(struct prepared *pr)
{
    dh_ingest_item_clear(&pr->item);
    dh_ingest_result_clear(&pr->res);
}

/* Runs dh_ingest_prepare for a body sent to source (path event type et,
 * batch endpoint when batch). */
static int prepare_any(const char *src, const char *et, int batch, const struct hdr *h,
                       const char *body, size_t len, struct prepared *pr)
{
    struct dh_ingest_request rq = {
        .src = source(src),
        .path_event_type = et ? et : "",
        .batch = batch,
        .get_header = get_header,
        .hctx = (void *)h,
        .content_type = "application/json",
        .body = body,
        .len = len,
    };
    int rc;

    memset(pr, 0, sizeof(*pr));
    memset(&pr->err, 'x', sizeof(pr->err));
    rc = dh_ingest_prepare(ing, &rq, &pr->item, &pr->res, &pr->err);
    assert_non_null(memchr(pr->err.message, '\0', sizeof(pr->err.message)));
    if (rc < 0) {
        /* A refused request leaves nothing to free or commit. */
        assert_int_equal(pr->item.nevs, 0);
        assert_null(pr->item.evs);
        assert_null(pr->res.elements);
    }
    return rc;
}

/* Parses a record's document. */
static json_t *doc_of(const struct dh_event_rec *ev)
{
    json_error_t je;
    json_t *doc;
    assert_non_null(ev->doc);
    assert_int_equal(ev->doc_len, strlen(ev->doc));
    doc = json_loads(ev->doc, 0, &je);
    if (doc == NULL)
        fail_msg("ev->doc is not JSON: %s", je.text);
    return doc;
}

/* Runs dh_ingest_prepare for a single-event body. Returns the rc; on
 * success the request made exactly one record, and *doc is its parsed
 * document. */
static int prepare(const char *src, const char *et, const struct hdr *h, const char *body,
                   struct prepared *pr, json_t **doc)
{
    int rc = prepare_any(src, et, 0, h, body, strlen(body), pr);

    *doc = NULL;
    if (rc == 0) {
        assert_int_equal(pr->item.kind, DH_COMMIT_EVENT);
        assert_int_equal(pr->item.nevs, 1);
        assert_false(pr->res.array);
        *doc = doc_of(&pr->item.evs[0]);
    }
    return rc;
}

/* Prepares a body that must be accepted; returns the document. */
static json_t *accept_ok(const char *src, const char *et, const struct hdr *h, const char *body)
{
    struct prepared pr;
    json_t *doc;
    int rc = prepare(src, et, h, body, &pr, &doc);
    if (rc != 0)
        fail_msg("refused (%s): %s", dh_error_code(rc), pr.err.message);
    prepared_clear(&pr);
    return doc;
}

/* Prepares a body that must be refused with rc and a message containing
 * want. */
static void refuse(const char *src, const struct hdr *h, const char *body, int want_rc,
                   const char *want)
{
    struct prepared pr;
    json_t *doc;
    int rc = prepare(src, NULL, h, body, &pr, &doc);
    if (rc != want_rc)
        fail_msg("rc %s (%s), wanted %s", rc ? dh_error_code(rc) : "ok", pr.err.message,
                 dh_error_code(want_rc));
    if (want != NULL && strstr(pr.err.message, want) == NULL)
        fail_msg("message \"%s\" does not mention \"%s\"", pr.err.message, want);
    json_decref(doc);
    prepared_clear(&pr);
}

static const char *str_at(json_t *doc, const char *path)
{
    json_t *v = doc;
    char key[64];
    const char *p = path;

    while (v != NULL && *p) {
        size_t n = strcspn(p, ".");
        snprintf(key, sizeof(key), "%.*s", (int)n, p);
        v = json_object_get(v, key);
        p += n;
        if (*p == '.')
            p++;
    }
    return json_string_value(v);
}

static void expect_str(json_t *doc, const char *path, const char *want)
{
    const char *got = str_at(doc, path);
    if (want == NULL) {
        if (got != NULL)
            fail_msg("%s is \"%s\", wanted it absent", path, got);
        return;
    }
    if (got == NULL || strcmp(got, want) != 0)
        fail_msg("%s is %s%s%s, wanted \"%s\"", path, got ? "\"" : "", got ? got : "absent",
                 got ? "\"" : "", want);
}

static void expect_keys(json_t *obj, const char *const *keys)
{
    size_t n = 0;
    assert_true(json_is_object(obj));
    for (; keys[n] != NULL; n++)
        if (json_object_get(obj, keys[n]) == NULL)
            fail_msg("key %s is missing", keys[n]);
    if (json_object_size(obj) != n) {
        char *s = json_dumps(obj, JSON_COMPACT);
        print_error("object: %s\n", s);
        free(s);
        fail_msg("%zu keys, wanted %zu", json_object_size(obj), n);
    }
}

static void test_freshdesk_seed(void **state)
{
    static const char *const top_keys[] = {"id", "source", "provider", "type", "received_at",
                                           "dedupe_key", "ticket", "customer", "platform", NULL};
    static const char *const ticket_keys[] = {"id", "subject", "body", "body_html", "status",
                                              "priority", "url", "portal_url", NULL};
    static const char *const customer_keys[] = {"name", "email", NULL};
    struct prepared pr;
    struct dh_event_rec ev;
    json_t *doc;
    char iso[40];
    int64_t before = dh_clock_wall_ms(), after;
    (void)state;

    assert_int_equal(prepare("freshdesk", NULL, no_headers, seed, &pr, &doc), 0);
    after = dh_clock_wall_ms();
    ev = pr.item.evs[0];

    /* The record. */
    assert_true(dh_id_valid("evt", ev.id));
    assert_string_equal(ev.source, "freshdesk");
    assert_string_equal(ev.provider, "freshdesk");
    assert_string_equal(ev.type, "ticket.created");
    assert_string_equal(ev.ticket_id, "1228307");
    assert_string_equal(ev.content_type, "application/json");
    assert_true(ev.received_ms >= before && ev.received_ms <= after);
    assert_int_equal(ev.dedupe_window_ms, 60000);
    assert_int_equal(ev.auth_index, -1);
    assert_int_equal(ev.duplicate, 0);
    /* The body byte for byte, in the record's own copy. */
    assert_int_equal(ev.raw_len, strlen(seed));
    assert_memory_equal(ev.raw, seed, ev.raw_len);
    assert_ptr_not_equal(ev.raw, seed);
    assert_int_equal(strncmp(ev.dedupe_key, "sha256:", 7), 0);
    assert_int_equal(strlen(ev.dedupe_key), 7 + 64);

    /* The document. */
    expect_keys(doc, top_keys);
    expect_str(doc, "id", ev.id);
    expect_str(doc, "source", "freshdesk");
    expect_str(doc, "provider", "freshdesk");
    expect_str(doc, "type", "ticket.created");
    dh_clock_format_iso(ev.received_ms, iso, sizeof(iso));
    expect_str(doc, "received_at", iso);
    expect_str(doc, "dedupe_key", ev.dedupe_key);
    expect_str(doc, "platform", "freshdesk");

    expect_keys(json_object_get(doc, "ticket"), ticket_keys);
    expect_str(doc, "ticket.id", "1228307");
    expect_str(doc, "ticket.subject", "ParkWhiz refund request from the online form");
    expect_str(doc, "ticket.body", "ParkWhiz refund request received.");
    expect_str(doc, "ticket.body_html", "<div>ParkWhiz refund request received.</div>");
    expect_str(doc, "ticket.status", "open");
    expect_str(doc, "ticket.priority", "low");
    expect_str(doc, "ticket.url", "https://parkonectcare.freshdesk.com/helpdesk/tickets/1228307");
    expect_str(doc, "ticket.portal_url", "https://help.parkwhiz.com/support/tickets/1228307");

    expect_keys(json_object_get(doc, "customer"), customer_keys);
    expect_str(doc, "customer.name", "Adam Volin");
    expect_str(doc, "customer.email", "ajvolin@gmail.com");

    /* The raw body is not copied into the document. */
    assert_null(json_object_get(doc, "raw"));
    assert_null(json_object_get(doc, "freshdesk_webhook"));
    json_decref(doc);
    prepared_clear(&pr);
}

static void test_freshdesk_priorities(void **state)
{
    static const struct {
        const char *value;
        const char *want;
    } v[] = {
        {"1", "low"},          {"2", "medium"},        {"3", "high"},
        {"4", "urgent"},       {"\"1\"", "low"},       {"\"4\"", "urgent"},
        {"\"Low\"", "low"},    {"\"Medium\"", "medium"}, {"\"HIGH\"", "high"},
        {"\"Urgent\"", "urgent"}, {"4.0", "urgent"},
    };
    char body[200];
    (void)state;

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        json_t *doc;
        snprintf(body, sizeof(body),
                 "{\"freshdesk_webhook\":{\"ticket_id\":1,\"ticket_priority\":%s}}", v[i].value);
        doc = accept_ok("freshdesk", NULL, no_headers, body);
        expect_str(doc, "ticket.priority", v[i].want);
        json_decref(doc);
    }
}

static void test_freshdesk_unwrapped(void **state)
{
    json_t *doc;
    (void)state;

    /* Without the freshdesk_webhook wrapper the fields are read at the top. */
    doc = accept_ok("freshdesk", NULL, no_headers,
                 "{\"ticket_id\":77,\"ticket_subject\":\"Hello\",\"ticket_status\":\"Pending\","
                 "\"ticket_contact_email\":\"a@example.com\"}");
    expect_str(doc, "ticket.id", "77");
    expect_str(doc, "ticket.subject", "Hello");
    expect_str(doc, "ticket.status", "pending");
    expect_str(doc, "customer.email", "a@example.com");
    json_decref(doc);

    /* A wrapper that is not an object is ignored. */
    doc = accept_ok("freshdesk", NULL, no_headers,
                 "{\"freshdesk_webhook\":\"text\",\"ticket_id\":\"A-1\"}");
    expect_str(doc, "ticket.id", "A-1");
    json_decref(doc);
}

static void test_generic_mapping(void **state)
{
    json_t *doc;
    (void)state;

    doc = accept_ok("generic", NULL, generic_auth,
                 "{\"id\":42,\"title\":\"Printer on fire\",\"content\":\"It is on fire.\","
                 "\"user_email\":\"u@example.com\",\"requester_id\":9001,"
                 "\"status\":\"NEW\",\"priority\":3,\"tags\":[\"hw\",\"urgent\"],"
                 "\"metadata\":{\"floor\":2,\"rooms\":[\"a\",\"b\"]}}");
    expect_str(doc, "ticket.id", "42");
    expect_str(doc, "ticket.subject", "Printer on fire");
    expect_str(doc, "ticket.body", "It is on fire.");
    expect_str(doc, "ticket.status", "new");
    expect_str(doc, "ticket.priority", "high");
    expect_str(doc, "ticket.category", "general");
    expect_str(doc, "ticket.channel", "web");
    expect_str(doc, "customer.email", "u@example.com");
    expect_str(doc, "customer.id", "9001");
    expect_str(doc, "platform", "generic");
    expect_str(doc, "provider", "generic");
    /* Tags and metadata keep their shape. */
    {
        json_t *want = json_loads("{\"floor\":2,\"rooms\":[\"a\",\"b\"]}", 0, NULL);
        json_t *tags = json_object_get(json_object_get(doc, "ticket"), "tags");
        assert_true(json_equal(json_object_get(doc, "metadata"), want));
        assert_true(json_is_array(tags));
        assert_int_equal(json_array_size(tags), 2);
        json_decref(want);
    }
    json_decref(doc);
}

static void test_generic_field_alternatives(void **state)
{
    static const struct {
        const char *body;
        const char *path;
        const char *want;
    } v[] = {
        {"{\"subject\":\"S\",\"title\":\"T\"}", "ticket.subject", "S"},
        {"{\"title\":\"T\"}", "ticket.subject", "T"},
        {"{\"description\":\"d\",\"body\":\"b\"}", "ticket.body", "d"},
        {"{\"body\":\"b\",\"content\":\"c\"}", "ticket.body", "b"},
        {"{\"content\":\"c\",\"message\":\"m\"}", "ticket.body", "c"},
        {"{\"message\":\"m\"}", "ticket.body", "m"},
        {"{\"ticket_id\":\"T-1\",\"id\":2,\"case_id\":3}", "ticket.id", "T-1"},
        {"{\"id\":2,\"case_id\":3}", "ticket.id", "2"},
        {"{\"case_id\":3}", "ticket.id", "3"},
        {"{\"case_id\":\"CASE-3\"}", "ticket.id", "CASE-3"},
        {"{\"customer_email\":\"c@x\",\"user_email\":\"u@x\",\"email\":\"e@x\"}",
         "customer.email", "c@x"},
        {"{\"user_email\":\"u@x\",\"email\":\"e@x\"}", "customer.email", "u@x"},
        {"{\"email\":\"e@x\"}", "customer.email", "e@x"},
        {"{\"customer_id\":1,\"requester_id\":2}", "customer.id", "1"},
        {"{\"requester_id\":2,\"contact_id\":3}", "customer.id", "2"},
        {"{\"contact_id\":3,\"user_id\":4}", "customer.id", "3"},
        {"{\"user_id\":4}", "customer.id", "4"},
        {"{\"user_id\":\"usr_4\"}", "customer.id", "usr_4"},
        {"{\"category\":\"billing\"}", "ticket.category", "billing"},
        {"{\"channel\":\"email\"}", "ticket.channel", "email"},
        {"{\"platform\":\"zendesk\"}", "platform", "zendesk"},
        /* An empty or null value does not count as given. */
        {"{\"subject\":\"\",\"title\":\"T\"}", "ticket.subject", "T"},
        {"{\"subject\":null,\"title\":\"T\"}", "ticket.subject", "T"},
        {"{\"category\":\"\"}", "ticket.category", "general"},
        /* Payloads wrapped in a data object. */
        {"{\"data\":{\"subject\":\"DS\",\"id\":5,\"email\":\"d@x\"}}", "ticket.subject", "DS"},
        {"{\"data\":{\"subject\":\"DS\",\"id\":5,\"email\":\"d@x\"}}", "ticket.id", "5"},
        {"{\"data\":{\"subject\":\"DS\",\"id\":5,\"email\":\"d@x\"}}", "customer.email", "d@x"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        json_t *doc = accept_ok("generic", NULL, generic_auth, v[i].body);
        const char *got = str_at(doc, v[i].path);
        if (got == NULL || strcmp(got, v[i].want) != 0)
            fail_msg("%s: %s is %s, wanted %s", v[i].body, v[i].path, got ? got : "absent",
                     v[i].want);
        json_decref(doc);
    }
}

static void test_generic_absent_fields(void **state)
{
    json_t *doc;
    (void)state;

    /* Unknown fields are left out, not set to null or "". */
    doc = accept_ok("generic", NULL, generic_auth, "{\"something\":\"else\"}");
    assert_null(json_object_get(doc, "customer"));
    assert_null(json_object_get(doc, "metadata"));
    assert_null(json_object_get(json_object_get(doc, "ticket"), "id"));
    assert_null(json_object_get(json_object_get(doc, "ticket"), "subject"));
    expect_str(doc, "ticket.category", "general");
    expect_str(doc, "ticket.channel", "web");
    json_decref(doc);
}

static void test_event_type_precedence(void **state)
{
    const struct hdr with_header[] = {{"Authorization", "Bearer gen-token-0"},
                                      {"X-Event-Type", "from.header"},
                                      {NULL, NULL}};
    const struct hdr bad_header[] = {{"Authorization", "Bearer gen-token-0"},
                                     {"X-Event-Type", "not valid!"},
                                     {NULL, NULL}};
    const char *with_event = "{\"event\":\"from.payload\",\"subject\":\"s\"}";
    json_t *doc;
    (void)state;

    /* path > header > payload > default_event */
    doc = accept_ok("generic", "from.path", with_header, with_event);
    expect_str(doc, "type", "from.path");
    json_decref(doc);
    doc = accept_ok("generic", NULL, with_header, with_event);
    expect_str(doc, "type", "from.header");
    json_decref(doc);
    doc = accept_ok("generic", NULL, generic_auth, with_event);
    expect_str(doc, "type", "from.payload");
    json_decref(doc);
    doc = accept_ok("generic", NULL, generic_auth, "{\"subject\":\"s\"}");
    expect_str(doc, "type", "generic.default");
    json_decref(doc);

    /* A header value that is not a valid type is passed over. */
    doc = accept_ok("generic", NULL, bad_header, with_event);
    expect_str(doc, "type", "from.payload");
    json_decref(doc);
    /* So is a payload value that is not a string or not valid. */
    doc = accept_ok("generic", NULL, generic_auth, "{\"event\":{\"name\":\"x\"}}");
    expect_str(doc, "type", "generic.default");
    json_decref(doc);
    doc = accept_ok("generic", NULL, generic_auth, "{\"event\":\"has space\",\"event_type\":\"b.c\"}");
    expect_str(doc, "type", "b.c");
    json_decref(doc);
    doc = accept_ok("generic", NULL, generic_auth, "{\"data\":{\"event\":\"nested.one\"}}");
    expect_str(doc, "type", "nested.one");
    json_decref(doc);

    /* Without a default_event the type is ticket.created. */
    doc = accept_ok("testing", NULL, no_headers, "{\"email\":\"t@x\"}");
    expect_str(doc, "type", "ticket.created");
    json_decref(doc);
    /* Freshdesk sends no header; the payload's event field (inside or
     * outside the wrapper) names the type. */
    doc = accept_ok("freshdesk", NULL, no_headers,
                 "{\"freshdesk_webhook\":{\"ticket_id\":1,\"event\":\"ticket.resolved\"}}");
    expect_str(doc, "type", "ticket.resolved");
    json_decref(doc);
    doc = accept_ok("freshdesk", NULL, no_headers,
                 "{\"event_type\":\"ticket.note\",\"freshdesk_webhook\":{\"ticket_id\":1}}");
    expect_str(doc, "type", "ticket.note");
    json_decref(doc);
}

static void test_required_fields(void **state)
{
    (void)state;
    /* The freshdesk preset requires ticket.id. */
    refuse("freshdesk", no_headers, "{\"freshdesk_webhook\":{\"ticket_subject\":\"x\"}}",
           DH_E_MISSING_FIELD, "ticket.id");
    refuse("freshdesk", no_headers, "{\"freshdesk_webhook\":{\"ticket_id\":\"\"}}",
           DH_E_MISSING_FIELD, "ticket.id");
    refuse("freshdesk", no_headers, "{\"freshdesk_webhook\":{\"ticket_id\":null}}",
           DH_E_MISSING_FIELD, "ticket.id");
    /* The testing source requires customer.email in its config. */
    refuse("testing", no_headers, "{\"subject\":\"no email\"}", DH_E_MISSING_FIELD,
           "customer.email");
    json_decref(accept_ok("testing", NULL, no_headers, "{\"customer_email\":\"c@x\"}"));
}

static void test_invalid_json(void **state)
{
    char deep[64];
    (void)state;

    refuse("testing", no_headers, "{\"a\":1,\n\"b\":}", DH_E_INVALID_JSON, "line 2, column 5");
    refuse("testing", no_headers, "", DH_E_INVALID_JSON, "invalid JSON at line");
    refuse("testing", no_headers, "{\"a\":1} trailing", DH_E_INVALID_JSON, "invalid JSON");
    refuse("testing", no_headers, "[1,2]", DH_E_INVALID_JSON, "not an array");
    refuse("testing", no_headers, "\"text\"", DH_E_INVALID_JSON, NULL);
    refuse("testing", no_headers, "{\"a\":\"\\ud800\"}", DH_E_INVALID_JSON, "line 1");
    /* limits.max_json_depth is 8 here: 8 levels pass, 9 do not. */
    snprintf(deep, sizeof(deep), "{\"a\":[[[[[[[{\"customer_email\":\"x\"}]]]]]]]}");
    json_decref(accept_ok("testing", NULL, no_headers, "{\"customer_email\":\"x\",\"a\":[[[[[[[1]]]]]]]}"));
    refuse("testing", no_headers, "{\"customer_email\":\"x\",\"a\":[[[[[[[[1]]]]]]]]}",
           DH_E_INVALID_JSON, "nesting deeper than 8");
    refuse("testing", no_headers, deep, DH_E_INVALID_JSON, "deeper than 8");
}

static void test_checks_in_order(void **state)
{
    const struct hdr bad_token[] = {{"Authorization", "Bearer nope"}, {NULL, NULL}};
    struct prepared pr;
    json_t *doc;
    (void)state;

    /* Authentication comes before JSON. */
    refuse("generic", bad_token, "not json", DH_E_INVALID_TOKEN, NULL);
    refuse("generic", no_headers, "not json", DH_E_INVALID_TOKEN, "Bearer");
    /* The matched token's index is recorded. */
    {
        const struct hdr second[] = {{"Authorization", "Bearer gen-token-1"}, {NULL, NULL}};
        assert_int_equal(prepare("generic", NULL, second, "{}", &pr, &doc), 0);
        assert_int_equal(pr.item.evs[0].auth_index, 1);
        /* The global window. */
        assert_int_equal(pr.item.evs[0].dedupe_window_ms, 24 * 3600 * 1000);
        json_decref(doc);
        prepared_clear(&pr);
    }
    /* The rate limit (2/1h) comes before JSON too, and says when to come back. */
    json_decref(accept_ok("limited", NULL, no_headers, "{}"));
    refuse("limited", no_headers, "not json", DH_E_INVALID_JSON, NULL);
    assert_int_equal(prepare("limited", NULL, no_headers, "{}", &pr, &doc), DH_E_RATE_LIMITED);
    assert_true(pr.err.retry_after_s > 1700 && pr.err.retry_after_s <= 1800);
    assert_non_null(strstr(pr.err.message, "limited"));
    assert_int_equal(prepare("limited", NULL, no_headers, "not json", &pr, &doc),
                     DH_E_RATE_LIMITED);
    /* Other sources are not affected. */
    json_decref(accept_ok("testing", NULL, no_headers, "{\"email\":\"e@x\"}"));
}

static void dedupe_key(const char *src, const struct hdr *h, const char *body, char *out)
{
    struct prepared pr;
    json_t *doc;
    int rc = prepare(src, NULL, h, body, &pr, &doc);
    if (rc != 0)
        fail_msg("refused: %s", pr.err.message);
    snprintf(out, 80, "%s", pr.item.evs[0].dedupe_key);
    json_decref(doc);
    prepared_clear(&pr);
}

static void test_dedupe_key(void **state)
{
    const struct hdr idem_a[] = {{"Authorization", "Bearer gen-token-0"},
                                 {"Idempotency-Key", "delivery-A"},
                                 {NULL, NULL}};
    const struct hdr idem_a_other_token[] = {{"Authorization", "Bearer gen-token-1"},
                                             {"Idempotency-Key", "delivery-A"},
                                             {NULL, NULL}};
    const struct hdr idem_b[] = {{"Authorization", "Bearer gen-token-0"},
                                 {"Idempotency-Key", "delivery-B"},
                                 {NULL, NULL}};
    char k1[80], k2[80], k3[80], k4[80];
    (void)state;

    /* Equal bodies, equal keys (and different ids). */
    dedupe_key("freshdesk", no_headers, seed, k1);
    dedupe_key("freshdesk", no_headers, seed, k2);
    assert_string_equal(k1, k2);
    /* One byte more is another delivery. */
    dedupe_key("freshdesk", no_headers, "{\"ticket_id\":1228307}", k3);
    dedupe_key("freshdesk", no_headers, "{\"ticket_id\":1228307 }", k4);
    assert_string_not_equal(k1, k3);
    assert_string_not_equal(k3, k4);
    /* The same body sent to another source is not a repeat. */
    dedupe_key("testing", no_headers, "{\"email\":\"e@x\"}", k1);
    dedupe_key("generic", generic_auth, "{\"email\":\"e@x\"}", k2);
    assert_string_not_equal(k1, k2);

    /* The generic preset keys on Idempotency-Key when it is sent. */
    dedupe_key("generic", idem_a, "{\"n\":1}", k1);
    dedupe_key("generic", idem_a_other_token, "{\"n\":2}", k2);
    dedupe_key("generic", idem_b, "{\"n\":1}", k3);
    assert_string_equal(k1, k2);
    assert_string_not_equal(k1, k3);
    assert_int_equal(strncmp(k1, "id:", 3), 0);
    dedupe_key("generic", generic_auth, "{\"n\":1}", k4);
    assert_int_equal(strncmp(k4, "sha256:", 7), 0);
    assert_string_not_equal(k1, k4);
}

static void test_ids_differ(void **state)
{
    struct prepared a, b;
    json_t *da, *db;
    (void)state;

    assert_int_equal(prepare("freshdesk", NULL, no_headers, seed, &a, &da), 0);
    assert_int_equal(prepare("freshdesk", NULL, no_headers, seed, &b, &db), 0);
    assert_string_not_equal(a.item.evs[0].id, b.item.evs[0].id);
    assert_true(strcmp(a.item.evs[0].id, b.item.evs[0].id) < 0);
    json_decref(da);
    json_decref(db);
    prepared_clear(&a);
    prepared_clear(&b);
}

static void test_batch(void **state)
{
    static const char body[] = "[{\"email\":\"a@x\",\"subject\":\"first\"},"
                               "{\"subject\":\"no email\"},"
                               "{\"email\":\"b@x\"},"
                               "3]";
    struct prepared pr;
    json_t *doc;
    (void)state;

    assert_int_equal(prepare_any("testing", NULL, 1, no_headers, body, strlen(body), &pr), 0);
    assert_true(pr.res.array);
    assert_int_equal(pr.res.nelements, 4);
    assert_int_equal(pr.item.nevs, 2);
    /* Good elements become records, in order. */
    assert_int_equal(pr.res.elements[0].rc, 0);
    assert_int_equal(pr.res.elements[0].ev, 0);
    assert_int_equal(pr.res.elements[2].rc, 0);
    assert_int_equal(pr.res.elements[2].ev, 1);
    /* Bad ones say why and do not stop the others. */
    assert_int_equal(pr.res.elements[1].rc, DH_E_MISSING_FIELD);
    assert_int_equal(pr.res.elements[1].ev, -1);
    assert_non_null(strstr(pr.res.elements[1].message, "customer.email"));
    assert_int_equal(pr.res.elements[3].rc, DH_E_INVALID_JSON);
    assert_int_equal(pr.res.elements[3].ev, -1);
    assert_non_null(strstr(pr.res.elements[3].message, "object"));

    doc = doc_of(&pr.item.evs[0]);
    expect_str(doc, "customer.email", "a@x");
    expect_str(doc, "ticket.subject", "first");
    expect_str(doc, "id", pr.item.evs[0].id);
    json_decref(doc);
    doc = doc_of(&pr.item.evs[1]);
    expect_str(doc, "customer.email", "b@x");
    json_decref(doc);
    /* Each record has its own id, dedupe key and raw bytes: its element. */
    assert_string_not_equal(pr.item.evs[0].id, pr.item.evs[1].id);
    assert_string_not_equal(pr.item.evs[0].dedupe_key, pr.item.evs[1].dedupe_key);
    assert_int_equal(pr.item.evs[1].raw_len, strlen("{\"email\":\"b@x\"}"));
    assert_memory_equal(pr.item.evs[1].raw, "{\"email\":\"b@x\"}", pr.item.evs[1].raw_len);
    prepared_clear(&pr);
}

static void test_batch_element_raw_keeps_numbers(void **state)
{
    static const char body[] = "[{\"email\":\"a@x\",\"amount\":0.1,\"n\":10}]";
    struct prepared pr;
    json_t *raw;
    (void)state;

    assert_int_equal(prepare_any("testing", NULL, 1, no_headers, body, strlen(body), &pr), 0);
    assert_int_equal(pr.item.nevs, 1);
    raw = json_loadb(pr.item.evs[0].raw, pr.item.evs[0].raw_len, 0, NULL);
    assert_non_null(raw);
    json_decref(raw);
    /* The stored element says 0.1, as the sender wrote it. */
    {
        char stored[200];
        snprintf(stored, sizeof(stored), "%s", pr.item.evs[0].raw);
        prepared_clear(&pr);
        if (strstr(stored, "\"amount\":0.1,") == NULL)
            fail_msg("the element was stored as %s", stored);
    }
}

static void test_batch_refusals(void **state)
{
    struct prepared pr;
    char *big;
    size_t n = 0;
    (void)state;

    /* The batch endpoint wants an array. */
    assert_int_equal(prepare_any("testing", NULL, 1, no_headers, "{\"email\":\"a@x\"}", 15,
                                 &pr),
                     DH_E_INVALID_JSON);
    assert_non_null(strstr(pr.err.message, "array"));
    /* An empty array is a batch of nothing. */
    assert_int_equal(prepare_any("testing", NULL, 1, no_headers, "[]", 2, &pr), 0);
    assert_int_equal(pr.item.nevs, 0);
    assert_int_equal(pr.res.nelements, 0);
    prepared_clear(&pr);
    /* Authentication covers the whole request. */
    assert_int_equal(prepare_any("generic", NULL, 1, no_headers, "[{}]", 4, &pr),
                     DH_E_INVALID_TOKEN);
    /* At most 1000 elements. */
    big = malloc(1001 * 3 + 2);
    big[n++] = '[';
    for (int i = 0; i < 1001; i++) {
        memcpy(big + n, "{},", 3);
        n += 3;
    }
    big[n - 1] = ']';
    assert_int_equal(prepare_any("testing", NULL, 1, no_headers, big, n, &pr), DH_E_TOO_LARGE);
    assert_non_null(strstr(pr.err.message, "1000"));
    free(big);
}

static void test_source_field_overrides(void **state)
{
    json_t *doc;
    (void)state;

    /* The custom source reads its subject from headline first, and its
     * priority from level, with the preset's mapping still applied. */
    doc = accept_ok("custom", NULL, no_headers,
                 "{\"headline\":\"H\",\"subject\":\"S\",\"level\":4,\"priority\":1,"
                 "\"where\":{\"region\":\"eu\"}}");
    expect_str(doc, "ticket.subject", "H");
    expect_str(doc, "ticket.priority", "urgent");
    expect_str(doc, "metadata.region", "eu");
    json_decref(doc);
    doc = accept_ok("custom", NULL, no_headers, "{\"subject\":\"S\",\"priority\":1}");
    expect_str(doc, "ticket.subject", "S");
    /* priority is no longer one of its paths. */
    expect_str(doc, "ticket.priority", NULL);
    json_decref(doc);
    /* Its own message for a missing field. */
    refuse("custom", no_headers, "{\"title\":\"not read here\"}", DH_E_MISSING_FIELD,
           "send a headline");
}

static void test_source_event_map(void **state)
{
    json_t *doc;
    (void)state;

    doc = accept_ok("custom", NULL, no_headers, "{\"event\":\"legacy.create\",\"subject\":\"s\"}");
    expect_str(doc, "type", "ticket.created");
    json_decref(doc);
    doc = accept_ok("custom", "legacy.create", no_headers, "{\"subject\":\"s\"}");
    expect_str(doc, "type", "ticket.created");
    json_decref(doc);
    /* Types the map does not name pass through. */
    doc = accept_ok("custom", NULL, no_headers, "{\"event\":\"legacy.update\",\"subject\":\"s\"}");
    expect_str(doc, "type", "legacy.update");
    json_decref(doc);
}

static void test_keyed_rate_limit(void **state)
{
    struct prepared pr;
    json_t *doc;
    (void)state;

    /* One request per hour for each platform. */
    json_decref(accept_ok("perplatform", NULL, no_headers, "{\"platform\":\"zendesk\"}"));
    assert_int_equal(prepare("perplatform", NULL, no_headers, "{\"platform\":\"zendesk\"}",
                             &pr, &doc),
                     DH_E_RATE_LIMITED);
    assert_true(pr.err.retry_after_s > 3500 && pr.err.retry_after_s <= 3600);
    assert_non_null(strstr(pr.err.message, "platform=zendesk"));
    json_decref(accept_ok("perplatform", NULL, no_headers, "{\"platform\":\"hubspot\"}"));
    /* Without the field the platform is the provider's name. */
    json_decref(accept_ok("perplatform", NULL, no_headers, "{}"));
    assert_int_equal(prepare("perplatform", NULL, no_headers, "{\"platform\":\"generic\"}",
                             &pr, &doc),
                     DH_E_RATE_LIMITED);
}

/* Loads text as a config file (which must load) and runs dh_ingest_new,
 * which must find exactly nerr problems; returns them. */
static struct dh_errlist ingest_problems(const char *text, size_t nerr, char *path,
                                         size_t pathlen)
{
    struct dh_errlist el = {0};
    struct dh_config *c = NULL;
    struct dh_ingest *in = (struct dh_ingest *)&in;
    int fd, rc;

    snprintf(path, pathlen, "/tmp/dh_test_ingest_XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(dh_config_load(path, &c, &el), 0);
    rc = dh_ingest_new(c, &in, &el);
    unlink(path);
    dh_config_free(c);
    if (rc == 0)
        dh_ingest_free(in);
    if ((nerr == 0 && rc != 0) || (nerr > 0 && (rc != DH_E_CONFIG || in != NULL)) ||
        el.n != nerr) {
        size_t n = el.n;
        for (size_t i = 0; i < el.n; i++)
            print_error("  %s\n", el.lines[i]);
        dh_errlist_free(&el);
        fail_msg("rc %d with %zu problems, wanted %zu", rc, n, nerr);
    }
    return el;
}

static void test_ingest_config_problems(void **state)
{
    static const char text[] =
        "admin: {token: t}\n"
        "sources:\n"
        "  - name: a\n"
        "    preset: nosuchdesk\n"
        "    auth: none\n"
        "  - name: c\n"
        "    auth: none\n"
        "    fields: {tciket.subject: title}\n"
        "    event_map: {x: \"not valid!\"}\n"
        "    rate_limit: {rate: 5/1m, key: colour}\n"
        "    required: [subject]\n"
        "  - name: d\n"
        "    auth:\n"
        "      oauth: {secrets: [x]}\n";
    char path[64], want[128];
    struct dh_errlist el;
    (void)state;

    el = ingest_problems(text, 6, path, sizeof(path));
    assert_non_null(strstr(el.lines[5], "auth scheme \"oauth\" is not known"));
    snprintf(want, sizeof(want), "%s:4: preset \"nosuchdesk\" is not known", path);
    assert_non_null(strstr(el.lines[0], want));
    /* The message lists the presets there are. */
    assert_non_null(strstr(el.lines[0], "freshdesk"));
    assert_non_null(strstr(el.lines[0], "generic"));
    for (size_t i = 1; i < el.n; i++)
        assert_int_equal(strncmp(el.lines[i], path, strlen(path)), 0);
    dh_errlist_free(&el);
}

static void test_required_field_typo(void **state)
{
    /* No preset fills ticket.subjet: a typo here would make the source
     * refuse every webhook, so the check must catch it. */
    static const char text[] = "admin: {token: t}\n"
                               "sources:\n"
                               "  - name: b\n"
                               "    auth: none\n"
                               "    required: [ticket.subjet]\n";
    char path[64], want[128];
    struct dh_errlist el;
    (void)state;

    el = ingest_problems(text, 1, path, sizeof(path));
    snprintf(want, sizeof(want), "%s:5: required: \"ticket.subjet\"", path);
    assert_non_null(strstr(el.lines[0], want));
    dh_errlist_free(&el);
}

static void test_required_fields_known(void **state)
{
    static const char text[] = "admin: {token: t}\n"
                               "sources:\n"
                               "  - name: b\n"
                               "    auth: none\n"
                               "    required: [ticket.subject, customer.email, platform]\n";
    char path[64];
    struct dh_errlist el;
    (void)state;

    el = ingest_problems(text, 0, path, sizeof(path));
    dh_errlist_free(&el);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_webhooks),
        cmocka_unit_test(test_route_batch),
        cmocka_unit_test(test_route_extra_paths),
        cmocka_unit_test(test_route_unknown_source),
        cmocka_unit_test(test_route_invalid_event_type),
        cmocka_unit_test(test_route_unrelated),
        cmocka_unit_test(test_check_headers),
        cmocka_unit_test(test_freshdesk_seed),
        cmocka_unit_test(test_freshdesk_priorities),
        cmocka_unit_test(test_freshdesk_unwrapped),
        cmocka_unit_test(test_generic_mapping),
        cmocka_unit_test(test_generic_field_alternatives),
        cmocka_unit_test(test_generic_absent_fields),
        cmocka_unit_test(test_event_type_precedence),
        cmocka_unit_test(test_required_fields),
        cmocka_unit_test(test_invalid_json),
        cmocka_unit_test(test_checks_in_order),
        cmocka_unit_test(test_dedupe_key),
        cmocka_unit_test(test_ids_differ),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_batch_element_raw_keeps_numbers),
        cmocka_unit_test(test_batch_refusals),
        cmocka_unit_test(test_source_field_overrides),
        cmocka_unit_test(test_source_event_map),
        cmocka_unit_test(test_keyed_rate_limit),
        cmocka_unit_test(test_ingest_config_problems),
        cmocka_unit_test(test_required_field_typo),
        cmocka_unit_test(test_required_fields_known),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
