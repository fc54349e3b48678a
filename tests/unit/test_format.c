/*
 * test_format.c: the request an endpoint receives: the standard envelope
 * byte for byte, the headers, Standard Webhooks signatures (the spec's
 * published vector, rotation with two secrets), hex signatures, Slack
 * cards, templates and the payload limit.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/crypto.h"
#include "core/error.h"
#include "delivery/endpoint.h"
#include "delivery/format.h"

#define WHSEC "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define WHSEC2 "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM="

/* 2024-01-15T10:30:00.000Z */
#define RECEIVED_MS 1705314600000LL
#define NOW_S 1705314660LL

#define DOC "{\"id\":\"evt_1\",\"ticket\":{\"id\":\"5158\"}}"
#define STANDARD_BODY                                                                      \
    "{\"event\":\"ticket.created\",\"timestamp\":\"2024-01-15T10:30:00.000Z\",\"data\":" DOC \
    "}"

static struct dh_endpoint *endpoint(const char *text)
{
    char err[512];
    json_error_t je;
    json_t *spec = json_loads(text, 0, &je);
    struct dh_endpoint *e = NULL;

    if (spec == NULL)
        fail_msg("bad test JSON (%s): %s", je.text, text);
    if (dh_endpoint_parse(spec, NULL, 1, &e, err, sizeof(err)) != 0)
        fail_msg("%s: %s", text, err);
    json_decref(spec);
    return e;
}

static struct dh_event_view event(const char *type, const char *doc)
{
    struct dh_event_view ev = {"evt_1", "zendesk", type, RECEIVED_MS, doc, strlen(doc)};
    return ev;
}

/* The value of header name in o, or NULL; fails on a second one. */
static const char *header(const struct dh_outbound *o, const char *name)
{
    const char *found = NULL;
    size_t n = strlen(name);

    for (size_t i = 0; i < o->nheaders; i++) {
        if (strncmp(o->headers[i], name, n) == 0 && strncmp(o->headers[i] + n, ": ", 2) == 0) {
            if (found != NULL)
                fail_msg("header %s twice", name);
            found = o->headers[i] + n + 2;
        }
    }
    return found;
}

/* The base64 HMAC-SHA256 of "<id>.<ts>.<body>" under the whsec secret,
 * computed here independently of the formatter. */
static void expected_v1(const char *whsec, const char *id, long long ts, const char *body,
                        char out[100])
{
    unsigned char key[64], mac[DH_HMAC_MAX];
    char signed_text[4096];
    struct dh_hmac_key *k = NULL;
    int klen = dh_base64_decode(whsec + 6, strlen(whsec + 6), key, sizeof(key));
    int n;

    assert_true(klen > 0);
    snprintf(signed_text, sizeof(signed_text), "%s.%lld.%s", id, ts, body);
    assert_int_equal(dh_hmac_key_new("sha256", key, (size_t)klen, &k), 0);
    struct dh_iov part = {signed_text, strlen(signed_text)};
    n = dh_hmac_compute(k, &part, 1, mac);
    assert_int_equal(n, 32);
    dh_hmac_key_free(k);
    memcpy(out, "v1,", 3);
    dh_base64_encode(mac, 32, out + 3);
}

