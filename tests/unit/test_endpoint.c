/*
 * test_endpoint.c: endpoint definitions parse with their documented
 * defaults, every invalid key is reported (all of them at once), patterns
 * and sources select events, renames apply, the API view masks every
 * credential, and PATCH bodies merge as RFC 7386 says.
 */
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
#include "core/jsonx.h"
#include "delivery/backoff.h"
#include "delivery/endpoint.h"

#define WHSEC "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define WHSEC2 "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM="

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    if (v == NULL)
        fail_msg("bad test JSON (%s): %s", je.text, text);
    return v;
}

/* Parses text, which must be valid. */
static struct dh_endpoint *parse_ok(const char *text, const char *id, int from_config)
{
    char err[1024];
    json_t *spec = load(text);
    struct dh_endpoint *e = NULL;
    int rc = dh_endpoint_parse(spec, id, from_config, &e, err, sizeof(err));

    json_decref(spec);
    if (rc != 0)
        fail_msg("%s: unexpected problems: %s", text, err);
    assert_non_null(e);
    assert_string_equal(err, "");
    return e;
}

/* Parses text, which must be refused; returns the problems in err. */
static void parse_bad(const char *text, char *err, size_t errlen)
{
    json_t *spec = load(text);
    struct dh_endpoint *e = (struct dh_endpoint *)1;
    int rc = dh_endpoint_parse(spec, NULL, 1, &e, err, errlen);

    json_decref(spec);
    if (rc != DH_E_BAD_REQUEST)
        fail_msg("%s: parsed (rc %d), expected a problem", text, rc);
    assert_null(e);
    if (errlen > 0)
        assert_non_null(memchr(err, '\0', errlen));
}

static void test_defaults(void **state)
{
    struct dh_endpoint *e =
        parse_ok("{\"name\": \"crm\", \"url\": \"https://crm.example.com/hooks\","
                 " \"secrets\": [\"" WHSEC "\"]}",
                 NULL, 1);
    (void)state;
    assert_string_equal(e->id, "crm");
    assert_string_equal(e->name, "crm");
    assert_int_equal(e->from_config, 1);
    assert_string_equal(e->url, "https://crm.example.com/hooks");
    assert_string_equal(e->method, "POST");
    assert_null(e->bearer);
    assert_null(e->basic);
    assert_int_equal(e->nheaders, 0);
    assert_int_equal(e->nevents, 1);
    assert_string_equal(e->events[0], "*");
    assert_null(e->sources);
    assert_int_equal(e->signing, DH_SIGN_STANDARD);
    assert_int_equal(e->nsecrets, 1);
    assert_int_equal(e->secrets[0].len, 24); /* base64 decoded */
    assert_int_equal(e->format, DH_FORMAT_STANDARD);
    assert_null(e->tmpl);
    assert_int_equal(e->timeout_ms, 30000);
    assert_int_equal(e->nschedule, dh_backoff_default_len);
    assert_memory_equal(e->schedule_ms, dh_backoff_default_schedule,
                        dh_backoff_default_len * sizeof(uint64_t));
    assert_int_equal(e->max_attempts, dh_backoff_default_len);
    assert_int_equal(e->nrenames, 0);
    assert_int_equal(e->max_in_flight, 100);
    assert_true(e->rate == 0);
    assert_int_equal(e->active, 1);
    assert_int_equal(e->nallow, 0);
    assert_int_equal(e->follow_redirects, 0);
    assert_int_equal(e->pause_on_gone, 1);
    assert_int_equal(e->breaker_failures, 5);
    assert_int_equal(e->breaker_cooldown_ms, 30000);
    assert_int_equal(e->max_payload, 1024 * 1024);
    assert_non_null(e->spec);
    assert_string_equal(json_string_value(json_array_get(json_object_get(e->spec, "secrets"), 0)),
                        WHSEC);
    dh_endpoint_free(e);

    /* An API endpoint keeps the id it is given. */
    e = parse_ok("{\"name\": \"crm\", \"url\": \"http://crm\", \"signing\": \"none\"}",
                 "ep_0123", 0);
    assert_string_equal(e->id, "ep_0123");
    assert_int_equal(e->from_config, 0);
    assert_int_equal(e->nsecrets, 0);
    dh_endpoint_free(e);

    /* Slack's incoming webhooks check nothing: no signing by default. */
    e = parse_ok("{\"name\": \"ops\", \"url\": \"https://hooks.slack.com/services/x\","
                 " \"format\": \"slack\"}",
                 NULL, 1);
    assert_int_equal(e->format, DH_FORMAT_SLACK);
    assert_int_equal(e->signing, DH_SIGN_NONE);
    dh_endpoint_free(e);

    /* null stands for "not given". */
    e = parse_ok("{\"name\": \"n\", \"url\": \"https://x\", \"signing\": \"none\","
                 " \"method\": null, \"events\": null, \"timeout\": null}",
                 NULL, 1);
    assert_string_equal(e->method, "POST");
    assert_string_equal(e->events[0], "*");
    assert_int_equal(e->timeout_ms, 30000);
    dh_endpoint_free(e);
}

