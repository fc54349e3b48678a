/*
 * test_auth.c: which requests each auth scheme lets in, and what it says to
 * the ones it refuses. Signatures are the values a sender computes with any
 * HMAC library, so these tests do not trust our own HMAC to check itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "core/crypto.h"
#include "core/error.h"
#include "ingest/auth.h"

#define BODY "{\"ticket_id\":1228307,\"ticket_status\":\"Open\"}"

/* HMAC-SHA256 of BODY under "old-secret" and "new-secret". */
#define OLD_HEX "5ddcdb036216cdc2665f0f0722946cefd7308b47f008d8fab830af20308fc9c4"
#define NEW_HEX "ecdff6adc604503f65c81ec05ce770fef09ba4767eb79f0a6b25a4fc393a3a10"
#define NEW_HEX_UPPER "ECDFF6ADC604503F65C81EC05CE770FEF09BA4767EB79F0A6B25A4FC393A3A10"
#define NEW_B64 "7N/2rcYEUD9lyB7AXOdw/vCbpHZ+t58KayWk/Dk6OhA="
/* HMAC-SHA1 and HMAC-SHA512 (base64) of BODY under "new-secret". */
#define NEW_SHA1_HEX "1da1414e0e2fa42110af6c4c90fbe41afbe493f3"
#define NEW_SHA512_B64                                                                        \
    "7S3V3IMTU0/oZPK2VKM5eBSbsmspfuCGm3nnelirXaEifFQ7d6bRbL9iO5MIHL7L0k5Q0wnezFjTUCsiXMvjtQ=="

/* A request's headers: name/value pairs ending with a NULL name. Names
 * are matched without regard to case, as HTTP does. */
struct hdr {
    const char *name;
    const char *value;
};

static const char *get_header(void *ctx, const char *name)
{
    for (const struct hdr *h = ctx; h->name != NULL; h++)
        if (strcasecmp(h->name, name) == 0)
            return h->value;
    return NULL;
}

struct result {
    int rc;
    int matched;
    char why[200];
};

static struct result check(const struct dh_auth *a, const struct hdr *h, const char *body)
{
    struct result r;
    r.matched = 99;
    memset(r.why, 'x', sizeof(r.why));
    struct dh_auth_request rq = {
        .get_header = get_header,
        .hctx = (void *)h,
        .method = "POST",
        .uri = "/webhooks/test",
        .peer = NULL,
        .body = body,
        .len = strlen(body),
    };
    r.rc = dh_auth_check(a, &rq, &r.matched, r.why, sizeof(r.why));
    return r;
}

static struct dh_auth *build(const struct dh_config_auth *ca)
{
    struct dh_auth *a = NULL;
    char err[200] = "";
    if (dh_auth_build(ca, &a, err, sizeof(err)) != 0)
        fail_msg("dh_auth_build failed: %s", err);
    assert_non_null(a);
    return a;
}

/* An hmac scheme over the given secrets. */
static struct dh_auth *build_hmac(const char *alg, const char *encoding, const char *prefix,
                                  char **secrets, size_t n)
{
    struct dh_config_hmac h = {.header = "X-Webhook-Signature",
                               .algorithm = (char *)alg,
                               .encoding = (char *)encoding,
                               .prefix = (char *)prefix,
                               .secrets = secrets,
                               .nsecrets = n};
    struct dh_config_auth ca = {.hmac = &h};
    return build(&ca);
}

static void expect_ok(const struct dh_auth *a, const struct hdr *h, const char *body,
                      int matched)
{
    struct result r = check(a, h, body);
    if (r.rc != 0)
        fail_msg("refused (%d): %s", r.rc, r.why);
    assert_int_equal(r.matched, matched);
}

static void expect_refused(const struct dh_auth *a, const struct hdr *h, const char *body,
                           int rc, const char *why)
{
    struct result r = check(a, h, body);
    if (r.rc != rc)
        fail_msg("rc %d (%s), wanted %d", r.rc, r.rc ? r.why : "accepted", rc);
    assert_non_null(memchr(r.why, '\0', sizeof(r.why)));
    if (why != NULL && strstr(r.why, why) == NULL)
        fail_msg("reason \"%s\" does not mention \"%s\"", r.why, why);
}