static void test_spec_vector(void **state)
{
    /* The published Standard Webhooks example. */
    struct dh_endpoint *e =
        endpoint("{\"name\": \"v\", \"url\": \"https://x\", \"secrets\": [\"" WHSEC "\"]}");
    const char *body = "{\"test\": 2432232314}";
    char sig[DH_FORMAT_SIG_PER_SECRET * 2 + 1], small[10];
    (void)state;

    assert_int_equal(dh_format_sign_standard(e->secrets, e->nsecrets,
                                             "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                                             strlen(body), sig, sizeof(sig)),
                     0);
    assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    assert_int_equal(dh_format_sign_standard(e->secrets, e->nsecrets, "m", 1, body,
                                             strlen(body), small, sizeof(small)),
                     -ENOSPC);
    assert_int_equal(dh_format_sign_standard(e->secrets, 0, "m", 1, body, strlen(body), sig,
                                             sizeof(sig)),
                     -EINVAL);
    dh_endpoint_free(e);
}

static void test_standard(void **state)
{
    struct dh_endpoint *e = endpoint(
        "{\"name\": \"crm\", \"url\": \"https://x\", \"secrets\": [\"" WHSEC "\"],"
        " \"auth\": {\"bearer\": \"tok-1\", \"headers\": {\"X-Api-Key\": \"k\"}}}");
    struct dh_event_view ev = event("ticket.created", DOC);
    struct dh_outbound o;
    char err[256], v1[100];
    (void)state;

    assert_int_equal(dh_format_build(e, &ev, "msg_1", NOW_S, &o, err, sizeof(err)), 0);
    assert_int_equal(o.len, strlen(STANDARD_BODY));
    assert_memory_equal(o.body, STANDARD_BODY, o.len);
    assert_int_equal(o.body[o.len], '\0');

    /* Fixed headers first, in order, then auth, then the signature. */
    assert_int_equal(o.nheaders, 9);
    assert_string_equal(o.headers[0], "Content-Type: application/json");
    assert_string_equal(o.headers[1], "User-Agent: deskhook/" DH_VERSION);
    assert_string_equal(o.headers[2], "X-Webhook-Event: ticket.created");
    assert_string_equal(o.headers[3], "X-Webhook-Id: msg_1");
    assert_string_equal(o.headers[4], "Authorization: Bearer tok-1");
    assert_string_equal(o.headers[5], "X-Api-Key: k");
    assert_string_equal(header(&o, "webhook-id"), "msg_1");
    assert_string_equal(header(&o, "webhook-timestamp"), "1705314660");
    /* Computed outside (Python's hmac) over STANDARD_BODY, and here. */
    assert_string_equal(header(&o, "webhook-signature"),
                        "v1,R4o9t8lOnd/bzKXPlqc6g5RqaMHkhNwKAhmHj4+ark8=");
    expected_v1(WHSEC, "msg_1", NOW_S, o.body, v1);
    assert_string_equal(header(&o, "webhook-signature"), v1);
    assert_null(header(&o, "X-Webhook-Signature"));
    dh_outbound_clear(&o);
    assert_null(o.body);
    assert_int_equal(o.nheaders, 0);

    /* Another attempt: same body, only the timestamp and signature move. */
    assert_int_equal(dh_format_build(e, &ev, "msg_1", NOW_S + 60, &o, err, sizeof(err)), 0);
    assert_memory_equal(o.body, STANDARD_BODY, o.len);
    assert_string_equal(header(&o, "webhook-timestamp"), "1705314720");
    expected_v1(WHSEC, "msg_1", NOW_S + 60, o.body, v1);
    assert_string_equal(header(&o, "webhook-signature"), v1);
    dh_outbound_clear(&o);
    dh_endpoint_free(e);
}

static void test_rotation(void **state)
{
    struct dh_endpoint *e = endpoint("{\"name\": \"crm\", \"url\": \"https://x\","
                                     " \"secrets\": [\"" WHSEC "\", \"" WHSEC2 "\"]}");
    struct dh_event_view ev = event("ticket.created", DOC);
    struct dh_outbound o;
    char err[256], a[100], b[100], both[210];
    (void)state;

    assert_int_equal(dh_format_build(e, &ev, "msg_1", NOW_S, &o, err, sizeof(err)), 0);
    expected_v1(WHSEC, "msg_1", NOW_S, o.body, a);
    expected_v1(WHSEC2, "msg_1", NOW_S, o.body, b);
    snprintf(both, sizeof(both), "%s %s", a, b);
    assert_string_equal(header(&o, "webhook-signature"), both);
    assert_string_equal(b, "v1,FZUA9my8Tix/YXmcv7eMEAlayLv8JGiFDMSVZ88NLRk=");
    dh_outbound_clear(&o);
    dh_endpoint_free(e);
}

static void test_hex_and_basic(void **state)
{
    struct dh_endpoint *e = endpoint(
        "{\"name\": \"crm\", \"url\": \"https://x\", \"signing\": \"hex\","
        " \"secrets\": [\"hex-secret\", \"other\"],"
        " \"auth\": {\"basic\": {\"username\": \"user\", \"password\": \"pass\"}}}");
    struct dh_event_view ev = event("ticket.created", DOC);
    struct dh_outbound o;
    char err[256];
    (void)state;

    assert_int_equal(dh_format_build(e, &ev, "msg_1", NOW_S, &o, err, sizeof(err)), 0);
    assert_memory_equal(o.body, STANDARD_BODY, o.len);
    assert_string_equal(header(&o, "Authorization"), "Basic dXNlcjpwYXNz");
    /* HMAC-SHA256 of the body with the first secret, from Python's hmac. */
    assert_string_equal(header(&o, "X-Webhook-Signature"),
                        "c0400728b6a66d07ec8560b7ab29e2ecd767d23cc30c1dbeb6a9b5b19e42d74d");
    assert_null(header(&o, "webhook-signature"));
    assert_null(header(&o, "webhook-id"));
    assert_int_equal(o.nheaders, 6);
    dh_outbound_clear(&o);
    dh_endpoint_free(e);

    e = endpoint("{\"name\": \"crm\", \"url\": \"https://x\", \"signing\": \"none\"}");
    assert_int_equal(dh_format_build(e, &ev, "msg_1", NOW_S, &o, err, sizeof(err)), 0);
    assert_int_equal(o.nheaders, 4);
    assert_null(header(&o, "Authorization"));
    dh_outbound_clear(&o);
    dh_endpoint_free(e);
}

static void test_renamed_and_verbatim(void **state)
{
    struct dh_endpoint *e = endpoint(
        "{\"name\": \"crm\", \"url\": \"https://x\", \"signing\": \"none\","
        " \"event_names\": {\"ticket.created\": \"conversation.added\"}}");
    /* A number beyond 64 bits and a float's exact text reach the receiver. */
    const char *doc = " {\"n\":123456789012345678901234567890,\"f\":0.10000000000000001} \n";
    struct dh_event_view ev = event("ticket.created", doc);
    struct dh_outbound o;
    char err[256];
    (void)state;

    assert_int_equal(dh_format_build(e, &ev, "msg_1", NOW_S, &o, err, sizeof(err)), 0);
    assert_string_equal(o.body, "{\"event\":\"conversation.added\","
                                "\"timestamp\":\"2024-01-15T10:30:00.000Z\","
                                "\"data\":{\"n\":123456789012345678901234567890,"
                                "\"f\":0.10000000000000001}}");
    assert_string_equal(header(&o, "X-Webhook-Event"), "conversation.added");
    dh_outbound_clear(&o);
    dh_endpoint_free(e);
}

static void test_bad_input(void **state)
{
    struct dh_endpoint *e =
        endpoint("{\"name\": \"crm\", \"url\": \"https://x\", \"signing\": \"none\"}");
    struct dh_event_view ev = event("ticket.created", "{\"a\": ");
    struct dh_outbound o;
    char err[256];
    (void)state;

    assert_int_equal(dh_format_build(e, &ev, "msg_1", NOW_S, &o, err, sizeof(err)),
                     DH_E_BAD_REQUEST);
    assert_non_null(strstr(err, "not JSON"));
    assert_null(o.body);
    assert_int_equal(o.nheaders, 0);

    ev = event("ticket.created", "{} {}");
    assert_int_equal(dh_format_build(e, &ev, "msg_1", NOW_S, &o, err, sizeof(err)),
                     DH_E_BAD_REQUEST);

    /* Nothing the caller passes can add a header. */
    ev = event("ticket.created", DOC);
    assert_int_equal(dh_format_build(e, &ev, "msg_1\r\nX-Evil: 1", NOW_S, &o, err, sizeof(err)),
                     DH_E_BAD_REQUEST);
    ev = event("ticket.created\nX-Evil: 1", DOC);
    assert_int_equal(dh_format_build(e, &ev, "msg_1", NOW_S, &o, err, sizeof(err)),
                     DH_E_BAD_REQUEST);
    assert_null(o.body);
    dh_endpoint_free(e);
}

static void test_slack_colors(void **state)
{
    (void)state;
    assert_string_equal(dh_format_slack_color("ticket.created"), "#2eb886");
    assert_string_equal(dh_format_slack_color("conversation.opened"), "#2eb886");
    assert_string_equal(dh_format_slack_color("ticket.updated"), "#439fe0");
    assert_string_equal(dh_format_slack_color("ticket.status.changed"), "#439fe0");
    assert_string_equal(dh_format_slack_color("ticket.resolved"), "#6b9e78");
    assert_string_equal(dh_format_slack_color("ticket.closed"), "#6b9e78");
    assert_string_equal(dh_format_slack_color("ticket.solved"), "#6b9e78");
    assert_string_equal(dh_format_slack_color("ticket.escalated"), "#e01e5a");
    assert_string_equal(dh_format_slack_color("delivery.failed"), "#e01e5a");
    assert_string_equal(dh_format_slack_color("ai.reply.rejected"), "#e01e5a");
    assert_string_equal(dh_format_slack_color("delivery.dead"), "#e01e5a");
    assert_string_equal(dh_format_slack_color("ai.requires_review"), "#ecb22e");
    assert_string_equal(dh_format_slack_color("quota.warning"), "#ecb22e");
    assert_string_equal(dh_format_slack_color("ai.reply.created"), "#8e44ad");
    assert_string_equal(dh_format_slack_color("feedback.received"), "#1aa3a3");
    assert_string_equal(dh_format_slack_color("note.added"), "#9e9e9e");
    assert_string_equal(dh_format_slack_color("created_at"), "#9e9e9e");
    assert_string_equal(dh_format_slack_color(""), "#9e9e9e");
}

static void test_slack(void **state)
{
    struct dh_endpoint *e = endpoint(
        "{\"name\": \"ops\", \"url\": \"https://hooks.slack.com/services/x\","
        " \"format\": \"slack\", \"event_names\": {\"ticket.escalated\": \"escalation\"}}");
    char doc[2048], longtext[601], err[256];
    struct dh_event_view ev;
    struct dh_outbound o;
    json_t *body, *att, *fields;
    json_error_t je;
    const char *text;
    (void)state;

    memset(longtext, 'a', 600);
    longtext[600] = '\0';
    snprintf(doc, sizeof(doc),
             "{\"id\":\"evt_1\",\"source\":\"zendesk\",\"type\":\"ticket.escalated\","
             "\"ticket\":{\"id\":\"5158\",\"subject\":\"Damaged <order> & more\","
             "\"status\":\"open\",\"priority\":\"high\",\"body\":\"%s\"},"
             "\"customer\":{\"id\":\"9\",\"email\":\"jane@example.com\"}}",
             longtext);
    ev = event("ticket.escalated", doc);
    assert_int_equal(dh_format_build(e, &ev, "msg_1", NOW_S, &o, err, sizeof(err)), 0);
    assert_int_equal(o.nheaders, 4); /* unsigned by default */
    assert_string_equal(header(&o, "X-Webhook-Event"), "escalation");

    body = json_loadb(o.body, o.len, 0, &je);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "text")),
                        "escalation: Damaged &lt;order&gt; &amp; more");
    assert_int_equal(json_array_size(json_object_get(body, "attachments")), 1);
    att = json_array_get(json_object_get(body, "attachments"), 0);
    assert_string_equal(json_string_value(json_object_get(att, "color")), "#e01e5a");
    assert_string_equal(json_string_value(json_object_get(att, "title")),
                        "Damaged &lt;order&gt; &amp; more");
    text = json_string_value(json_object_get(att, "text"));
    assert_int_equal(strlen(text), 300 + 3);
    assert_string_equal(text + 300, "\xE2\x80\xA6");
    assert_string_equal(json_string_value(json_object_get(att, "footer")), "deskhook");
    assert_int_equal(json_integer_value(json_object_get(att, "ts")), RECEIVED_MS / 1000);
    fields = json_object_get(att, "fields");
    assert_int_equal(json_array_size(fields), 5);
    {
        static const char *const want[][2] = {
            {"Ticket", "5158"}, {"Status", "open"}, {"Priority", "high"},
            {"Source", "zendesk"}, {"Customer", "jane@example.com"},
        };
        for (size_t i = 0; i < 5; i++) {
            json_t *f = json_array_get(fields, i);
            assert_string_equal(json_string_value(json_object_get(f, "title")), want[i][0]);
            assert_string_equal(json_string_value(json_object_get(f, "value")), want[i][1]);
            assert_true(json_is_true(json_object_get(f, "short")));
        }
    }
    json_decref(body);
    dh_outbound_clear(&o);

    /* A message event shows its message; no subject: the type is the title. */
    ev = event("conversation.message",
               "{\"ticket\":{\"id\":\"7\",\"number\":\"SUP-7\",\"body\":\"old\"},"
               "\"message\":{\"text\":\"Any update?\"}}");
    assert_int_equal(dh_format_build(e, &ev, "msg_2", NOW_S, &o, err, sizeof(err)), 0);
    body = json_loadb(o.body, o.len, 0, &je);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "text")), "conversation.message");
    att = json_array_get(json_object_get(body, "attachments"), 0);
    assert_string_equal(json_string_value(json_object_get(att, "title")), "conversation.message");
    assert_string_equal(json_string_value(json_object_get(att, "text")), "Any update?");
    assert_string_equal(json_string_value(json_object_get(att, "color")), "#9e9e9e");
    fields = json_object_get(att, "fields");
    assert_int_equal(json_array_size(fields), 2); /* Ticket and Source */
    assert_string_equal(json_string_value(json_object_get(json_array_get(fields, 0), "value")),
                        "SUP-7");
    json_decref(body);
    dh_outbound_clear(&o);
    dh_endpoint_free(e);
}