static void test_every_key(void **state)
{
    struct dh_endpoint *e = parse_ok(
        "{\"name\": \"crm-2_b\", \"url\": \"HTTPS://crm.example.com/h?x=1\", \"method\": \"put\","
        " \"auth\": {\"bearer\": \"tok\", \"headers\": {\"X-Api-Key\": \"k1\", \"X-Other\": \"\"}},"
        " \"events\": [\"ticket.*\", \"note.added\"], \"sources\": [\"freshdesk\", \"zendesk\"],"
        " \"signing\": \"standard-webhooks\", \"secrets\": [\"" WHSEC "\", \"" WHSEC2 "\"],"
        " \"format\": \"template\", \"template\": {\"t\": \"{{event}}\"},"
        " \"timeout\": \"1.5s\", \"retry\": {\"schedule\": [\"0s\", \"1s\", \"1m\"]},"
        " \"event_names\": {\"ticket.created\": \"conversation.added\"},"
        " \"max_in_flight\": 7, \"rate\": 2.5, \"active\": false,"
        " \"allow_private\": [\"127.0.0.0/8\", \"::1\"], \"follow_redirects\": true,"
        " \"pause_on_gone\": false, \"breaker\": {\"failures\": 3, \"cooldown\": \"2m\"},"
        " \"max_payload\": \"64KiB\"}",
        NULL, 0);
    (void)state;
    assert_string_equal(e->name, "crm-2_b");
    assert_string_equal(e->method, "PUT");
    assert_string_equal(e->bearer, "tok");
    assert_int_equal(e->nheaders, 2);
    assert_string_equal(e->header_names[0], "X-Api-Key");
    assert_string_equal(e->header_values[0], "k1");
    assert_string_equal(e->header_values[1], "");
    assert_int_equal(e->nevents, 2);
    assert_int_equal(e->nsources, 2);
    assert_string_equal(e->sources[1], "zendesk");
    assert_int_equal(e->nsecrets, 2);
    assert_int_equal(e->secrets[1].len, 20);
    assert_memory_equal(e->secrets[1].key, "0123456789abcdef0123", 20);
    assert_int_equal(e->format, DH_FORMAT_TEMPLATE);
    assert_true(json_is_object(e->tmpl));
    assert_int_equal(e->timeout_ms, 1500);
    assert_int_equal(e->nschedule, 3);
    assert_int_equal(e->schedule_ms[2], 60000);
    assert_int_equal(e->max_attempts, 3); /* the schedule's length */
    assert_int_equal(e->nrenames, 1);
    assert_int_equal(e->max_in_flight, 7);
    assert_true(e->rate == 2.5);
    assert_int_equal(e->active, 0);
    assert_int_equal(e->nallow, 2);
    assert_true(dh_cidr_match_str(e->allow_private, e->nallow, "127.0.0.9"));
    assert_true(dh_cidr_match_str(e->allow_private, e->nallow, "::1"));
    assert_false(dh_cidr_match_str(e->allow_private, e->nallow, "10.0.0.1"));
    assert_int_equal(e->follow_redirects, 1);
    assert_int_equal(e->pause_on_gone, 0);
    assert_int_equal(e->breaker_failures, 3);
    assert_int_equal(e->breaker_cooldown_ms, 120000);
    assert_int_equal(e->max_payload, 65536);
    dh_endpoint_free(e);

    e = parse_ok("{\"name\": \"b\", \"url\": \"https://x\", \"signing\": \"hex\","
                 " \"secrets\": [\"hex-secret\"], \"auth\": {\"basic\": {\"username\": \"u\","
                 " \"password\": \"p:w\"}}, \"retry\": {\"max_attempts\": 20}}",
                 NULL, 1);
    assert_int_equal(e->signing, DH_SIGN_HEX);
    assert_int_equal(e->secrets[0].len, 10);
    assert_memory_equal(e->secrets[0].key, "hex-secret", 10);
    assert_string_equal(e->basic, "u:p:w");
    assert_int_equal(e->max_attempts, 20);
    assert_int_equal(e->nschedule, dh_backoff_default_len);
    dh_endpoint_free(e);
}