static void test_hmac_hex(void **state)
{
    char *secrets[] = {"new-secret"};
    struct dh_auth *a = build_hmac("sha256", "hex", NULL, secrets, 1);
    (void)state;

    expect_ok(a, (struct hdr[]){{"X-Webhook-Signature", NEW_HEX}, {NULL, NULL}}, BODY, 0);
    /* GitHub's form, with the algorithm's name in front. */
    expect_ok(a, (struct hdr[]){{"X-Webhook-Signature", "sha256=" NEW_HEX}, {NULL, NULL}}, BODY,
              0);
    expect_ok(a, (struct hdr[]){{"X-Webhook-Signature", "SHA256=" NEW_HEX}, {NULL, NULL}}, BODY,
              0);
    /* Upper-case hex and surrounding spaces. */
    expect_ok(a, (struct hdr[]){{"x-webhook-signature", NEW_HEX_UPPER}, {NULL, NULL}}, BODY, 0);
    expect_ok(a, (struct hdr[]){{"X-Webhook-Signature", "  " NEW_HEX " "}, {NULL, NULL}}, BODY,
              0);
    /* Another algorithm's name is not stripped. */
    expect_refused(a, (struct hdr[]){{"X-Webhook-Signature", "sha1=" NEW_HEX}, {NULL, NULL}},
                   BODY, DH_E_INVALID_SIGNATURE, NULL);
    dh_auth_free(a);
}

static void test_hmac_base64(void **state)
{
    char *secrets[] = {"new-secret"};
    struct dh_auth *a = build_hmac("sha256", "base64", NULL, secrets, 1);
    char urlsafe[] = NEW_B64;
    (void)state;

    expect_ok(a, (struct hdr[]){{"X-Webhook-Signature", NEW_B64}, {NULL, NULL}}, BODY, 0);
    expect_ok(a, (struct hdr[]){{"X-Webhook-Signature", "sha256=" NEW_B64}, {NULL, NULL}}, BODY,
              0);
    /* URL-safe alphabet without padding. */
    for (char *c = urlsafe; *c; c++)
        *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
    urlsafe[strlen(urlsafe) - 1] = '\0';
    expect_ok(a, (struct hdr[]){{"X-Webhook-Signature", urlsafe}, {NULL, NULL}}, BODY, 0);
    /* The hex form is not base64 of the right length. */
    expect_refused(a, (struct hdr[]){{"X-Webhook-Signature", NEW_HEX}, {NULL, NULL}}, BODY,
                   DH_E_INVALID_SIGNATURE, NULL);
    expect_refused(a, (struct hdr[]){{"X-Webhook-Signature", "not*base64"}, {NULL, NULL}}, BODY,
                   DH_E_INVALID_SIGNATURE, "base64");
    dh_auth_free(a);
}

static void test_hmac_other_algorithms(void **state)
{
    char *secrets[] = {"new-secret"};
    struct dh_auth *a = build_hmac("sha1", "hex", NULL, secrets, 1);
    (void)state;

    expect_ok(a, (struct hdr[]){{"X-Webhook-Signature", NEW_SHA1_HEX}, {NULL, NULL}}, BODY, 0);
    expect_ok(a, (struct hdr[]){{"X-Webhook-Signature", "sha1=" NEW_SHA1_HEX}, {NULL, NULL}},
              BODY, 0);
    /* A SHA-256 signature is not a SHA-1 one. */
    expect_refused(a, (struct hdr[]){{"X-Webhook-Signature", NEW_HEX}, {NULL, NULL}}, BODY,
                   DH_E_INVALID_SIGNATURE, NULL);
    dh_auth_free(a);

    a = build_hmac("sha512", "base64", NULL, secrets, 1);
    expect_ok(a, (struct hdr[]){{"X-Webhook-Signature", NEW_SHA512_B64}, {NULL, NULL}}, BODY, 0);
    dh_auth_free(a);
}

static void test_hmac_configured_prefix(void **state)
{
    char *secrets[] = {"new-secret"};
    struct dh_auth *a = build_hmac("sha256", "hex", "v1=", secrets, 1);
    (void)state;

    expect_ok(a, (struct hdr[]){{"X-Webhook-Signature", "v1=" NEW_HEX}, {NULL, NULL}}, BODY, 0);
    /* Also accepted without it, as the header says. */
    expect_ok(a, (struct hdr[]){{"X-Webhook-Signature", NEW_HEX}, {NULL, NULL}}, BODY, 0);
    expect_refused(a, (struct hdr[]){{"X-Webhook-Signature", "v2=" NEW_HEX}, {NULL, NULL}}, BODY,
                   DH_E_INVALID_SIGNATURE, NULL);
    dh_auth_free(a);
}

