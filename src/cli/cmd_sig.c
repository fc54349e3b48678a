/*
 * cmd_sig.c: `deskhook secret`, `sign`, `verify` and `send`: the signature
 * schemes of ingest/signature.h from the command line, for setting up a
 * platform and for testing a running gateway.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "cli/cli.h"
#include "config/units.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/error.h"
#include "ingest/signature.h"

#define DH__BODY_MAX (64u << 20)
#define DH__MAX_SECRETS 16
#define DH__MAX_HEADERS 32

/* Options shared by sign, verify and send. */
struct dh__sigopts {
    const char *scheme;
    const char *secrets[DH__MAX_SECRETS];
    size_t nsecrets;
    const char *headers[DH__MAX_HEADERS]; /* "Name: value" */
    size_t nheaders;
    int64_t timestamp;
    const char *url;
    const char *method;
    const char *id;
    uint64_t tolerance_ms;
    /* hmac only */
    struct dh_sig_hmac_spec hmac;
};

enum { DH__O_TS = 1000, DH__O_URL, DH__O_METHOD, DH__O_ID, DH__O_TOL, DH__O_ALG, DH__O_ENC,
       DH__O_HDR, DH__O_PREFIX, DH__O_SIGNED, DH__O_TSHDR };

static const struct option dh__long[] = {
    {"scheme", required_argument, NULL, 's'},
    {"secret", required_argument, NULL, 'k'},
    {"header", required_argument, NULL, 'H'},
    {"timestamp", required_argument, NULL, DH__O_TS},
    {"url", required_argument, NULL, DH__O_URL},
    {"method", required_argument, NULL, DH__O_METHOD},
    {"id", required_argument, NULL, DH__O_ID},
    {"tolerance", required_argument, NULL, DH__O_TOL},
    {"algorithm", required_argument, NULL, DH__O_ALG},
    {"encoding", required_argument, NULL, DH__O_ENC},
    {"signature-header", required_argument, NULL, DH__O_HDR},
    {"prefix", required_argument, NULL, DH__O_PREFIX},
    {"signed", required_argument, NULL, DH__O_SIGNED},
    {"timestamp-header", required_argument, NULL, DH__O_TSHDR},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char dh__common_help[] =
    "  -s, --scheme S        signature scheme (default hmac); one of:\n"
    "                        %s\n"
    "  -k, --secret X        secret (repeat for several; Freshchat: a PEM public key)\n"
    "      --timestamp T     Unix seconds to sign with (default now)\n"
    "      --url U           the full URL (HubSpot signs it)\n"
    "      --method M        the HTTP method (default POST)\n"
    "      --id ID           Standard Webhooks message id (default random)\n"
    "      --tolerance D     how old a timestamp may be (default 5m)\n"
    "  hmac only: --algorithm sha1|sha256|sha512, --encoding hex|base64,\n"
    "      --signature-header NAME (default X-Webhook-Signature), --prefix P,\n"
    "      --signed TEMPLATE (e.g. '{timestamp}.{body}'), --timestamp-header NAME\n";

/* Returns 0, 1 (help printed), or 2 (usage error, message printed). */
static int dh__parse(int argc, char **argv, struct dh__sigopts *o, void (*usage)(FILE *))
{
    int c;
    char err[200];

    memset(o, 0, sizeof(*o));
    o->scheme = "hmac";
    o->method = "POST";
    o->hmac.header = "X-Webhook-Signature";
    o->hmac.algorithm = "sha256";
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:k:H:h", dh__long, NULL)) != -1) {
        switch (c) {
        case 's':
            o->scheme = optarg;
            break;
        case 'k':
            if (o->nsecrets < DH__MAX_SECRETS)
                o->secrets[o->nsecrets++] = optarg;
            break;
        case 'H':
            if (o->nheaders < DH__MAX_HEADERS)
                o->headers[o->nheaders++] = optarg;
            break;
        case DH__O_TS: {
            char *end = NULL;
            errno = 0;
            o->timestamp = strtoll(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || o->timestamp <= 0) {
                fprintf(stderr, "deskhook: --timestamp wants Unix seconds\n");
                return 2;
            }
            break;
        }
        case DH__O_URL:
            o->url = optarg;
            break;
        case DH__O_METHOD:
            o->method = optarg;
            break;
        case DH__O_ID:
            o->id = optarg;
            break;
        case DH__O_TOL:
            if (dh_units_parse_duration(optarg, &o->tolerance_ms, err, sizeof(err)) < 0) {
                fprintf(stderr, "deskhook: --tolerance: %s\n", err);
                return 2;
            }
            break;
        case DH__O_ALG:
            o->hmac.algorithm = optarg;
            break;
        case DH__O_ENC:
            o->hmac.base64 = strcmp(optarg, "base64") == 0;
            break;
        case DH__O_HDR:
            o->hmac.header = optarg;
            break;
        case DH__O_PREFIX:
            o->hmac.prefix = optarg;
            break;
        case DH__O_SIGNED:
            o->hmac.signed_template = optarg;
            break;
        case DH__O_TSHDR:
            o->hmac.timestamp_header = optarg;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return 2;
        }
    }
    return 0;
}