/* Each invalid definition, and a piece of the message it must produce. */
static const struct {
    const char *spec;
    const char *problem;
} invalid[] = {
#define OK_ "\"name\": \"e\", \"url\": \"https://x\", \"signing\": \"none\""
    {"[1]", "endpoint: must be a JSON object"},
    {"{" OK_ ", \"bogus\": 1}", "bogus: unknown key"},
    {"{" OK_ ", \"ur\\u0001l\": 1}", "ur?l: unknown key"},
    {"{\"url\": \"https://x\", \"signing\": \"none\"}", "name: required"},
    {"{\"name\": \"CRM\", \"url\": \"https://x\", \"signing\": \"none\"}",
     "name: must be 1 to 64 of a-z, 0-9, - and _"},
    {"{\"name\": \"a b\", \"url\": \"https://x\", \"signing\": \"none\"}",
     "name: must be 1 to 64 of a-z"},
    {"{\"name\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
     " \"url\": \"https://x\", \"signing\": \"none\"}",
     "name: must be 1 to 64"},
    {"{\"name\": 5, \"url\": \"https://x\", \"signing\": \"none\"}", "name: must be a string"},
    {"{\"name\": \"\", \"url\": \"https://x\", \"signing\": \"none\"}", "name: must not be empty"},
    {"{\"name\": \"e\", \"signing\": \"none\"}", "url: required"},
    {"{\"name\": \"e\", \"url\": \"ftp://x\", \"signing\": \"none\"}",
     "url: must start with http:// or https://"},
    {"{\"name\": \"e\", \"url\": \"https:///path\", \"signing\": \"none\"}", "url: has no host"},
    {"{\"name\": \"e\", \"url\": \"https://u:p@x/\", \"signing\": \"none\"}",
     "url: must not contain a user or password (use auth.basic)"},
    {"{\"name\": \"e\", \"url\": \"https://x/a b\", \"signing\": \"none\"}",
     "url: must not contain spaces or control characters"},
    {"{" OK_ ", \"method\": \"GET\"}", "method: must be POST, PUT or PATCH"},
    {"{" OK_ ", \"method\": \"POSTPOSTPOST\"}", "method: must be POST, PUT or PATCH"},
    {"{" OK_ ", \"auth\": \"token\"}", "auth: must be an object with bearer, basic or headers"},
    {"{" OK_ ", \"auth\": {\"token\": \"x\"}}", "auth: unknown key \"token\""},
    {"{" OK_ ", \"auth\": {\"bearer\": \"x\", \"basic\": {\"username\": \"u\", \"password\": "
     "\"p\"}}}",
     "auth: bearer and basic cannot both be set"},
    {"{" OK_ ", \"auth\": {\"bearer\": \"\"}}", "auth.bearer: must not be empty"},
    {"{" OK_ ", \"auth\": {\"bearer\": \"a\\r\\nX-Evil: 1\"}}",
     "auth.bearer: must not contain control characters"},
    {"{" OK_ ", \"auth\": {\"basic\": \"u:p\"}}", "auth.basic: must be an object"},
    {"{" OK_ ", \"auth\": {\"basic\": {\"username\": \"u\"}}}", "auth.basic.password: required"},
    {"{" OK_ ", \"auth\": {\"basic\": {\"password\": \"p\"}}}", "auth.basic.username: required"},
    {"{" OK_ ", \"auth\": {\"basic\": {\"username\": \"u:v\", \"password\": \"p\"}}}",
     "auth.basic.username: must not contain ':'"},
    {"{" OK_ ", \"auth\": {\"basic\": {\"username\": \"u\", \"password\": \"p\", \"x\": 1}}}",
     "auth.basic: unknown key \"x\""},
    {"{" OK_ ", \"auth\": {\"headers\": [\"X-A: b\"]}}",
     "auth.headers: must be an object of header names and values"},
    {"{" OK_ ", \"auth\": {\"headers\": {\"Bad Name\": \"v\"}}}",
     "auth.headers: \"Bad Name\" is not a valid header name"},
    {"{" OK_ ", \"auth\": {\"headers\": {\"content-length\": \"5\"}}}",
     "auth.headers.content-length: is set by deskhook and cannot be replaced"},
    {"{" OK_ ", \"auth\": {\"headers\": {\"webhook-signature\": \"v1,x\"}}}",
     "auth.headers.webhook-signature: is set by deskhook"},
    {"{" OK_ ", \"auth\": {\"headers\": {\"X-A\": \"a\\nb\"}}}",
     "auth.headers.X-A: must not contain control characters"},
    {"{" OK_ ", \"auth\": {\"headers\": {\"X-A\": 5}}}", "auth.headers.X-A: must be a string"},
    {"{" OK_ ", \"auth\": {\"bearer\": \"t\", \"headers\": {\"Authorization\": \"x\"}}}",
     "auth.headers.Authorization: conflicts with auth.bearer, which sets it"},
    {"{" OK_ ", \"events\": \"ticket.*\"}", "events: must be a list of an event type"},
    {"{" OK_ ", \"events\": []}", "events: must not be empty"},
    {"{" OK_ ", \"events\": [\"tick*\"]}",
     "events: \"tick*\" is not an event type, \"*\" or \"prefix.*\""},
    {"{" OK_ ", \"events\": [\".*\"]}", "events: \".*\" is not an event type"},
    {"{" OK_ ", \"events\": [\"a.*.b\"]}", "events: \"a.*.b\" is not an event type"},
    {"{" OK_ ", \"events\": [\"ticket created\"]}", "events: \"ticket created\" is not"},
    {"{" OK_ ", \"events\": [3]}", "events: item 1 is not a string"},
    {"{" OK_ ", \"sources\": []}", "sources: must not be empty"},
    {"{" OK_ ", \"sources\": [\"\"]}", "sources: \"\" is not a source name"},
    {"{\"name\": \"e\", \"url\": \"https://x\", \"signing\": \"rsa\"}",
     "signing: must be standard-webhooks, hex or none"},
    {"{\"name\": \"e\", \"url\": \"https://x\"}",
     "secrets: signing standard-webhooks needs at least one whsec_ secret (make one with "
     "`deskhook secret --scheme standard-webhooks`)"},
    {"{\"name\": \"e\", \"url\": \"https://x\", \"secrets\": []}",
     "secrets: signing standard-webhooks needs at least one whsec_ secret"},
    {"{\"name\": \"e\", \"url\": \"https://x\", \"secrets\": [\"" WHSEC "\", \"plain\"]}",
     "secrets: item 2 is not a whsec_<base64> secret (make one with `deskhook secret"},
    {"{\"name\": \"e\", \"url\": \"https://x\", \"secrets\": [\"whsec_!!!\"]}",
     "secrets: item 1 is not a whsec_<base64> secret"},
    {"{\"name\": \"e\", \"url\": \"https://x\", \"secrets\": \"" WHSEC "\"}",
     "secrets: must be a list of strings"},
    {"{\"name\": \"e\", \"url\": \"https://x\", \"secrets\": [7]}",
     "secrets: item 1 must be a string"},
    {"{\"name\": \"e\", \"url\": \"https://x\", \"signing\": \"hex\"}",
     "secrets: signing hex needs at least one secret"},
    {"{\"name\": \"e\", \"url\": \"https://x\", \"signing\": \"hex\", \"secrets\": [\"\"]}",
     "secrets: item 1 is empty"},
    {"{\"name\": \"e\", \"url\": \"https://x\", \"format\": \"slack\", "
     "\"signing\": \"standard-webhooks\"}",
     "secrets: signing standard-webhooks needs at least one whsec_ secret"},
    {"{" OK_ ", \"format\": \"xml\"}", "format: must be standard, slack or template"},
    {"{" OK_ ", \"format\": \"template\"}", "template: required with format: template"},
    {"{" OK_ ", \"format\": \"template\", \"template\": \"{{event}}\"}",
     "template: must be a JSON object or array"},
    {"{" OK_ ", \"template\": {\"a\": 1}}", "template: only used with format: template"},
    {"{" OK_ ", \"timeout\": 30}", "timeout: must be a duration with a unit, such as \"30s\""},
    {"{" OK_ ", \"timeout\": \"30\"}", "timeout: "},
    {"{" OK_ ", \"timeout\": \"50ms\"}", "timeout: must be between 100ms and 15m"},
    {"{" OK_ ", \"timeout\": \"16m\"}", "timeout: must be between 100ms and 15m"},
    {"{" OK_ ", \"retry\": [\"1s\"]}", "retry: must be an object {schedule, max_attempts}"},
    {"{" OK_ ", \"retry\": {\"attempts\": 3}}", "retry: unknown key \"attempts\""},
    {"{" OK_ ", \"retry\": {\"schedule\": []}}",
     "retry.schedule: must be a list of 1 to 50 durations"},
    {"{" OK_ ", \"retry\": {\"schedule\": \"5s\"}}",
     "retry.schedule: must be a list of 1 to 50 durations"},
    {"{" OK_ ", \"retry\": {\"schedule\": [\"1s\", \"5x\"]}}", "retry.schedule[1]: "},
    {"{" OK_ ", \"retry\": {\"schedule\": [\"1s\", 5]}}",
     "retry.schedule[1]: must be a duration with a unit"},
    {"{" OK_ ", \"retry\": {\"schedule\": [\"8d\"]}}", "retry.schedule[0]: must be between 0s and 7d"},
    {"{" OK_ ", \"retry\": {\"max_attempts\": 0}}",
     "retry.max_attempts: must be a whole number from 1 to 1000"},
    {"{" OK_ ", \"retry\": {\"max_attempts\": 1001}}",
     "retry.max_attempts: must be a whole number from 1 to 1000"},
    {"{" OK_ ", \"retry\": {\"max_attempts\": \"3\"}}",
     "retry.max_attempts: must be a whole number"},
    {"{" OK_ ", \"event_names\": [\"a\"]}", "event_names: must be an object {our type: their name}"},
    {"{" OK_ ", \"event_names\": {\"ticket created\": \"x\"}}",
     "event_names: \"ticket created\" is not an event type"},
    {"{" OK_ ", \"event_names\": {\"ticket.created\": \"\"}}",
     "event_names: the name for ticket.created, \"\", must be 1 to 64 of A-Z a-z 0-9 . _ : -"},
    {"{" OK_ ", \"event_names\": {\"ticket.created\": \"a b\"}}",
     "event_names: the name for ticket.created, \"a b\", must be 1 to 64"},
    {"{" OK_ ", \"event_names\": {\"ticket.created\": 5}}",
     "event_names: the name for ticket.created must be a string"},
    {"{" OK_ ", \"max_in_flight\": 0}", "max_in_flight: must be a whole number from 1 to 10000"},
    {"{" OK_ ", \"max_in_flight\": 10001}", "max_in_flight: must be a whole number from 1 to 10000"},
    {"{" OK_ ", \"max_in_flight\": 2.5}", "max_in_flight: must be a whole number"},
    {"{" OK_ ", \"rate\": -1}", "rate: must be a number of requests per second, 0 for no limit"},
    {"{" OK_ ", \"rate\": \"5/s\"}", "rate: must be a number of requests per second"},
    {"{" OK_ ", \"active\": \"yes\"}", "active: must be true or false"},
    {"{" OK_ ", \"follow_redirects\": 1}", "follow_redirects: must be true or false"},
    {"{" OK_ ", \"pause_on_gone\": \"no\"}", "pause_on_gone: must be true or false"},
    {"{" OK_ ", \"allow_private\": \"10.0.0.0/8\"}",
     "allow_private: must be a list of an address or CIDR range"},
    {"{" OK_ ", \"allow_private\": [\"10.0.0.0/33\"]}",
     "allow_private: \"10.0.0.0/33\" is not an address or CIDR range"},
    {"{" OK_ ", \"breaker\": 5}", "breaker: must be an object {failures, cooldown}"},
    {"{" OK_ ", \"breaker\": {\"failures\": 0}}",
     "breaker.failures: must be a whole number from 1 to 1000"},
    {"{" OK_ ", \"breaker\": {\"cooldown\": \"0s\"}}",
     "breaker.cooldown: must be between 100ms and 1d"},
    {"{" OK_ ", \"breaker\": {\"open\": 1}}", "breaker: unknown key \"open\""},
    {"{" OK_ ", \"max_payload\": 1024}", "max_payload: must be a size with a unit, such as \"1MiB\""},
    {"{" OK_ ", \"max_payload\": \"65MiB\"}", "max_payload: must be between 1B and 64MiB"},
    {"{" OK_ ", \"max_payload\": \"0B\"}", "max_payload: must be between 1B and 64MiB"},
    {"{" OK_ ", \"max_payload\": \"10kb\"}", "max_payload: "},
#undef OK_
};

