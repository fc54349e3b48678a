/*
 * fuzz_signature.c: libFuzzer target for the signature schemes of
 * ingest/signature.h, verification and signing.
 *
 * Keys for every scheme dh_sig_names() lists are built once (two secrets
 * each; two PEM public keys for Freshchat, one with literal "\n"s as an
 * environment variable brings them; HubSpot once with and once without a
 * base_url), plus three generic hmac rows. The input is a request:
 *
 *   byte 0        flags: bit 0, an empty value is an empty header rather
 *                 than an absent one
 *   then          NHDR values separated by 0x00, in the order of dh__hdr[]
 *                 (the headers the schemes read, then the request method
 *                 and URI), then the body: everything after the last
 *                 separator, 0x00 bytes included
 *
 * Missing values are absent headers. Every key set verifies the request,
 * at a fixed "now" (FUZZ_NOW_S) so signed seeds stay valid. Besides memory
 * errors it checks that a verification returns one of its documented codes
 * with a reason, and that a matched index names a key. Then every key set
 * that can sign signs the fuzzed body for this request, and the signed
 * request must verify with key 0: what `deskhook sign` produces must be
 * accepted. Signing once more at the webhook-timestamp value, read as the
 * command line reads --timestamp (strtoll, so up to LLONG_MAX), checks the
 * timestamp formats for any value a user can give.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "ingest/signature.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW_S 1763900000LL /* 2025-11-23T12:13:20Z */
#define FUZZ_BASE_URL "https://hooks.example.com"
#define FUZZ_MAX_KEYS 32

static const char *const dh__hdr[] = {
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "Stripe-Signature",
    "X-Hub-Signature",
    "X-Hub-Signature-256",
    "X-Slack-Signature",
    "X-Slack-Request-Timestamp",
    "X-Zendesk-Webhook-Signature",
    "X-Zendesk-Webhook-Signature-Timestamp",
    "X-HubSpot-Signature-v3",
    "X-HubSpot-Request-Timestamp",
    "X-HelpScout-Signature",
    "X-Front-Signature",
    "X-Front-Request-Timestamp",
    "X-Freshchat-Signature",
    "X-Webhook-Signature",
    "X-Webhook-Timestamp", /* the generic hmac's timestamp_header */
    "Host",
    ":method", /* not headers: the request line */
    ":uri",
};

#define NHDR (sizeof(dh__hdr) / sizeof(dh__hdr[0]))
#define HDR_HOST 21
#define HDR_METHOD 22
#define HDR_URI 23

/* A public key for Freshchat's RSA scheme, made for this file with
 * `openssl genrsa 2048 | openssl rsa -pubout`. The seed
 * corpus/signature/freshchat-valid is signed with its private key. */
static const char dh__pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAoz0kj5Z+OP3QvJe+LN8s\n"
    "HW0Erpo0ZrYXXnFOHjulUn8W0Qkkt2l47xAmYGiRNACvhRp5gZJsT1VbXIEaQKdG\n"
    "5rmS2l7a+Rc9nJAZw190cShSrkY+8QjLD71rB6KjxSuVnoLfFW9AuGrX1aNZvQHC\n"
    "ZzWIoE97jAa7+j8SwsgBeeOkqAY2AfrCr+Fw2EuprQWoCNHtJX62hjf9lTxH4SLN\n"
    "GXu2zTjSD7tu9mVuCih1hVN1CwJk512/mngUrgQHucsCDB+nZK0jaXKr0vBPlvne\n"
    "l/+lLVdgmiIC1qw6dHHmyXVCz8erwi4fyKMHSMRIe32zTdPqFVnZZbwubtFBCiKd\n"
    "HQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

/* Valid for every HMAC scheme: the Standard Webhooks form (whsec_ and
 * base64) is what standard-webhooks and svix require, and the others use
 * the text as it is. */
static char *dh__secrets[] = {
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "whsec_c2Vjb25kLXNlY3JldC1mb3ItZnV6emluZw==",
};

struct dh__keyset {
    char label[64];
    struct dh_sig_keys *k;
    int can_sign;
    int base_url; /* built with FUZZ_BASE_URL */
    int nkeys;
};

static struct dh__keyset dh__keys[FUZZ_MAX_KEYS];
static size_t dh__nkeys;