static void dh__print_common(FILE *f)
{
    char names[400];
    dh_sig_names(names, sizeof(names));
    fprintf(f, dh__common_help, names);
}

static struct dh_sig_keys *dh__keys(const struct dh__sigopts *o, const char *base_url)
{
    const struct dh_sig_scheme *s = NULL;
    struct dh_sig_keys *k = NULL;
    char err[300];

    if (strcmp(o->scheme, "hmac") != 0) {
        s = dh_sig_find(o->scheme);
        if (s == NULL) {
            char names[400];
            dh_sig_names(names, sizeof(names));
            fprintf(stderr, "deskhook: unknown scheme \"%s\" (known: %s)\n", o->scheme, names);
            return NULL;
        }
    }
    if (o->nsecrets == 0) {
        fprintf(stderr, "deskhook: give --secret\n");
        return NULL;
    }
    if (dh_sig_keys_new(s, s ? NULL : &o->hmac, (char *const *)o->secrets, o->nsecrets,
                        o->tolerance_ms, base_url, &k, err, sizeof(err)) < 0) {
        fprintf(stderr, "deskhook: %s\n", err);
        return NULL;
    }
    return k;
}

static char *dh__read_stdin(size_t *len)
{
    struct dh_buf b;
    char chunk[65536];
    size_t n;

    dh_buf_init(&b, DH__BODY_MAX);
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
        if (dh_buf_append(&b, chunk, n) < 0) {
            fprintf(stderr, "deskhook: the body on standard input is larger than 64 MiB\n");
            dh_buf_free(&b);
            return NULL;
        }
    }
    return dh_buf_steal(&b, len);
}

/* ---- secret ---- */

static void dh__secret_usage(FILE *f)
{
    fprintf(f, "usage: deskhook secret [--scheme S]\n\n"
               "Prints a new random secret in the form the scheme uses (whsec_… for\n"
               "standard-webhooks, svix and stripe; 64 hex characters otherwise).\n");
}

int dh_cli_secret(int argc, char **argv)
{
    struct dh__sigopts o;
    const struct dh_sig_scheme *s = NULL;
    char out[128];
    int rc = dh__parse(argc, argv, &o, dh__secret_usage);

    if (rc != 0)
        return rc == 1 ? 0 : 2;
    if (strcmp(o.scheme, "hmac") != 0 && (s = dh_sig_find(o.scheme)) == NULL) {
        fprintf(stderr, "deskhook: unknown scheme \"%s\"\n", o.scheme);
        return 2;
    }
    dh_sig_new_secret(s, out, sizeof(out));
    printf("%s\n", out);
    return 0;
}

/* ---- sign ---- */

static void dh__sign_usage(FILE *f)
{
    fprintf(f, "usage: deskhook sign --scheme S --secret X [options] < body\n\n"
               "Prints the headers a platform would send with this body, one per line.\n\n");
    dh__print_common(f);
}

static int dh__sign_headers(const struct dh__sigopts *o, const char *body, size_t len,
                            struct dh_sig_headers *h)
{
    const struct dh_sig_scheme *s = dh_sig_find(o->scheme);
    if (s != NULL && dh_sig_uses_public_key(s)) {
        fprintf(stderr, "deskhook: %s signs with the platform's private key; deskhook only "
                        "verifies it\n", o->scheme);
        return 2;
    }
    struct dh_sig_keys *k = dh__keys(o, NULL);
    char err[300];
    int rc;

    if (k == NULL)
        return 2;
    rc = dh_sig_sign(k, body, len, o->timestamp, o->method, o->url, o->id, h, err, sizeof(err));
    dh_sig_keys_free(k);
    if (rc < 0) {
        fprintf(stderr, "deskhook: %s\n", err);
        return 2;
    }
    return 0;
}

int dh_cli_sign(int argc, char **argv)
{
    struct dh__sigopts o;
    struct dh_sig_headers h;
    size_t len = 0;
    char *body;
    int rc = dh__parse(argc, argv, &o, dh__sign_usage);

    if (rc != 0)
        return rc == 1 ? 0 : 2;
    body = dh__read_stdin(&len);
    if (body == NULL)
        return 2;
    rc = dh__sign_headers(&o, body, len, &h);
    free(body);
    if (rc != 0)
        return rc;
    for (int i = 0; i < h.n; i++)
        printf("%s: %s\n", h.name[i], h.value[i]);
    return 0;
}

/* ---- verify ---- */

static void dh__verify_usage(FILE *f)
{
    fprintf(f, "usage: deskhook verify --scheme S --secret X -H 'Name: value'... < body\n\n"
               "Checks the headers against the body. Exits 0 when the signature is valid,\n"
               "1 with the reason when it is not.\n\n"
               "  -H, --header 'Name: value'   a header the request carried (repeat)\n");
    dh__print_common(f);
}