static void test_every_problem(void **state)
{
    char err[1024];
    (void)state;
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        memset(err, 'x', sizeof(err));
        parse_bad(invalid[i].spec, err, sizeof(err));
        if (strstr(err, invalid[i].problem) == NULL)
            fail_msg("%s\n  expected: %s\n  got:      %s", invalid[i].spec, invalid[i].problem,
                     err);
        /* One problem, on one line. */
        if (strchr(err, '\n') != NULL)
            fail_msg("%s: a message on several lines: %s", invalid[i].spec, err);
    }
}

static void test_all_problems_at_once(void **state)
{
    char err[1024];
    const char *p;
    int seps = 0;
    (void)state;

    parse_bad("{\"name\": \"Bad!\", \"url\": \"gopher://x\", \"method\": \"GET\", \"extra\": 1,"
              " \"timeout\": \"1ms\", \"signing\": \"hex\", \"breaker\": {\"failures\": -1}}",
              err, sizeof(err));
    assert_non_null(strstr(err, "extra: unknown key"));
    assert_non_null(strstr(err, "name: must be"));
    assert_non_null(strstr(err, "url: must start with http:// or https://"));
    assert_non_null(strstr(err, "method: must be POST, PUT or PATCH"));
    assert_non_null(strstr(err, "timeout: must be between"));
    assert_non_null(strstr(err, "secrets: signing hex needs at least one secret"));
    assert_non_null(strstr(err, "breaker.failures: must be"));
    for (p = err; (p = strstr(p, "; ")) != NULL; p += 2)
        seps++;
    assert_int_equal(seps, 6);
    assert_null(strstr(err, ";;"));
    assert_true(err[strlen(err) - 1] != ' ');

    /* A short buffer is cut, terminated, and the answer is still "no". */
    memset(err, 'x', sizeof(err));
    parse_bad("{\"name\": \"Bad!\", \"url\": \"gopher://x\"}", err, 12);
    assert_int_equal(strlen(err), 11);
    parse_bad("{\"name\": \"Bad!\"}", NULL, 0);
}