static void test_hmac_rotation(void **state)
{
    char *secrets[] = {"old-secret", "new-secret"};
    struct dh_auth *a = build_hmac("sha256", "hex", NULL, secrets, 2);
    (void)state;

    /* While a secret is rotated both are accepted; the index says which. */
    expect_ok(a, (struct hdr[]){{"X-Webhook-Signature", OLD_HEX}, {NULL, NULL}}, BODY, 0);
    expect_ok(a, (struct hdr[]){{"X-Webhook-Signature", NEW_HEX}, {NULL, NULL}}, BODY, 1);
    dh_auth_free(a);
}

static void test_hmac_refusals(void **state)
{
    char *secrets[] = {"new-secret"};
    struct dh_auth *a = build_hmac("sha256", "hex", NULL, secrets, 1);
    struct result r;
    char tampered[] = BODY;
    (void)state;

    expect_refused(a, (struct hdr[]){{NULL, NULL}}, BODY, DH_E_MISSING_SIGNATURE,
                   "X-Webhook-Signature");
    expect_refused(a, (struct hdr[]){{"X-Webhook-Signature", ""}, {NULL, NULL}}, BODY,
                   DH_E_MISSING_SIGNATURE, NULL);
    r = check(a, (struct hdr[]){{"X-Webhook-Signature", "   "}, {NULL, NULL}}, BODY);
    assert_true(r.rc == DH_E_MISSING_SIGNATURE || r.rc == DH_E_INVALID_SIGNATURE);
    /* One changed byte of the body. */
    tampered[strlen(tampered) - 3] = 'X';
    expect_refused(a, (struct hdr[]){{"X-Webhook-Signature", NEW_HEX}, {NULL, NULL}}, tampered,
                   DH_E_INVALID_SIGNATURE, "does not match");
    /* Signed with a secret we do not have. */
    expect_refused(a, (struct hdr[]){{"X-Webhook-Signature", OLD_HEX}, {NULL, NULL}}, BODY,
                   DH_E_INVALID_SIGNATURE, NULL);
    /* Not hex, odd length, truncated. */
    expect_refused(a, (struct hdr[]){{"X-Webhook-Signature", "zz" NEW_HEX}, {NULL, NULL}}, BODY,
                   DH_E_INVALID_SIGNATURE, "not hex");
    expect_refused(a, (struct hdr[]){{"X-Webhook-Signature", NEW_HEX "0"}, {NULL, NULL}}, BODY,
                   DH_E_INVALID_SIGNATURE, NULL);
    expect_refused(a, (struct hdr[]){{"X-Webhook-Signature", "ecdff6ad"}, {NULL, NULL}}, BODY,
                   DH_E_INVALID_SIGNATURE, NULL);
    /* The signature header does not leak the value we expected. */
    r = check(a, (struct hdr[]){{"X-Webhook-Signature", OLD_HEX}, {NULL, NULL}}, BODY);
    assert_null(strstr(r.why, NEW_HEX));
    assert_null(strstr(r.why, "ecdff6ad"));
    assert_int_equal(r.matched, -1);
    dh_auth_free(a);
}

static struct dh_auth *build_bearer(char **tokens, size_t n)
{
    struct dh_config_tokens t = {.tokens = tokens, .ntokens = n};
    struct dh_config_auth ca = {.bearer = &t};
    return build(&ca);
}