static void test_template(void **state)
{
    struct dh_endpoint *e = endpoint(
        "{\"name\": \"t\", \"url\": \"https://x\", \"format\": \"template\","
        " \"secrets\": [\"" WHSEC "\"],"
        " \"event_names\": {\"ticket.created\": \"new_ticket\"},"
        " \"template\": {\"kind\": \"{{event}}\", \"orig\": \"{{type}}\", \"at\": \"{{timestamp}}\","
        " \"ticket\": \"{{data.ticket}}\", \"n\": \"{{data.count}}\","
        " \"msg\": \"Ticket {{data.ticket.id}} from {{source}} ({{id}}, {{webhook_id}})\","
        " \"list\": [\"{{data.missing}}\", 1]}}");
    struct dh_event_view ev =
        event("ticket.created", "{\"ticket\":{\"id\":\"5158\"},\"count\":3}");
    struct dh_outbound o;
    char err[256], v1[100];
    (void)state;

    assert_int_equal(dh_format_build(e, &ev, "msg_9", NOW_S, &o, err, sizeof(err)), 0);
    assert_string_equal(o.body, "{\"kind\":\"new_ticket\",\"orig\":\"ticket.created\","
                                "\"at\":\"2024-01-15T10:30:00.000Z\",\"ticket\":{\"id\":\"5158\"},"
                                "\"n\":3,\"msg\":\"Ticket 5158 from zendesk (evt_1, msg_9)\","
                                "\"list\":[null,1]}");
    expected_v1(WHSEC, "msg_9", NOW_S, o.body, v1);
    assert_string_equal(header(&o, "webhook-signature"), v1);
    dh_outbound_clear(&o);
    dh_endpoint_free(e);
}