static void test_no_secret_in_messages(void **state)
{
    char err[1024];
    (void)state;

    parse_bad("{\"name\": \"e\", \"url\": \"https://x\", \"secrets\": [\"sekrit-value-1\"],"
              " \"auth\": {\"bearer\": \"sekrit\\u0001token\","
              " \"basic\": {\"username\": \"u\", \"password\": \"sekrit\\npass\"},"
              " \"headers\": {\"X-Key\": \"sekrit\\rkey\"}}}",
              err, sizeof(err));
    assert_null(strstr(err, "sekrit"));
    assert_non_null(strstr(err, "secrets: item 1"));
    assert_non_null(strstr(err, "auth.bearer:"));
    assert_non_null(strstr(err, "auth.basic.password:"));
    assert_non_null(strstr(err, "auth.headers.X-Key:"));
}

static void test_patterns(void **state)
{
    (void)state;
    assert_true(dh_endpoint_pattern_match("*", "ticket.created"));
    assert_true(dh_endpoint_pattern_match("*", "x"));
    assert_true(dh_endpoint_pattern_match("ticket.*", "ticket.created"));
    assert_true(dh_endpoint_pattern_match("ticket.*", "ticket.status.changed"));
    assert_false(dh_endpoint_pattern_match("ticket.*", "ticket"));
    assert_false(dh_endpoint_pattern_match("ticket.*", "ticket."));
    assert_false(dh_endpoint_pattern_match("ticket.*", "tickets.created"));
    assert_false(dh_endpoint_pattern_match("ticket.*", "note.added"));
    assert_true(dh_endpoint_pattern_match("note.added", "note.added"));
    assert_false(dh_endpoint_pattern_match("note.added", "note.added.x"));
    assert_false(dh_endpoint_pattern_match("note.added", "note"));
    assert_true(dh_endpoint_pattern_match("ticket.status.*", "ticket.status.changed"));
    assert_false(dh_endpoint_pattern_match("ticket.status.*", "ticket.created"));
}

