/*
 * fuzz_normalize.c: libFuzzer target for preset normalization, through
 * dh_ingest_prepare() (ingest.h), over arbitrary JSON bodies.
 *
 * At start it loads the presets and builds an ingest from a config written
 * for it: one source per preset (named after it, auth: none), plus one
 * "custom" source on the generic preset with field overrides, an event_map,
 * a default event and required fields. Each input is the body of a request
 * to every source, as a single event and as a batch, once with no headers
 * and once with every header answering a fixed value (a valid event type
 * and delivery id).
 *
 * Besides memory errors and leaks it checks what ingest promises: a refusal
 * is a 4xx code with a message and leaves no records; an accepted request
 * has one record per usable event, each counted once in the result; every
 * record's document is a JSON object whose source, provider and type match
 * the record, whose type is a valid event type, and whose dedupe key has
 * its documented form; the raw bytes of a single event are the body.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config/config.h"
#include "core/error.h"
#include "ingest/ingest.h"
#include "ingest/normalize.h"
#include "ingest/preset.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HEADER_VALUE "fuzz.event-1"

static struct dh_config *dh__cfg;
static struct dh_ingest *dh__in;

__attribute__((noreturn)) static void dh__die(const char *what, const struct dh_errlist *el)
{
    fprintf(stderr, "fuzz_normalize: %s\n", what);
    for (size_t i = 0; el != NULL && i < el->n; i++)
        fprintf(stderr, "  %s\n", el->lines[i]);
    abort();
}

/* Appends "  - name: N\n    preset: P\n    auth: none\n" for each preset. */
static char *dh__config_text(void)
{
    static const char head[] = "admin: {token: fuzz-admin-token}\n"
                               "sources:\n";
    static const char custom[] =
        "  - name: custom\n"
        "    preset: generic\n"
        "    auth: none\n"
        "    default_event: ticket.updated\n"
        "    required: [ticket.subject]\n"
        "    required_message: Title or subject is required\n"
        "    fields:\n"
        "      ticket.subject: [title, data.title, 0]\n"
        "      ticket.tags: labels\n"
        "      metadata.extra: [extra, data.extra]\n"
        "      customer.email: [user.email, data.0.email]\n"
        "    event_map: {ticket.create: ticket.created, fuzz.event-1: ticket.updated}\n";
    char names[4096], *save = NULL;
    size_t cap = sizeof(head) + sizeof(custom) + 64 * 1024, used = 0;
    char *out = malloc(cap);

    dh_preset_names(names, sizeof(names));
    used += (size_t)snprintf(out + used, cap - used, "%s", head);
    for (char *n = strtok_r(names, ", ", &save); n != NULL; n = strtok_r(NULL, ", ", &save))
        used += (size_t)snprintf(out + used, cap - used,
                                 "  - name: \"%s\"\n    preset: \"%s\"\n    auth: none\n", n, n);
    used += (size_t)snprintf(out + used, cap - used, "%s", custom);
    if (used >= cap)
        dh__die("the config does not fit", NULL);
    return out;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct dh_errlist el = {0};
    char path[4096];
    char err[256], *text;
    FILE *f;
    int fd;

    (void)argc;
    (void)argv;
    if (dh_preset_load_all(err, sizeof(err)) < 0)
        dh__die(err, NULL);
    text = dh__config_text();
    snprintf(path, sizeof(path), "%s/deskhook-fuzz-normalize-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    fd = mkstemp(path);
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL)
        dh__die("cannot write the config", NULL);
    fputs(text, f);
    fclose(f);
    free(text);
    if (dh_config_load(path, &dh__cfg, &el) != 0)
        dh__die("the config does not load", &el);
    unlink(path);
    if (dh_ingest_new(dh__cfg, &dh__in, &el) != 0)
        dh__die("ingest refuses the config", &el);
    dh_errlist_free(&el);
    return 0;
}

static const char *dh__no_header(void *ctx, const char *name)
{
    (void)ctx;
    (void)name;
    return NULL;
}

static const char *dh__fixed_header(void *ctx, const char *name)
{
    (void)ctx;
    (void)name;
    return FUZZ_HEADER_VALUE;
}

static int dh__is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[n] == '\0';
}

/* A broken promise: says which, for the report, and stops. */
#define FUZZ_CHECK(cond, src, ...)                                                      \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_normalize: source %s: ", (src)->cfg->name);           \
            fprintf(stderr, __VA_ARGS__);                                               \
            fputc('\n', stderr);                                                        \
            abort();                                                                    \
        }                                                                               \
    } while (0)

static void dh__check_refusal(const struct dh_ingest_source *src, int rc, const char *message,
                              size_t size)
{
    int status = dh_error_status(rc);
    FUZZ_CHECK(rc < 0 && status >= 400 && status <= 499, src, "refused with %d (HTTP %d)", rc,
               status);
    FUZZ_CHECK(memchr(message, '\0', size) != NULL && message[0] != '\0', src,
               "refused (%s) without a message", dh_error_code(rc));
}