static void dh__add_keys(const char *label, const struct dh_sig_scheme *s,
                         const struct dh_sig_hmac_spec *spec, const char *base_url)
{
    struct dh__keyset *ks = &dh__keys[dh__nkeys];
    char *pems[2];
    char err[256];
    int rc;

    if (dh__nkeys >= FUZZ_MAX_KEYS)
        abort();
    snprintf(ks->label, sizeof(ks->label), "%s", label);
    if (s != NULL && dh_sig_uses_public_key(s)) {
        /* The same key twice: as PEM, and with "\n" written out. */
        size_t n = strlen(dh__pem), o = 0;
        pems[0] = (char *)dh__pem;
        pems[1] = malloc(2 * n + 1);
        for (size_t i = 0; i < n; i++) {
            if (dh__pem[i] == '\n') {
                pems[1][o++] = '\\';
                pems[1][o++] = 'n';
            } else {
                pems[1][o++] = dh__pem[i];
            }
        }
        pems[1][o] = '\0';
        rc = dh_sig_keys_new(s, NULL, pems, 2, 0, base_url, &ks->k, err, sizeof(err));
        free(pems[1]);
    } else {
        rc = dh_sig_keys_new(s, spec, dh__secrets, 2, 0, base_url, &ks->k, err, sizeof(err));
        ks->can_sign = 1;
    }
    if (rc != 0) {
        fprintf(stderr, "fuzz_signature: keys for %s: %s\n", label, err);
        abort();
    }
    ks->nkeys = 2;
    ks->base_url = base_url != NULL;
    dh__nkeys++;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const struct dh_sig_hmac_spec specs[] = {
        {"X-Webhook-Signature", "sha256", 0, NULL, "{timestamp}.{body}", "X-Webhook-Timestamp"},
        {"X-Webhook-Signature", "sha512", 1, "v1=", NULL, NULL},
        {"X-Webhook-Signature", "sha1", 0, "sha1=", "{method}\n{url}\n{timestamp}\n{body}",
         "X-Webhook-Timestamp"},
    };
    char names[1024], *save = NULL;

    (void)argc;
    (void)argv;
    dh_sig_names(names, sizeof(names));
    for (char *n = strtok_r(names, ", ", &save); n != NULL; n = strtok_r(NULL, ", ", &save)) {
        const struct dh_sig_scheme *s = dh_sig_find(n);
        if (s == NULL) {
            fprintf(stderr, "fuzz_signature: dh_sig_names lists %s, dh_sig_find does not know it\n",
                    n);
            abort();
        }
        dh__add_keys(n, s, NULL, NULL);
        if (strcmp(n, "hubspot") == 0)
            dh__add_keys("hubspot+base_url", s, NULL, FUZZ_BASE_URL);
    }
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        char label[32];
        snprintf(label, sizeof(label), "generic-hmac-%zu", i);
        dh__add_keys(label, NULL, &specs[i], NULL);
    }
    return 0;
}

/* ---- the fuzzed request ---- */

struct dh__req {
    const char *v[NHDR];
};

static const char *dh__req_header(void *ctx, const char *name)
{
    const struct dh__req *r = ctx;
    for (size_t i = 0; i < HDR_METHOD; i++)
        if (strcasecmp(dh__hdr[i], name) == 0)
            return r->v[i];
    return NULL;
}

/* ---- a signed request, for the round trip ---- */

struct dh__signed {
    const struct dh_sig_headers *h;
    const char *host;
};

static const char *dh__signed_header(void *ctx, const char *name)
{
    const struct dh__signed *s = ctx;
    for (int i = 0; i < s->h->n; i++)
        if (strcasecmp(s->h->name[i], name) == 0)
            return s->h->value[i];
    if (strcasecmp(name, "Host") == 0)
        return s->host;
    return NULL;
}

static void dh__check_verify(const struct dh__keyset *ks, int rc, int matched, const char *why,
                             size_t whylen)
{
    const char *bad = NULL;

    if (memchr(why, '\0', whylen) == NULL)
        bad = "the reason is not terminated";
    else if (rc == 0 && (matched < 0 || matched >= ks->nkeys))
        bad = "a match names no key";
    else if (rc != 0 && rc != DH_E_MISSING_SIGNATURE && rc != DH_E_INVALID_SIGNATURE &&
             rc != DH_E_TIMESTAMP)
        bad = "an undocumented result";
    else if (rc != 0 && (why[0] == '\0' || strchr(why, '\n') != NULL))
        bad = "a refusal without a one-line reason";
    if (bad != NULL) {
        fprintf(stderr, "fuzz_signature: %s: %s (rc %d, key %d)\n", ks->label, bad, rc, matched);
        abort();
    }
}