static void test_matches(void **state)
{
    struct dh_endpoint *e;
    (void)state;

    e = parse_ok("{\"name\": \"a\", \"url\": \"https://x\", \"signing\": \"none\","
                 " \"events\": [\"ticket.*\", \"feedback.received\"]}",
                 NULL, 1);
    assert_true(dh_endpoint_matches(e, "zendesk", "ticket.created"));
    assert_true(dh_endpoint_matches(e, "anything", "feedback.received"));
    assert_false(dh_endpoint_matches(e, "zendesk", "note.added"));
    dh_endpoint_free(e);

    /* Sources filter; without them every source counts. */
    e = parse_ok("{\"name\": \"a\", \"url\": \"https://x\", \"signing\": \"none\","
                 " \"sources\": [\"freshdesk\", \"jira\"]}",
                 NULL, 1);
    assert_true(dh_endpoint_matches(e, "freshdesk", "ticket.created"));
    assert_true(dh_endpoint_matches(e, "jira", "note.added"));
    assert_false(dh_endpoint_matches(e, "zendesk", "ticket.created"));
    assert_false(dh_endpoint_matches(e, "fresh", "ticket.created"));
    dh_endpoint_free(e);

    /* An inactive endpoint matches nothing. */
    e = parse_ok("{\"name\": \"a\", \"url\": \"https://x\", \"signing\": \"none\","
                 " \"active\": false}",
                 NULL, 1);
    assert_false(dh_endpoint_matches(e, "zendesk", "ticket.created"));
    dh_endpoint_free(e);
}