static void test_too_large(void **state)
{
    struct dh_endpoint *e = endpoint("{\"name\": \"crm\", \"url\": \"https://x\","
                                     " \"signing\": \"none\", \"max_payload\": \"100B\"}");
    struct dh_event_view ev = event("ticket.created", DOC);
    struct dh_outbound o;
    char err[256];
    (void)state;

    /* STANDARD_BODY is 110 bytes. */
    assert_int_equal(dh_format_build(e, &ev, "msg_1", NOW_S, &o, err, sizeof(err)),
                     DH_E_TOO_LARGE);
    assert_non_null(strstr(err, "max_payload"));
    assert_null(o.body);
    assert_int_equal(o.nheaders, 0);
    dh_endpoint_free(e);

    /* Exactly at the limit is fine. */
    e = endpoint("{\"name\": \"crm\", \"url\": \"https://x\", \"signing\": \"none\","
                 " \"max_payload\": \"110B\"}");
    assert_int_equal(strlen(STANDARD_BODY), 110);
    assert_int_equal(dh_format_build(e, &ev, "msg_1", NOW_S, &o, err, sizeof(err)), 0);
    dh_outbound_clear(&o);
    dh_endpoint_free(e);

    e = endpoint("{\"name\": \"s\", \"url\": \"https://x\", \"format\": \"slack\","
                 " \"max_payload\": \"50B\"}");
    assert_int_equal(dh_format_build(e, &ev, "msg_1", NOW_S, &o, err, sizeof(err)),
                     DH_E_TOO_LARGE);
    assert_null(o.body);
    dh_endpoint_free(e);

    e = endpoint("{\"name\": \"t\", \"url\": \"https://x\", \"format\": \"template\","
                 " \"signing\": \"none\", \"max_payload\": \"10B\","
                 " \"template\": {\"data\": \"{{data}}\"}}");
    assert_int_equal(dh_format_build(e, &ev, "msg_1", NOW_S, &o, err, sizeof(err)),
                     DH_E_TOO_LARGE);
    assert_null(o.body);
    dh_endpoint_free(e);
    dh_outbound_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_vector),
        cmocka_unit_test(test_standard),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_hex_and_basic),
        cmocka_unit_test(test_renamed_and_verbatim),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_slack_colors),
        cmocka_unit_test(test_slack),
        cmocka_unit_test(test_template),
        cmocka_unit_test(test_too_large),
    };
    if (dh_crypto_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