/* Returns 1 when doc[key] is the string want. */
static int dh__str_is(json_t *doc, const char *key, const char *want)
{
    const char *v = json_string_value(json_object_get(doc, key));
    return v != NULL && want != NULL && strcmp(v, want) == 0;
}

static void dh__check_record(const struct dh_ingest_source *src, const struct dh_event_rec *ev)
{
    json_error_t je;
    json_t *doc;

    FUZZ_CHECK(ev->doc != NULL && ev->doc_len == strlen(ev->doc), src, "doc or doc_len wrong");
    FUZZ_CHECK(ev->raw != NULL && ev->raw[ev->raw_len] == '\0', src, "raw not terminated");
    FUZZ_CHECK(ev->source != NULL && strcmp(ev->source, src->cfg->name) == 0, src,
               "record source is %s", ev->source ? ev->source : "NULL");
    FUZZ_CHECK(ev->type != NULL && dh_normalize_event_type_valid(ev->type), src,
               "event type \"%s\" is not valid", ev->type ? ev->type : "NULL");
    FUZZ_CHECK((strncmp(ev->dedupe_key, "sha256:", 7) == 0 && dh__is_hex(ev->dedupe_key + 7, 64)) ||
                   (strncmp(ev->dedupe_key, "id:", 3) == 0 && dh__is_hex(ev->dedupe_key + 3, 64)),
               src, "dedupe key \"%s\"", ev->dedupe_key);
    /* Strings may hold U+0000 (the body is read with JSON_ALLOW_NUL). */
    doc = json_loads(ev->doc, JSON_ALLOW_NUL, &je);
    FUZZ_CHECK(json_is_object(doc), src, "doc is not a JSON object: %s", je.text);
    FUZZ_CHECK(dh__str_is(doc, "type", ev->type), src, "doc type is not the record's");
    FUZZ_CHECK(dh__str_is(doc, "source", ev->source), src, "doc source is not the record's");
    FUZZ_CHECK(dh__str_is(doc, "provider", ev->provider), src, "doc provider is not the record's");
    FUZZ_CHECK(dh__str_is(doc, "id", ev->id), src, "doc id is not the record's");
    FUZZ_CHECK(dh__str_is(doc, "dedupe_key", ev->dedupe_key), src,
               "doc dedupe_key is not the record's");
    json_decref(doc);
}

static void dh__one(const struct dh_ingest_source *src, int batch, dh_header_fn hdr,
                    const char *body, size_t len)
{
    struct dh_ingest_request rq = {0};
    struct dh_commit_item item;
    struct dh_ingest_result res;
    struct dh_ingest_error err;
    char uri[128];
    size_t good = 0;
    int rc;

    memset(&item, 0, sizeof(item));
    snprintf(uri, sizeof(uri), "/webhooks/%s%s", src->cfg->name, batch ? "/batch" : "");
    rq.src = src;
    rq.path_event_type = "";
    rq.batch = batch;
    rq.get_header = hdr;
    rq.method = "POST";
    rq.uri = uri;
    rq.content_type = "application/json";
    rq.body = body;
    rq.len = len;

    rc = dh_ingest_prepare(dh__in, &rq, &item, &res, &err);
    if (rc != 0) {
        dh__check_refusal(src, rc, err.message, sizeof(err.message));
        FUZZ_CHECK(item.nevs == 0 && res.nelements == 0 && res.elements == NULL, src,
                   "a refusal left records or results");
        goto out;
    }
    if (!res.array) {
        FUZZ_CHECK(!batch, src, "a batch answered as a single event");
        FUZZ_CHECK(item.nevs == 1 && item.evs == &item.one, src, "%zu records for one event",
                   item.nevs);
        FUZZ_CHECK(item.one.raw_len == len && memcmp(item.one.raw, body, len) == 0, src,
                   "the raw bytes are not the body");
    } else {
        for (size_t i = 0; i < res.nelements; i++) {
            const struct dh_ingest_element *e = &res.elements[i];
            if (e->rc == 0) {
                FUZZ_CHECK(e->ev == (int)good, src, "element %zu names record %d", i, e->ev);
                good++;
            } else {
                FUZZ_CHECK(e->ev == -1, src, "refused element %zu names record %d", i, e->ev);
                dh__check_refusal(src, e->rc, e->message, sizeof(e->message));
            }
        }
        FUZZ_CHECK(good == item.nevs, src, "%zu good elements, %zu records", good, item.nevs);
        FUZZ_CHECK(batch || good > 0, src, "an array of nothing usable was accepted");
    }
    for (size_t i = 0; i < item.nevs; i++)
        dh__check_record(src, &item.evs[i]);
out:
    dh_ingest_item_clear(&item);
    dh_ingest_result_clear(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so ASan sees a read past the end. */
    char *body = malloc(size ? size : 1);

    memcpy(body, data, size);
    for (size_t i = 0; i < dh__in->nsources; i++) {
        const struct dh_ingest_source *src = &dh__in->sources[i];
        dh__one(src, 0, dh__no_header, body, size);
        dh__one(src, 0, dh__fixed_header, body, size);
        dh__one(src, 1, dh__no_header, body, size);
        dh__one(src, 1, dh__fixed_header, body, size);
    }
    free(body);
    return 0;
}