static void test_renames(void **state)
{
    struct dh_endpoint *e =
        parse_ok("{\"name\": \"a\", \"url\": \"https://x\", \"signing\": \"none\","
                 " \"event_names\": {\"ticket.created\": \"conversation.added\","
                 " \"note.added\": \"Note:Added\"}}",
                 NULL, 1);
    (void)state;
    assert_int_equal(e->nrenames, 2);
    assert_string_equal(dh_endpoint_event_name(e, "ticket.created"), "conversation.added");
    assert_string_equal(dh_endpoint_event_name(e, "note.added"), "Note:Added");
    assert_string_equal(dh_endpoint_event_name(e, "ticket.updated"), "ticket.updated");
    dh_endpoint_free(e);
}

static void test_to_json_masks(void **state)
{
    struct dh_endpoint *e = parse_ok(
        "{\"url\": \"https://x/h\", \"name\": \"crm\", \"secrets\": [\"" WHSEC "\", \"" WHSEC2 "\"],"
        " \"auth\": {\"basic\": {\"username\": \"user1\", \"password\": \"pw-1\"},"
        " \"headers\": {\"X-Api-Key\": \"key-1\", \"X-Tenant\": \"t-1\"}},"
        " \"events\": [\"ticket.*\"]}",
        NULL, 0);
    json_t *j, *auth;
    char *text;
    (void)state;

    j = dh_endpoint_to_json(e);
    text = dh_json_dump(j);
    assert_null(strstr(text, "MfKQ9r8"));
    assert_null(strstr(text, "MDEyMzQ1"));
    assert_null(strstr(text, "pw-1"));
    assert_null(strstr(text, "key-1"));
    assert_null(strstr(text, "t-1"));
    /* id, name and origin come first. */
    assert_int_equal(strncmp(text, "{\"id\":\"crm\",\"name\":\"crm\",\"origin\":\"api\",", 40), 0);
    free(text);

    assert_string_equal(json_string_value(json_object_get(j, "url")), "https://x/h");
    assert_int_equal(json_array_size(json_object_get(j, "secrets")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "secrets"), 1)),
                        "********");
    auth = json_object_get(j, "auth");
    assert_string_equal(json_string_value(json_object_get(json_object_get(auth, "basic"),
                                                          "username")),
                        "user1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(auth, "basic"),
                                                          "password")),
                        "********");
    assert_string_equal(json_string_value(json_object_get(json_object_get(auth, "headers"),
                                                          "X-Api-Key")),
                        "********");
    assert_string_equal(json_string_value(json_object_get(json_object_get(auth, "headers"),
                                                          "X-Tenant")),
                        "********");
    json_decref(j);

    /* The stored definition keeps the real values. */
    assert_string_equal(json_string_value(json_array_get(json_object_get(e->spec, "secrets"), 0)),
                        WHSEC);
    dh_endpoint_free(e);

    e = parse_ok("{\"name\": \"c\", \"url\": \"https://x\", \"signing\": \"none\","
                 " \"auth\": {\"bearer\": \"bearer-tok\"}}",
                 NULL, 1);
    j = dh_endpoint_to_json(e);
    text = dh_json_dump(j);
    assert_null(strstr(text, "bearer-tok"));
    assert_non_null(strstr(text, "\"bearer\":\"********\""));
    assert_non_null(strstr(text, "\"origin\":\"config\""));
    assert_non_null(strstr(text, "\"id\":\"c\""));
    free(text);
    json_decref(j);
    dh_endpoint_free(e);
}