struct dh__hdrs {
    const struct dh__sigopts *o;
    char buf[256];
};

static const char *dh__hdr_get(void *ctx, const char *name)
{
    struct dh__hdrs *h = ctx;
    size_t nl = strlen(name);
    for (size_t i = 0; i < h->o->nheaders; i++) {
        const char *hv = h->o->headers[i];
        if (strncasecmp(hv, name, nl) == 0 && hv[nl] == ':') {
            hv += nl + 1;
            while (*hv == ' ')
                hv++;
            return hv;
        }
    }
    return NULL;
}

/* Splits a full URL into its base ("https://host") and its request URI. */
static void dh__split_url(const char *url, char *base, size_t baselen, const char **uri)
{
    const char *p = strstr(url, "://");
    const char *slash = p ? strchr(p + 3, '/') : NULL;
    size_t n = slash ? (size_t)(slash - url) : strlen(url);
    snprintf(base, baselen, "%.*s", (int)n, url);
    *uri = slash ? slash : "/";
}

int dh_cli_verify(int argc, char **argv)
{
    struct dh__sigopts o;
    struct dh__hdrs hs;
    struct dh_sig_keys *k;
    char base[512] = "", why[300];
    const char *uri = "/";
    size_t len = 0;
    char *body;
    int matched = -1;
    int rc = dh__parse(argc, argv, &o, dh__verify_usage);

    if (rc != 0)
        return rc == 1 ? 0 : 2;
    if (o.url != NULL)
        dh__split_url(o.url, base, sizeof(base), &uri);
    k = dh__keys(&o, base[0] ? base : NULL);
    if (k == NULL)
        return 2;
    body = dh__read_stdin(&len);
    if (body == NULL) {
        dh_sig_keys_free(k);
        return 2;
    }
    hs.o = &o;
    struct dh_sig_request sr = {dh__hdr_get, &hs, o.method, uri, body, len, dh_clock_wall_ms()};
    rc = dh_sig_verify(k, &sr, &matched, why, sizeof(why));
    if (rc == 0)
        printf("valid: %s signature matches secret %d\n", o.scheme, matched + 1);
    else
        fprintf(stderr, "%s: %s\n", dh_error_code(rc), why);
    free(body);
    dh_sig_keys_free(k);
    return rc == 0 ? 0 : 1;
}

/* ---- send ---- */

static void dh__send_usage(FILE *f)
{
    fprintf(f, "usage: deskhook send URL --scheme S --secret X [options] < body\n\n"
               "POSTs the body to URL signed as the platform would (Content-Type:\n"
               "application/json), prints the status line and the answer, and exits 0 on\n"
               "a 2xx answer, 1 otherwise.\n\n"
               "  -H, --header 'Name: value'   an extra header (repeat)\n");
    dh__print_common(f);
}

static size_t dh__collect(char *p, size_t size, size_t n, void *ud)
{
    struct dh_buf *b = ud;
    if (dh_buf_append(b, p, size * n) < 0)
        return 0;
    return size * n;
}

int dh_cli_send(int argc, char **argv)
{
    struct dh__sigopts o;
    struct dh_sig_headers h;
    struct curl_slist *hdrs = NULL;
    struct dh_buf answer;
    char line[700];
    size_t len = 0;
    char *body = NULL;
    CURL *curl = NULL;
    long status = 0;
    int rc = dh__parse(argc, argv, &o, dh__send_usage);

    if (rc != 0)
        return rc == 1 ? 0 : 2;
    if (optind >= argc) {
        dh__send_usage(stderr);
        return 2;
    }
    if (o.url == NULL)
        o.url = argv[optind];
    body = dh__read_stdin(&len);
    if (body == NULL)
        return 2;
    rc = dh__sign_headers(&o, body, len, &h);
    if (rc != 0)
        goto out;
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    for (int i = 0; i < h.n; i++) {
        snprintf(line, sizeof(line), "%s: %s", h.name[i], h.value[i]);
        hdrs = curl_slist_append(hdrs, line);
    }
    for (size_t i = 0; i < o.nheaders; i++)
        hdrs = curl_slist_append(hdrs, o.headers[i]);
    dh_buf_init(&answer, 1 << 20);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, argv[optind]);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, o.method);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "deskhook/" DH_VERSION);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, dh__collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
    CURLcode cc = curl_easy_perform(curl);
    if (cc != CURLE_OK) {
        fprintf(stderr, "deskhook: %s: %s\n", argv[optind], curl_easy_strerror(cc));
        rc = 1;
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        printf("HTTP %ld\n%s\n", status, answer.data ? answer.data : "");
        rc = status >= 200 && status < 300 ? 0 : 1;
    }
    dh_buf_free(&answer);
    curl_easy_cleanup(curl);
    curl_slist_free_all(hdrs);
    curl_global_cleanup();
out:
    free(body);
    return rc;
}