static void test_bearer(void **state)
{
    char *tokens[] = {"tok-one", "tok-two"};
    struct dh_auth *a = build_bearer(tokens, 2);
    (void)state;

    expect_ok(a, (struct hdr[]){{"Authorization", "Bearer tok-one"}, {NULL, NULL}}, BODY, 0);
    expect_ok(a, (struct hdr[]){{"Authorization", "Bearer tok-two"}, {NULL, NULL}}, BODY, 1);
    /* The scheme name is case-insensitive (RFC 9110). */
    expect_ok(a, (struct hdr[]){{"authorization", "bearer tok-two"}, {NULL, NULL}}, BODY, 1);
    expect_ok(a, (struct hdr[]){{"Authorization", "BEARER  tok-one"}, {NULL, NULL}}, BODY, 0);

    expect_refused(a, (struct hdr[]){{"Authorization", "Bearer tok-three"}, {NULL, NULL}}, BODY,
                   DH_E_INVALID_TOKEN, NULL);
    expect_refused(a, (struct hdr[]){{"Authorization", "Bearer tok-on"}, {NULL, NULL}}, BODY,
                   DH_E_INVALID_TOKEN, NULL);
    expect_refused(a, (struct hdr[]){{"Authorization", "Bearer tok-onee"}, {NULL, NULL}}, BODY,
                   DH_E_INVALID_TOKEN, NULL);
    expect_refused(a, (struct hdr[]){{"Authorization", "Bearer TOK-ONE"}, {NULL, NULL}}, BODY,
                   DH_E_INVALID_TOKEN, NULL);
    expect_refused(a, (struct hdr[]){{NULL, NULL}}, BODY, DH_E_INVALID_TOKEN, "Bearer");
    expect_refused(a, (struct hdr[]){{"Authorization", "tok-one"}, {NULL, NULL}}, BODY,
                   DH_E_INVALID_TOKEN, NULL);
    expect_refused(a, (struct hdr[]){{"Authorization", "Bearertok-one"}, {NULL, NULL}}, BODY,
                   DH_E_INVALID_TOKEN, NULL);
    expect_refused(a, (struct hdr[]){{"Authorization", "Basic dG9rLW9uZQ=="}, {NULL, NULL}},
                   BODY, DH_E_INVALID_TOKEN, NULL);
    /* A token in another header is not a bearer token. */
    expect_refused(a, (struct hdr[]){{"X-Token", "tok-one"}, {NULL, NULL}}, BODY,
                   DH_E_INVALID_TOKEN, NULL);
    dh_auth_free(a);
}

static void test_basic(void **state)
{
    char *users[] = {"alice:wonderland", "bob:builder"};
    struct dh_config_auth ca = {.basic_users = users, .nbasic = 2};
    struct dh_auth *a = build(&ca);
    (void)state;

    /* alice:wonderland, bob:builder */
    expect_ok(a, (struct hdr[]){{"Authorization", "Basic YWxpY2U6d29uZGVybGFuZA=="},
                                {NULL, NULL}},
              BODY, 0);
    expect_ok(a, (struct hdr[]){{"Authorization", "Basic Ym9iOmJ1aWxkZXI="}, {NULL, NULL}},
              BODY, 1);
    expect_ok(a, (struct hdr[]){{"Authorization", "basic Ym9iOmJ1aWxkZXI="}, {NULL, NULL}},
              BODY, 1);
    /* alice:wrong */
    expect_refused(a, (struct hdr[]){{"Authorization", "Basic YWxpY2U6d3Jvbmc="}, {NULL, NULL}},
                   BODY, DH_E_INVALID_TOKEN, NULL);
    expect_refused(a, (struct hdr[]){{"Authorization", "Basic !!!"}, {NULL, NULL}}, BODY,
                   DH_E_INVALID_TOKEN, NULL);
    /* The pair sent in clear is not accepted. */
    expect_refused(a, (struct hdr[]){{"Authorization", "Basic alice:wonderland"}, {NULL, NULL}},
                   BODY, DH_E_INVALID_TOKEN, NULL);
    expect_refused(a, (struct hdr[]){{"Authorization", "Bearer YWxpY2U6d29uZGVybGFuZA=="},
                                     {NULL, NULL}},
                   BODY, DH_E_INVALID_TOKEN, "Basic");
    expect_refused(a, (struct hdr[]){{NULL, NULL}}, BODY, DH_E_INVALID_TOKEN, NULL);
    dh_auth_free(a);
}