/* merge(target, patch) == expected, all as JSON text. */
static void merge_case(const char *target, const char *patch, const char *expected)
{
    json_t *t = load(target), *p = load(patch), *x = load(expected);
    json_t *m = dh_endpoint_merge(t, p);
    json_t *t2 = load(target), *p2 = load(patch);

    if (!json_equal(m, x)) {
        char *mt = dh_json_dump(m);
        fail_msg("merge(%s, %s) = %s, expected %s", target, patch, mt, expected);
    }
    /* The inputs are left alone. */
    assert_true(json_equal(t, t2));
    assert_true(json_equal(p, p2));
    json_decref(t2);
    json_decref(p2);
    json_decref(m);
    json_decref(t);
    json_decref(p);
    json_decref(x);
}

static void test_merge(void **state)
{
    (void)state;
    /* The examples of RFC 7386, appendix A. */
    merge_case("{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    merge_case("{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}");
    merge_case("{\"a\":\"b\"}", "{\"a\":null}", "{}");
    merge_case("{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}");
    merge_case("{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    merge_case("{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}");
    merge_case("{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}");
    merge_case("{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}");
    merge_case("[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]");
    merge_case("{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]");
    merge_case("{\"a\":\"foo\"}", "null", "null");
    merge_case("{\"a\":\"foo\"}", "\"bar\"", "\"bar\"");
    merge_case("{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}");
    merge_case("[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}");
    merge_case("{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}");
}

static void test_merge_then_parse(void **state)
{
    json_t *spec = load("{\"name\": \"crm\", \"url\": \"https://x\", \"signing\": \"none\","
                        " \"retry\": {\"schedule\": [\"1s\"], \"max_attempts\": 4},"
                        " \"active\": true}");
    json_t *patch = load("{\"active\": false, \"retry\": {\"max_attempts\": null},"
                         " \"events\": [\"ticket.*\"]}");
    json_t *merged = dh_endpoint_merge(spec, patch);
    struct dh_endpoint *e = NULL;
    char err[256];
    (void)state;

    assert_int_equal(dh_endpoint_parse(merged, "ep_1", 0, &e, err, sizeof(err)), 0);
    assert_int_equal(e->active, 0);
    assert_int_equal(e->nschedule, 1);
    assert_int_equal(e->max_attempts, 1); /* back to the schedule's length */
    assert_string_equal(e->events[0], "ticket.*");
    dh_endpoint_free(e);
    json_decref(merged);
    json_decref(patch);

    /* A patch can break a definition; the parse says how. */
    patch = load("{\"url\": null}");
    merged = dh_endpoint_merge(spec, patch);
    assert_int_equal(dh_endpoint_parse(merged, "ep_1", 0, &e, err, sizeof(err)),
                     DH_E_BAD_REQUEST);
    assert_string_equal(err, "url: required");
    json_decref(merged);
    json_decref(patch);
    json_decref(spec);
    dh_endpoint_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_every_problem),
        cmocka_unit_test(test_all_problems_at_once),
        cmocka_unit_test(test_no_secret_in_messages),
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_matches),
        cmocka_unit_test(test_renames),
        cmocka_unit_test(test_to_json_masks),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_merge_then_parse),
    };
    if (dh_crypto_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