/* A value the round trip can carry as it is: short, printable, one line. */
static int dh__plain(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] == 0x7f)
            return 0;
    return n > 0 && n <= max;
}

static void dh__round_trip(const struct dh__keyset *ks, const struct dh__req *r, const char *body,
                           size_t len)
{
    const char *method = r->v[HDR_METHOD], *uri = r->v[HDR_URI], *host = r->v[HDR_HOST];
    const char *id = r->v[0];
    struct dh_sig_headers h;
    struct dh__signed sv;
    struct dh_sig_request rq;
    char url[1200], err[256], why[256];
    int matched = -1, rc;

    if (method == NULL || !dh__plain(method, 16) || strchr(method, ' ') != NULL)
        method = "POST";
    if (uri == NULL || !dh__plain(uri, 512) || uri[0] != '/')
        uri = "/webhooks/fuzz";
    /* The verifier takes the host from Host unless a base_url is set. */
    if (host == NULL || !dh__plain(host, 253) || strpbrk(host, "%/ ") != NULL)
        host = "gateway.example.com";
    if (id != NULL && !dh__plain(id, 200))
        id = NULL;
    if (id == NULL)
        id = "msg_fuzz";
    snprintf(url, sizeof(url), "%s%s%s", ks->base_url ? FUZZ_BASE_URL : "https://",
             ks->base_url ? "" : host, uri);

    rc = dh_sig_sign(ks->k, body, len, FUZZ_NOW_S, method, url, id, &h, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "fuzz_signature: %s cannot sign: %s\n", ks->label, err);
        abort();
    }
    sv = (struct dh__signed){&h, host};
    rq = (struct dh_sig_request){dh__signed_header, &sv, method, uri, body, len,
                                 FUZZ_NOW_S * 1000};
    why[0] = '\0';
    rc = dh_sig_verify(ks->k, &rq, &matched, why, sizeof(why));
    if (rc != 0 || matched != 0) {
        fprintf(stderr,
                "fuzz_signature: %s does not accept its own signature (rc %d, key %d): %s\n",
                ks->label, rc, matched, why);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dh__req r = {{NULL}};
    char *buf, *p, *end, *body;
    size_t len;
    int empty_is_header;
    long long ts;
    char *tsend = NULL;

    if (size < 1)
        return 0;
    empty_is_header = data[0] & 1;
    buf = malloc(size); /* the values, each NUL-terminated in place */
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    p = buf;
    end = buf + size - 1;
    for (size_t i = 0; i < NHDR && p < end; i++) {
        char *z = memchr(p, '\0', (size_t)(end - p));
        if (z == NULL) {
            /* The last value runs to the end; the body is empty. */
            z = end;
        }
        if (z > p || empty_is_header)
            r.v[i] = p;
        p = z + 1;
    }
    /* The body in its own block of exactly its size, so ASan sees any
     * read past it. */
    len = p < end ? (size_t)(end - p) : 0;
    body = malloc(len ? len : 1);
    if (len)
        memcpy(body, p, len);

    for (size_t i = 0; i < dh__nkeys; i++) {
        const struct dh__keyset *ks = &dh__keys[i];
        struct dh_sig_request rq = {dh__req_header, &r, r.v[HDR_METHOD], r.v[HDR_URI], body, len,
                                    FUZZ_NOW_S * 1000};
        char why[200];
        int matched = -1, rc;

        memset(why, 'x', sizeof(why));
        why[0] = '\0';
        rc = dh_sig_verify(ks->k, &rq, &matched, why, sizeof(why));
        dh__check_verify(ks, rc, matched, why, sizeof(why));
    }

    for (size_t i = 0; i < dh__nkeys; i++)
        if (dh__keys[i].can_sign)
            dh__round_trip(&dh__keys[i], &r, body, len);

    /* As the command line reads --timestamp: strtoll, so up to LLONG_MAX. */
    ts = r.v[1] != NULL ? strtoll(r.v[1], &tsend, 10) : 0;
    if (r.v[1] != NULL && tsend != r.v[1] && *tsend == '\0' && ts > 0) {
        for (size_t i = 0; i < dh__nkeys; i++) {
            struct dh_sig_headers h;
            char err[256];
            if (dh__keys[i].can_sign)
                dh_sig_sign(dh__keys[i].k, body, len, (int64_t)ts, "POST",
                            FUZZ_BASE_URL "/webhooks/fuzz", "msg_fuzz", &h, err, sizeof(err));
        }
    }

    free(body);
    free(buf);
    return 0;
}
