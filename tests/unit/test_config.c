/*
 * test_config.c: loading configuration files the way users write them, and
 * the FILE:LINE messages they get when something is wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <unistd.h>

#include "config/config.h"
#include "config/yamltree.h"
#include "core/error.h"


/* The path of the last file written by load(), for FILE:LINE checks. */
static char cfg_path[64];

static void write_file(const char *text)
{
    int fd;
    size_t len = strlen(text);

    snprintf(cfg_path, sizeof(cfg_path), "/tmp/dh_test_config_XXXXXX");
    fd = mkstemp(cfg_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

/* Writes text to a temporary file and loads it. */
static int load(const char *text, struct dh_config **out, struct dh_errlist *el)
{
    int rc;

    write_file(text);
    rc = dh_config_load(cfg_path, out, el);
    unlink(cfg_path);
    return rc;
}

static void dump_errors(const struct dh_errlist *el)
{
    for (size_t i = 0; i < el->n; i++)
        print_error("  %s\n", el->lines[i]);
}

/* Loads text, which must fail with exactly nerr problems; the first must
 * be at line and contain want. The partial config handed out on
 * DH_E_CONFIG (if any) is freed. */
static void expect_errors(const char *text, size_t nerr, int line, const char *want)
{
    struct dh_config *c = NULL;
    struct dh_errlist el = {0};
    char prefix[96];
    int rc = load(text, &c, &el);

    dh_config_free(c);
    if (rc != DH_E_CONFIG || el.n != nerr) {
        dump_errors(&el);
        fail_msg("rc %d with %zu errors, wanted DH_E_CONFIG with %zu", rc, el.n, nerr);
    }
    snprintf(prefix, sizeof(prefix), "%s:%d: ", cfg_path, line);
    if (strncmp(el.lines[0], prefix, strlen(prefix)) != 0 || strstr(el.lines[0], want) == NULL) {
        dump_errors(&el);
        fail_msg("wanted \"%s...%s\"", prefix, want);
    }
    dh_errlist_free(&el);
}

/* Loads text, which must succeed without any message. */
static struct dh_config *expect_ok(const char *text)
{
    struct dh_config *c = NULL;
    struct dh_errlist el = {0};
    int rc = load(text, &c, &el);

    if (rc != 0 || el.n != 0) {
        dump_errors(&el);
        fail_msg("rc %d with %zu errors, wanted a clean load", rc, el.n);
    }
    assert_non_null(c);
    return c;
}

/* Reads the repository's examples/demo.yaml. The compiler ran in the build
 * directory, so __FILE__ leads back to the source tree from there; tests
 * also run from the build directory or the source root. */
static char *read_demo(void)
{
    char path[512];
    const char *slash = strrchr(__FILE__, '/');
    int dirlen = slash ? (int)(slash - __FILE__) : 1;
    const char *tries[3] = {path, "examples/demo.yaml", "../examples/demo.yaml"};
    FILE *f = NULL;
    char *buf;
    long n;

    snprintf(path, sizeof(path), "%.*s/../../examples/demo.yaml", dirlen,
             slash ? __FILE__ : ".");
    for (int i = 0; i < 3 && f == NULL; i++)
        f = fopen(tries[i], "rb");
    if (f == NULL)
        fail_msg("cannot find examples/demo.yaml (tried %s)", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_demo_config(void **state)
{
    char *text = read_demo();
    struct dh_config *c;
    const struct dh_config_source *s;
    (void)state;

    setenv("DESKHOOK_ADMIN_TOKEN", "admin-from-env", 1);
    setenv("FD_SECRET", "fd-from-env", 1);
    setenv("CUSTOM_TOKEN", "custom-from-env", 1);
    c = expect_ok(text);

    assert_string_equal(c->file, cfg_path);
    assert_string_equal(c->listen, "127.0.0.1:8080");
    assert_string_equal(c->admin_listen, "127.0.0.1:8081");
    assert_string_equal(c->admin_token, "admin-from-env");
    assert_string_equal(c->store, "sqlite:deskhook.db");
    assert_int_equal(c->dedupe_window_ms, 24 * 3600 * 1000);
    assert_string_equal(c->log_level, "info");
    assert_int_equal(c->log_access, 1);
    /* Defaults of what the demo leaves out. */
    assert_int_equal(c->max_connections, 10000);
    assert_int_equal(c->http_threads, 1);
    assert_int_equal(c->request_timeout_ms, 30000);
    assert_int_equal(c->idle_timeout_ms, 60000);
    assert_int_equal(c->max_header_bytes, 32 * 1024);
    assert_int_equal(c->max_json_depth, 64);
    assert_int_equal(c->commit_max_batch, 4096);
    assert_int_equal(c->shutdown_timeout_ms, 10000);

    assert_int_equal(c->nsources, 3);
    s = dh_config_source(c, "freshdesk");
    assert_ptr_equal(s, &c->sources[0]);
    assert_int_equal(s->line, 11);
    assert_string_equal(s->preset, "freshdesk");
    assert_int_equal(s->npaths, 1);
    assert_string_equal(s->paths[0], "/webhook/freshdesk");
    assert_string_equal(s->default_event, "ticket.created");
    assert_int_equal(s->max_body, 1024 * 1024);
    assert_int_equal(s->dedupe_window_ms, 60000);
    assert_int_equal(s->rate_count, 100);
    assert_int_equal(s->rate_period_ms, 60000);
    assert_int_equal(s->nrequired, 0);
    assert_int_equal(s->auth.none, 0);
    assert_non_null(s->auth.hmac);
    assert_null(s->auth.bearer);
    assert_null(s->auth.header);
    assert_int_equal(s->auth.nbasic, 0);
    assert_string_equal(s->auth.hmac->header, "X-Webhook-Signature");
    assert_string_equal(s->auth.hmac->algorithm, "sha256");
    assert_string_equal(s->auth.hmac->encoding, "hex");
    assert_null(s->auth.hmac->prefix);
    assert_int_equal(s->auth.hmac->nsecrets, 1);
    assert_string_equal(s->auth.hmac->secrets[0], "fd-from-env");

    s = dh_config_source(c, "custom");
    assert_ptr_equal(s, &c->sources[1]);
    assert_string_equal(s->preset, "generic");
    assert_int_equal(s->npaths, 0);
    assert_null(s->default_event);
    assert_int_equal(s->max_body, 1024 * 1024);
    assert_int_equal(s->dedupe_window_ms, 0); /* the global one applies */
    assert_int_equal(s->rate_count, 0);       /* unlimited */
    assert_null(s->auth.hmac);
    assert_non_null(s->auth.bearer);
    assert_int_equal(s->auth.bearer->ntokens, 1);
    assert_string_equal(s->auth.bearer->tokens[0], "custom-from-env");

    s = dh_config_source(c, "testing");
    assert_ptr_equal(s, &c->sources[2]);
    assert_string_equal(s->preset, "generic");
    assert_int_equal(s->auth.none, 1);
    assert_null(s->auth.hmac);
    assert_null(s->auth.bearer);

    assert_null(dh_config_source(c, "nope"));
    dh_config_free(c);

    /* Without the variables the demo's defaults apply. */
    unsetenv("DESKHOOK_ADMIN_TOKEN");
    unsetenv("FD_SECRET");
    unsetenv("CUSTOM_TOKEN");
    c = expect_ok(text);
    assert_string_equal(c->admin_token, "demo-admin-token");
    assert_string_equal(dh_config_source(c, "freshdesk")->auth.hmac->secrets[0],
                        "demo-freshdesk-secret");
    assert_string_equal(dh_config_source(c, "custom")->auth.bearer->tokens[0],
                        "demo-custom-token");
    dh_config_free(c);
    free(text);
}

static void test_units_and_auth_forms(void **state)
{
    struct dh_config *c;
    const struct dh_config_source *s;
    (void)state;

    c = expect_ok("admin: {token: t}\n"
                  "dedupe_window: 90s\n"
                  "log: {level: debug, access: off}\n"
                  "limits:\n"
                  "  request_timeout: 1.5s\n"
                  "  max_header_bytes: 64KiB\n"
                  "  max_json_depth: 10\n"
                  "sources:\n"
                  "  - name: a\n"
                  "    max_body: 10KB\n"
                  "    dedupe_window: 2h\n"
                  "    rate_limit: 10/s\n"
                  "    required: [ticket.subject, customer.email]\n"
                  "    paths: [/hooks/a, /legacy/a]\n"
                  "    auth:\n"
                  "      hmac: {header: X-Sig, algorithm: sha512, encoding: base64,\n"
                  "             prefix: \"v1=\", secrets: [one, two]}\n"
                  "      basic: {users: {alice: \"pw:with:colons\"}}\n"
                  "      header: {name: X-Token, tokens: [tok]}\n");
    assert_int_equal(c->dedupe_window_ms, 90000);
    assert_string_equal(c->log_level, "debug");
    assert_int_equal(c->log_access, 0);
    assert_int_equal(c->request_timeout_ms, 1500);
    assert_int_equal(c->max_header_bytes, 65536);
    assert_int_equal(c->max_json_depth, 10);
    s = &c->sources[0];
    assert_int_equal(s->max_body, 10000);
    assert_int_equal(s->dedupe_window_ms, 2 * 3600 * 1000);
    assert_int_equal(s->rate_count, 10);
    assert_int_equal(s->rate_period_ms, 1000);
    assert_int_equal(s->nrequired, 2);
    assert_string_equal(s->required[1], "customer.email");
    assert_int_equal(s->npaths, 2);
    assert_string_equal(s->paths[1], "/legacy/a");
    assert_string_equal(s->auth.hmac->header, "X-Sig");
    assert_string_equal(s->auth.hmac->algorithm, "sha512");
    assert_string_equal(s->auth.hmac->encoding, "base64");
    assert_string_equal(s->auth.hmac->prefix, "v1=");
    assert_int_equal(s->auth.hmac->nsecrets, 2);
    assert_string_equal(s->auth.hmac->secrets[1], "two");
    assert_int_equal(s->auth.nbasic, 1);
    assert_string_equal(s->auth.basic_users[0], "alice:pw:with:colons");
    assert_string_equal(s->auth.header->name, "X-Token");
    assert_string_equal(s->auth.header->tokens[0], "tok");
    dh_config_free(c);
}

static void test_source_mapping_options(void **state)
{
    struct dh_config *c;
    const struct dh_config_source *s;
    (void)state;

    c = expect_ok("admin: {token: t}\n"
                  "sources:\n"
                  "  - name: a\n"
                  "    auth: none\n"
                  "    fields:\n"
                  "      ticket.subject: [headline, data.headline]\n"
                  "      customer.email: contact.mail\n"
                  "    event_map: {ticket.create: ticket.created, ticket.close: ticket.closed}\n"
                  "    rate_limit: {rate: 30/1m, key: platform}\n"
                  "    required_message: \"send a subject\"\n");
    s = &c->sources[0];
    assert_int_equal(s->nfields, 2);
    assert_string_equal(s->fields[0].target, "ticket.subject");
    assert_int_equal(s->fields[0].npaths, 2);
    assert_string_equal(s->fields[0].paths[1], "data.headline");
    assert_string_equal(s->fields[1].target, "customer.email");
    assert_int_equal(s->fields[1].npaths, 1);
    assert_string_equal(s->fields[1].paths[0], "contact.mail");
    assert_int_equal(s->nevent_map, 2);
    assert_string_equal(s->event_map[0], "ticket.create");
    assert_string_equal(s->event_map[1], "ticket.created");
    assert_string_equal(s->event_map[3], "ticket.closed");
    assert_int_equal(s->rate_count, 30);
    assert_int_equal(s->rate_period_ms, 60000);
    assert_string_equal(s->rate_key, "platform");
    assert_string_equal(s->required_message, "send a subject");
    dh_config_free(c);

    /* The plain form of rate_limit has no key. */
    c = expect_ok("admin: {token: t}\nsources:\n  - {name: a, auth: none, rate_limit: 5/1s}\n");
    assert_int_equal(c->sources[0].rate_count, 5);
    assert_null(c->sources[0].rate_key);
    dh_config_free(c);
}

static void test_source_mapping_errors(void **state)
{
    (void)state;
    expect_errors("admin: {token: t}\n"
                  "sources:\n"
                  "  - name: a\n"
                  "    auth: none\n"
                  "    rate_limit: {rate: 30/1m, by: platform}\n",
                  1, 5, "rate_limit: unknown key \"by\"");
    expect_errors("admin: {token: t}\n"
                  "sources:\n"
                  "  - name: a\n"
                  "    auth: none\n"
                  "    rate_limit: {key: platform}\n",
                  1, 5, "rate_limit needs rate");
    expect_errors("admin: {token: t}\n"
                  "sources:\n"
                  "  - name: a\n"
                  "    auth: none\n"
                  "    rate_limit:\n"
                  "      key: platform\n"
                  "      rate: 30\n",
                  1, 7, "rate_limit.rate: ");
    expect_errors("admin: {token: t}\n"
                  "sources:\n"
                  "  - name: a\n"
                  "    auth: none\n"
                  "    fields: [ticket.subject]\n",
                  1, 5, "fields must be a map");
    expect_errors("admin: {token: t}\n"
                  "sources:\n"
                  "  - name: a\n"
                  "    auth: none\n"
                  "    event_map:\n"
                  "      ticket.create: ticket.created\n"
                  "      ticket.close: \"\"\n",
                  1, 7, "event_map: \"ticket.close\" needs an event type");
}

static void test_auth_none(void **state)
{
    struct dh_config *c;
    (void)state;

    c = expect_ok("admin: {token: t}\nsources:\n  - {name: open, auth: none}\n");
    assert_int_equal(c->sources[0].auth.none, 1);
    dh_config_free(c);
    /* Another word is not a scheme. */
    expect_errors("admin: {token: t}\nsources:\n  - name: open\n    auth: nobody\n", 1, 4,
                  "auth must be the word none");
}

static void test_unknown_key_top_level(void **state)
{
    (void)state;
    expect_errors("admin: {token: t}\n"
                  "listn: 127.0.0.1:9000\n"
                  "sources:\n"
                  "  - {name: a, auth: none}\n",
                  1, 2, "unknown key \"listn\"");
    /* Inside a section the dotted name is given. */
    expect_errors("admin: {token: t, lsten: 127.0.0.1:1}\n"
                  "sources:\n"
                  "  - {name: a, auth: none}\n",
                  1, 1, "unknown key \"admin.lsten\"");
}

static void test_unknown_key_in_source(void **state)
{
    (void)state;
    expect_errors("admin: {token: t}\n"
                  "sources:\n"
                  "  - name: a\n"
                  "    auth: none\n"
                  "    colour: red\n",
                  1, 5, "unknown key \"colour\"");
    /* And inside a scheme. */
    expect_errors("admin: {token: t}\n"
                  "sources:\n"
                  "  - name: a\n"
                  "    auth:\n"
                  "      bearer:\n"
                  "        tokens: [x]\n"
                  "        token: y\n",
                  1, 7, "auth.bearer: unknown key \"token\"");
}

static void test_bare_number_duration(void **state)
{
    (void)state;
    expect_errors("admin: {token: t}\n"
                  "dedupe_window: 60\n"
                  "sources:\n"
                  "  - {name: a, auth: none}\n",
                  1, 2, "dedupe_window: ");
    expect_errors("admin: {token: t}\n"
                  "sources:\n"
                  "  - name: a\n"
                  "    auth: none\n"
                  "    max_body: 1048576\n",
                  1, 5, "max_body: ");
    /* Out of range is reported with the bounds. */
    expect_errors("admin: {token: t}\n"
                  "dedupe_window: 10ms\n"
                  "sources:\n"
                  "  - {name: a, auth: none}\n",
                  1, 2, "out of range");
}

static void test_missing_auth(void **state)
{
    (void)state;
    expect_errors("admin: {token: t}\n"
                  "sources:\n"
                  "  - name: fd\n"
                  "    preset: freshdesk\n",
                  1, 3, "source \"fd\" has no auth");
    /* An empty map of schemes is not a choice either. */
    expect_errors("admin: {token: t}\n"
                  "sources:\n"
                  "  - name: fd\n"
                  "    auth: {}\n",
                  1, 4, "auth must be the word none or a map");
}

static void test_unset_variable(void **state)
{
    (void)state;
    unsetenv("DH_TEST_NOT_SET");
    expect_errors("admin: {token: t}\n"
                  "store: \"sqlite:${DH_TEST_NOT_SET}/x.db\"\n"
                  "sources:\n"
                  "  - {name: a, auth: none}\n",
                  1, 2, "environment variable DH_TEST_NOT_SET is not set");
    /* In a secret the empty result is a second problem on the same line. */
    {
        struct dh_config *c = NULL;
        struct dh_errlist el = {0};
        char prefix[96];
        assert_int_equal(load("admin: {token: \"${DH_TEST_NOT_SET}\"}\n"
                              "sources:\n"
                              "  - {name: a, auth: none}\n",
                              &c, &el),
                         DH_E_CONFIG);
        dh_config_free(c);
        snprintf(prefix, sizeof(prefix), "%s:1: ", cfg_path);
        assert_true(el.n >= 1);
        for (size_t i = 0; i < el.n; i++)
            assert_memory_equal(el.lines[i], prefix, strlen(prefix));
        assert_non_null(strstr(el.lines[0], "DH_TEST_NOT_SET"));
        dh_errlist_free(&el);
    }
}

static void test_variable_default(void **state)
{
    struct dh_config *c;
    (void)state;

    unsetenv("DH_TEST_NOT_SET");
    setenv("DH_TEST_SET", "from-env", 1);
    setenv("DH_TEST_EMPTY", "", 1);
    c = expect_ok("admin: {token: \"${DH_TEST_NOT_SET:-fallback}\"}\n"
                  "listen: \"127.0.0.1:${DH_TEST_NOT_SET:-9090}\"\n"
                  "sources:\n"
                  "  - name: a\n"
                  "    auth: {bearer: {tokens: [\"${DH_TEST_SET:-unused}\", "
                  "\"${DH_TEST_EMPTY:-was-empty}\"]}}\n");
    assert_string_equal(c->admin_token, "fallback");
    assert_string_equal(c->listen, "127.0.0.1:9090");
    assert_string_equal(c->sources[0].auth.bearer->tokens[0], "from-env");
    assert_string_equal(c->sources[0].auth.bearer->tokens[1], "was-empty");
    dh_config_free(c);
    unsetenv("DH_TEST_SET");
    unsetenv("DH_TEST_EMPTY");
}

static void test_empty_secret_in_list(void **state)
{
    (void)state;
    expect_errors("admin: {token: t}\n"
                  "sources:\n"
                  "  - name: a\n"
                  "    auth:\n"
                  "      hmac:\n"
                  "        secrets:\n"
                  "          - good\n"
                  "          - \"\"\n",
                  1, 8, "item 2 is empty");
    expect_errors("admin: {token: t}\n"
                  "sources:\n"
                  "  - name: a\n"
                  "    auth: {bearer: {tokens: []}}\n",
                  1, 4, "auth.bearer.tokens must be a non-empty list");
    expect_errors("admin: {token: t}\n"
                  "sources:\n"
                  "  - name: a\n"
                  "    auth: {hmac: {algorithm: sha256}}\n",
                  1, 4, "auth.hmac needs secrets");
}

static void test_admin_token(void **state)
{
    (void)state;
    expect_errors("admin: {token: \"\"}\n"
                  "sources:\n"
                  "  - {name: a, auth: none}\n",
                  1, 1, "admin.token is empty");
    expect_errors("admin:\n"
                  "  listen: 127.0.0.1:8081\n"
                  "  token:\n"
                  "sources:\n"
                  "  - {name: a, auth: none}\n",
                  1, 3, "admin.token is empty");
    expect_errors("listen: 127.0.0.1:8080\n"
                  "sources:\n"
                  "  - {name: a, auth: none}\n",
                  1, 1, "admin.token is required");
}

static void test_duplicate_source(void **state)
{
    (void)state;
    expect_errors("admin: {token: t}\n"
                  "sources:\n"
                  "  - {name: a, auth: none}\n"
                  "  - {name: b, auth: none}\n"
                  "  - {name: a, auth: none}\n",
                  1, 5, "source \"a\" is defined twice");
    expect_errors("admin: {token: t}\n"
                  "sources:\n"
                  "  - {name: \"Bad Name\", auth: none}\n",
                  1, 3, "source name \"Bad Name\"");
    expect_errors("admin: {token: t}\n"
                  "sources: []\n",
                  1, 1, "no sources");
}

static void test_bad_listen(void **state)
{
    static const char *const bad[] = {"localhost", ":8080", "127.0.0.1:", "127.0.0.1:http",
                                      "127.0.0.1:70000", "[::1]8080", "[::1"};
    char text[256];
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text),
                 "admin: {token: t}\nlisten: \"%s\"\nsources:\n  - {name: a, auth: none}\n",
                 bad[i]);
        expect_errors(text, 1, 2, "is not HOST:PORT");
    }
    snprintf(text, sizeof(text),
             "admin: {token: t, listen: \"[::1]:9001\"}\nlisten: \"0.0.0.0:80\"\n"
             "sources:\n  - {name: a, auth: none}\n");
    dh_config_free(expect_ok(text));
}

static void test_split_addr(void **state)
{
    char host[64];
    unsigned port = 0;
    (void)state;

    assert_int_equal(dh_config_split_addr("127.0.0.1:8080", host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_int_equal(dh_config_split_addr("[::1]:443", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 443);
    assert_int_equal(dh_config_split_addr("example.org:0", host, sizeof(host), &port), 0);
    assert_int_equal(port, 0);
    assert_int_equal(dh_config_split_addr("a:65536", host, sizeof(host), &port), -EINVAL);
    assert_int_equal(dh_config_split_addr("a:-1", host, sizeof(host), &port), -EINVAL);
    assert_int_equal(dh_config_split_addr("a:1 ", host, sizeof(host), &port), -EINVAL);
    /* A host that does not fit is refused, not cut. */
    assert_int_equal(dh_config_split_addr("abcdefgh:1", host, 8, &port), -EINVAL);
}

static void test_reserved_path(void **state)
{
    (void)state;
    expect_errors("admin: {token: t}\n"
                  "sources:\n"
                  "  - name: a\n"
                  "    auth: none\n"
                  "    paths: [/webhooks/b]\n",
                  1, 5, "paths: \"/webhooks/b\" is reserved");
    expect_errors("admin: {token: t}\n"
                  "sources:\n"
                  "  - name: a\n"
                  "    auth: none\n"
                  "    paths: [/health]\n",
                  1, 5, "is reserved");
    expect_errors("admin: {token: t}\n"
                  "sources:\n"
                  "  - name: a\n"
                  "    auth: none\n"
                  "    paths: [hooks/a]\n",
                  1, 5, "must start with /");
    expect_errors("admin: {token: t}\n"
                  "sources:\n"
                  "  - {name: a, auth: none, paths: [/in]}\n"
                  "  - {name: b, auth: none, paths: [/in]}\n",
                  1, 4, "\"/in\" is mounted twice");
    /* The admin API has its own listener, so /api/ paths are free on the
     * public one. */
    dh_config_free(expect_ok("admin: {token: t}\n"
                             "sources:\n"
                             "  - {name: a, auth: none, paths: [/api/x]}\n"));
}

static void test_hmac_bad_algorithm(void **state)
{
    (void)state;
    expect_errors("admin: {token: t}\n"
                  "sources:\n"
                  "  - name: a\n"
                  "    auth:\n"
                  "      hmac:\n"
                  "        secrets: [s]\n"
                  "        algorithm: md5\n",
                  1, 7, "auth.hmac.algorithm: \"md5\" is not sha1, sha256 or sha512");
    expect_errors("admin: {token: t}\n"
                  "sources:\n"
                  "  - name: a\n"
                  "    auth:\n"
                  "      hmac:\n"
                  "        secrets: [s]\n"
                  "        encoding: base32\n",
                  1, 7, "auth.hmac.encoding: \"base32\" is not hex or base64");
}

static void test_every_problem_at_once(void **state)
{
    struct dh_config *c = NULL;
    struct dh_errlist el = {0};
    (void)state;

    assert_int_equal(load("listen: nowhere\n"
                          "dedupe_window: 60\n"
                          "sources:\n"
                          "  - name: a\n"
                          "  - name: a\n"
                          "    auth: none\n",
                          &c, &el),
                     DH_E_CONFIG);
    /* listen, dedupe_window, a without auth, a twice, no admin token. */
    if (el.n != 5) {
        dump_errors(&el);
        fail_msg("%zu errors, wanted 5", el.n);
    }
    /* The partial config is handed out so that later checks (presets,
     * required fields) can add their problems to the same list. */
    assert_non_null(c);
    assert_int_equal(c->nsources, 2);
    assert_int_equal(c->sources[1].auth.none, 1);
    dh_config_free(c);
    dh_errlist_free(&el);
}

static void test_unreadable_and_broken(void **state)
{
    struct dh_config *c = NULL;
    struct dh_errlist el = {0};
    (void)state;

    assert_int_equal(dh_config_load("/tmp/dh_test_config_does_not_exist.yaml", &c, &el), -ENOENT);
    assert_null(c);
    assert_int_equal(el.n, 1);
    assert_non_null(strstr(el.lines[0], "/tmp/dh_test_config_does_not_exist.yaml:"));
    dh_errlist_free(&el);

    expect_errors("admin: {token: t\nsources: [\n", 1, 2, "YAML syntax");
    expect_errors("- just\n- a list\n", 1, 1, "top level must be a map");
    /* Broken YAML gives no config at all. */
    assert_int_equal(load("admin: [\n", &c, &el), DH_E_CONFIG);
    assert_null(c);
    dh_errlist_free(&el);
    assert_int_equal(load("", &c, &el), DH_E_CONFIG);
    assert_null(c);
    assert_int_equal(el.n, 1);
    assert_non_null(strstr(el.lines[0], "empty"));
    dh_errlist_free(&el);
}

static void check_subst(const char *in, const char *want, const char *want_missing)
{
    char missing[64] = "";
    char *out = dh_env_substitute(in, missing, sizeof(missing));
    assert_non_null(out);
    if (strcmp(out, want) != 0)
        fail_msg("\"%s\" became \"%s\", wanted \"%s\"", in, out, want);
    assert_string_equal(missing, want_missing);
    free(out);
}

static void test_env_substitute(void **state)
{
    (void)state;
    setenv("DH_TEST_A", "alpha", 1);
    setenv("DH_TEST_B", "beta", 1);
    setenv("DH_TEST_EMPTY", "", 1);
    unsetenv("DH_TEST_NOT_SET");
    unsetenv("DH_TEST_NOT_SET2");

    check_subst("plain text", "plain text", "");
    check_subst("", "", "");
    check_subst("${DH_TEST_A}", "alpha", "");
    check_subst("pre-${DH_TEST_A}-mid-${DH_TEST_B}-post", "pre-alpha-mid-beta-post", "");
    check_subst("${DH_TEST_A}${DH_TEST_B}", "alphabeta", "");
    /* Defaults, also for a variable that is set but empty. */
    check_subst("${DH_TEST_NOT_SET:-dflt}", "dflt", "");
    check_subst("${DH_TEST_A:-dflt}", "alpha", "");
    check_subst("${DH_TEST_EMPTY:-dflt}", "dflt", "");
    check_subst("${DH_TEST_NOT_SET:-}", "", "");
    check_subst("${DH_TEST_NOT_SET:-a b:c/d}", "a b:c/d", "");
    check_subst("${DH_TEST_EMPTY}", "", "");
    /* "$$" is a literal "$", so "$${X}" is not a reference. */
    check_subst("price: $$5", "price: $5", "");
    check_subst("$${DH_TEST_A}", "${DH_TEST_A}", "");
    check_subst("$$$${DH_TEST_A}", "$${DH_TEST_A}", "");
    /* A lone '$' and things that are not references stay as written. */
    check_subst("cost $5", "cost $5", "");
    check_subst("$DH_TEST_A", "$DH_TEST_A", "");
    check_subst("a$", "a$", "");
    check_subst("${not a name}", "${not a name}", "");
    /* Unterminated "${" stays as written. */
    check_subst("${DH_TEST_A", "${DH_TEST_A", "");
    check_subst("x ${DH_TEST_A y", "x ${DH_TEST_A y", "");
    /* Unset without default: nothing substituted, the first name reported. */
    check_subst("a${DH_TEST_NOT_SET}b", "ab", "DH_TEST_NOT_SET");
    check_subst("${DH_TEST_NOT_SET}${DH_TEST_NOT_SET2}", "", "DH_TEST_NOT_SET");
    check_subst("${DH_TEST_A}${DH_TEST_NOT_SET2}", "alpha", "DH_TEST_NOT_SET2");
    {
        char *out = dh_env_substitute("${DH_TEST_NOT_SET}", NULL, 0);
        assert_string_equal(out, "");
        free(out);
    }
    unsetenv("DH_TEST_A");
    unsetenv("DH_TEST_B");
    unsetenv("DH_TEST_EMPTY");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_config),
        cmocka_unit_test(test_units_and_auth_forms),
        cmocka_unit_test(test_source_mapping_options),
        cmocka_unit_test(test_source_mapping_errors),
        cmocka_unit_test(test_auth_none),
        cmocka_unit_test(test_unknown_key_top_level),
        cmocka_unit_test(test_unknown_key_in_source),
        cmocka_unit_test(test_bare_number_duration),
        cmocka_unit_test(test_missing_auth),
        cmocka_unit_test(test_unset_variable),
        cmocka_unit_test(test_variable_default),
        cmocka_unit_test(test_empty_secret_in_list),
        cmocka_unit_test(test_admin_token),
        cmocka_unit_test(test_duplicate_source),
        cmocka_unit_test(test_bad_listen),
        cmocka_unit_test(test_split_addr),
        cmocka_unit_test(test_reserved_path),
        cmocka_unit_test(test_hmac_bad_algorithm),
        cmocka_unit_test(test_every_problem_at_once),
        cmocka_unit_test(test_unreadable_and_broken),
        cmocka_unit_test(test_env_substitute),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