static void test_header_token(void **state)
{
    char *tokens[] = {"fd-token"};
    struct dh_config_tokens t = {.name = "X-Freshdesk-Token", .tokens = tokens, .ntokens = 1};
    struct dh_config_auth ca = {.header = &t};
    struct dh_auth *a = build(&ca);
    (void)state;

    expect_ok(a, (struct hdr[]){{"X-Freshdesk-Token", "fd-token"}, {NULL, NULL}}, BODY, 0);
    expect_ok(a, (struct hdr[]){{"x-freshdesk-token", "fd-token"}, {NULL, NULL}}, BODY, 0);
    expect_refused(a, (struct hdr[]){{"X-Freshdesk-Token", "fd-token2"}, {NULL, NULL}}, BODY,
                   DH_E_INVALID_TOKEN, "X-Freshdesk-Token");
    expect_refused(a, (struct hdr[]){{"X-Freshdesk-Token", ""}, {NULL, NULL}}, BODY,
                   DH_E_INVALID_TOKEN, NULL);
    expect_refused(a, (struct hdr[]){{NULL, NULL}}, BODY, DH_E_INVALID_TOKEN, NULL);
    /* Not read from Authorization. */
    expect_refused(a, (struct hdr[]){{"Authorization", "Bearer fd-token"}, {NULL, NULL}}, BODY,
                   DH_E_INVALID_TOKEN, NULL);
    dh_auth_free(a);
}

static void test_hmac_and_bearer_both_required(void **state)
{
    char *secrets[] = {"old-secret", "new-secret"};
    char *tokens[] = {"tok-one"};
    struct dh_config_hmac h = {.header = "X-Webhook-Signature",
                               .algorithm = "sha256",
                               .encoding = "hex",
                               .secrets = secrets,
                               .nsecrets = 2};
    struct dh_config_tokens t = {.tokens = tokens, .ntokens = 1};
    struct dh_config_auth ca = {.hmac = &h, .bearer = &t};
    struct dh_auth *a = build(&ca);
    (void)state;

    /* Both pass: the index is the signature's. */
    expect_ok(a,
              (struct hdr[]){{"X-Webhook-Signature", NEW_HEX},
                             {"Authorization", "Bearer tok-one"},
                             {NULL, NULL}},
              BODY, 1);
    /* Either one alone is not enough. */
    expect_refused(a, (struct hdr[]){{"X-Webhook-Signature", NEW_HEX}, {NULL, NULL}}, BODY,
                   DH_E_INVALID_TOKEN, NULL);
    expect_refused(a, (struct hdr[]){{"Authorization", "Bearer tok-one"}, {NULL, NULL}}, BODY,
                   DH_E_MISSING_SIGNATURE, NULL);
    expect_refused(a,
                   (struct hdr[]){{"X-Webhook-Signature", NEW_HEX},
                                  {"Authorization", "Bearer nope"},
                                  {NULL, NULL}},
                   BODY, DH_E_INVALID_TOKEN, NULL);
    expect_refused(a,
                   (struct hdr[]){{"X-Webhook-Signature", NEW_HEX},
                                  {"Authorization", "Bearer tok-one"},
                                  {NULL, NULL}},
                   "{}", DH_E_INVALID_SIGNATURE, NULL);
    dh_auth_free(a);
}

static void test_none(void **state)
{
    struct dh_config_auth ca = {.none = 1};
    struct dh_auth *a = build(&ca);
    (void)state;

    expect_ok(a, (struct hdr[]){{NULL, NULL}}, BODY, -1);
    expect_ok(a, (struct hdr[]){{"Authorization", "Bearer whatever"}, {NULL, NULL}}, "", -1);
    dh_auth_free(a);
    dh_auth_free(NULL);
}

static void test_build_bad_algorithm(void **state)
{
    char *secrets[] = {"s"};
    struct dh_config_hmac h = {.header = "X-Sig",
                               .algorithm = "md5",
                               .encoding = "hex",
                               .secrets = secrets,
                               .nsecrets = 1};
    struct dh_config_auth ca = {.hmac = &h};
    struct dh_auth *a = NULL;
    char err[200] = "";
    (void)state;

    assert_true(dh_auth_build(&ca, &a, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "md5"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_hex),
        cmocka_unit_test(test_hmac_base64),
        cmocka_unit_test(test_hmac_other_algorithms),
        cmocka_unit_test(test_hmac_configured_prefix),
        cmocka_unit_test(test_hmac_rotation),
        cmocka_unit_test(test_hmac_refusals),
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_header_token),
        cmocka_unit_test(test_hmac_and_bearer_both_required),
        cmocka_unit_test(test_none),
        cmocka_unit_test(test_build_bad_algorithm),
    };

    if (dh_crypto_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
