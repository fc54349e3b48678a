/*
 * fuzz_endpoint.c: libFuzzer target for endpoint definitions
 * (delivery/endpoint.h), the JSON a config file's `endpoints:` item or an
 * admin API body becomes.
 *
 * The input is read as JSON (any value, so non-objects are refused too)
 * and parsed, as a config endpoint and as an API one. Besides memory errors
 * and leaks it checks the parser's contract: the result is 0 with an
 * endpoint and an empty message, or DH_E_BAD_REQUEST with no endpoint and
 * a non-empty one-line message, terminated even in a short buffer. An
 * endpoint that parses is then shown as the API shows it, which must keep
 * no credential and carry id, name and origin; merged with an empty patch
 * it must be unchanged and parse again; and a request for it must build.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/crypto.h"
#include "core/error.h"
#include "delivery/endpoint.h"
#include "delivery/format.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MASK "********"

/* A broken promise: says which, for the report, and stops. */
#define FUZZ_CHECK(cond, ...)                                                           \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_endpoint: " __VA_ARGS__);                             \
            fputc('\n', stderr);                                                        \
            abort();                                                                    \
        }                                                                               \
    } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FUZZ_CHECK(dh_crypto_init() == 0, "no crypto");
    return 0;
}

static int dh__masked(const json_t *v)
{
    return json_is_string(v) && strcmp(json_string_value(v), MASK) == 0;
}

/* Every credential in the API view is the mask. */
static void dh__check_masked(const json_t *view)
{
    const json_t *auth = json_object_get(view, "auth"), *v, *item;
    const char *k;
    size_t i;

    v = json_object_get(view, "secrets");
    if (json_is_array(v)) {
        json_array_foreach(v, i, item)
        {
            FUZZ_CHECK(dh__masked(item), "secret %zu is shown", i);
        }
    } else {
        FUZZ_CHECK(v == NULL || json_is_null(v) || dh__masked(v), "secrets are shown");
    }
    if (!json_is_object(auth))
        return;
    v = json_object_get(auth, "bearer");
    FUZZ_CHECK(v == NULL || dh__masked(v), "the bearer token is shown");
    v = json_object_get(json_object_get(auth, "basic"), "password");
    FUZZ_CHECK(v == NULL || dh__masked(v), "the password is shown");
    v = json_object_get(auth, "headers");
    if (json_is_object(v)) {
        const json_t *hv;
        json_object_foreach((json_t *)v, k, hv)
        {
            FUZZ_CHECK(dh__masked(hv), "header %s is shown", k);
        }
    }
}

static void dh__check_endpoint(const struct dh_endpoint *e, const json_t *spec, int from_config)
{
    static const char doc[] = "{\"id\":\"evt_1\",\"ticket\":{\"id\":\"5\",\"subject\":\"s\"}}";
    struct dh_event_view ev = {"evt_1", "zendesk", "ticket.created", 1700000000000LL, doc,
                               sizeof(doc) - 1};
    struct dh_endpoint *again = NULL;
    struct dh_outbound o;
    json_t *view, *empty, *merged;
    char err[512];
    int rc;

    FUZZ_CHECK(e->name != NULL && e->id != NULL && e->url != NULL && e->method != NULL,
               "an endpoint without name, id, url or method");
    FUZZ_CHECK(e->nevents > 0 && e->nschedule > 0 && e->max_attempts > 0,
               "an endpoint with no events, schedule or attempts");
    FUZZ_CHECK(e->signing == DH_SIGN_NONE || e->nsecrets > 0, "signing without a secret");
    FUZZ_CHECK((e->format == DH_FORMAT_TEMPLATE) == (e->tmpl != NULL),
               "template and format disagree");

    view = dh_endpoint_to_json(e);
    FUZZ_CHECK(json_is_object(view), "the API view is not an object");
    FUZZ_CHECK(json_is_string(json_object_get(view, "id")) &&
                   json_is_string(json_object_get(view, "name")),
               "the API view has no id or name");
    FUZZ_CHECK(strcmp(json_string_value(json_object_get(view, "origin")),
                      from_config ? "config" : "api") == 0,
               "wrong origin");
    dh__check_masked(view);
    json_decref(view);

    /* An empty patch changes nothing, and the result parses the same. */
    empty = json_object();
    merged = dh_endpoint_merge(spec, empty);
    FUZZ_CHECK(json_equal(merged, (json_t *)spec), "an empty patch changed the definition");
    rc = dh_endpoint_parse(merged, NULL, from_config, &again, err, sizeof(err));
    FUZZ_CHECK(rc == 0, "the merged definition does not parse: %s", err);
    dh_endpoint_free(again);
    json_decref(merged);
    json_decref(empty);

    dh_endpoint_matches(e, "zendesk", "ticket.created");
    dh_endpoint_event_name(e, "ticket.created");

    rc = dh_format_build(e, &ev, "msg_fuzz", 1700000000, &o, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == DH_E_TOO_LARGE, "building a request failed (%d): %s", rc, err);
    FUZZ_CHECK(rc != 0 || (o.body != NULL && o.nheaders >= 4), "a request without body");
    FUZZ_CHECK(rc == 0 || o.body == NULL, "a failed build kept its body");
    dh_outbound_clear(&o);
}

static void dh__parse_once(const json_t *spec, int from_config)
{
    struct dh_endpoint *e = NULL;
    char err[1024], small[7];
    int rc;

    memset(err, 'x', sizeof(err));
    rc = dh_endpoint_parse(spec, from_config ? NULL : "ep_fuzz", from_config, &e, err,
                           sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == DH_E_BAD_REQUEST, "dh_endpoint_parse returned %d", rc);
    FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "the message is not terminated");
    FUZZ_CHECK(strchr(err, '\n') == NULL, "a message on several lines: %s", err);
    FUZZ_CHECK((rc == 0) == (e != NULL), "returned %d and %s", rc, e ? "an endpoint" : "none");
    FUZZ_CHECK((rc == 0) == (err[0] == '\0'), "returned %d with message \"%s\"", rc, err);
    if (e != NULL) {
        dh__check_endpoint(e, spec, from_config);
        dh_endpoint_free(e);
        return;
    }

    /* A short buffer is cut, not overrun. */
    memset(small, 'x', sizeof(small));
    rc = dh_endpoint_parse(spec, NULL, from_config, &e, small, sizeof(small));
    FUZZ_CHECK(rc == DH_E_BAD_REQUEST && e == NULL, "a second parse disagreed");
    FUZZ_CHECK(memchr(small, '\0', sizeof(small)) != NULL, "a cut message is not terminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *spec = json_loadb((const char *)data, size, JSON_DECODE_ANY, &je);

    if (spec == NULL)
        return 0;
    dh__parse_once(spec, 1);
    dh__parse_once(spec, 0);
    json_decref(spec);
    return 0;
}
