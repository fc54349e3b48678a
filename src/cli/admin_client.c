/*
 * admin_client.c: the client side of the admin API for CLI commands
 * (admin_client.h). It resolves where the gateway is and which token to
 * send from flags, environment and the config file, performs one request at
 * a time with a libcurl easy handle, and prints answers the same way for
 * every command. The token lives only in this struct and in the request's
 * Authorization header; it is wiped before its memory is freed.
 */
#include "cli/admin_client.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cli/cli.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"

#define DH__HOST_MAX 256
#define DH__SHOWN_MAX 300 /* bytes of an unexpected error body shown */

struct dh_cli_admin {
    char *url;   /* base URL, no trailing slash */
    char *token; /* wiped in dh_cli_admin_close */
    CURL *curl;
};

/* Write target of one request: the answer and whether it overflowed. */
struct dh__sink {
    struct dh_buf buf;
    int too_large;
};

static const char *dh__nonempty(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : NULL;
}

static void dh__wipe_free(char *s)
{
    if (s == NULL)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

/* Prints the config problems that may explain a missing admin value (the
 * admin keys themselves, unset variables), not the rest of the file's. */
static void dh__print_admin_errors(const struct dh_errlist *el)
{
    for (size_t i = 0; i < el->n; i++) {
        if (strstr(el->lines[i], "admin") != NULL ||
            strstr(el->lines[i], "environment variable") != NULL)
            fprintf(stderr, "%s\n", el->lines[i]);
    }
}

int dh_cli_admin_option(struct dh_cli_admin_opts *o, int c, const char *arg)
{
    switch (c) {
    case DH_CLI_ADMIN_O_URL:
        o->url = arg;
        return 1;
    case DH_CLI_ADMIN_O_TOKEN:
        o->token = arg;
        return 1;
    case 'c':
        o->config = arg;
        return 1;
    default:
        return 0;
    }
}

/* Turns admin.listen ("host:port", "[v6]:port") into a base URL. A wildcard
 * address is where the gateway listens, not where to connect: it becomes the
 * loopback address of the same family. Returns 0 and *url, or DH_E_CONFIG. */
static int dh__url_from_listen(const char *file, const char *listen, char **url, char *err,
                               size_t errlen)
{
    char host[DH__HOST_MAX];
    unsigned port = 0;
    const char *h = host;

    if (dh_config_split_addr(listen, host, sizeof(host), &port) < 0) {
        snprintf(err, errlen, "%s: admin.listen \"%s\" is not HOST:PORT", file, listen);
        return DH_E_CONFIG;
    }
    if (port == 0) {
        snprintf(err, errlen,
                 "%s: admin.listen has port 0 (the gateway picks one when it starts): "
                 "give --admin-url with the port it logged",
                 file);
        return DH_E_CONFIG;
    }
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0)
        h = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        h = "::1";
    if (strchr(h, ':') != NULL)
        *url = dh_asprintf("http://[%s]:%u", h, port);
    else
        *url = dh_asprintf("http://%s:%u", h, port);
    return 0;
}

/* Checks a URL given on the command line or in the environment and returns
 * a normalised copy: "http://" is assumed when no scheme is written, and
 * trailing slashes go. Returns 0 and *url, or DH_E_BAD_REQUEST. */
static int dh__url_from_flag(const char *given, char **url, char *err, size_t errlen)
{
    size_t skip, n;
    char *u;

    if (strstr(given, "://") == NULL)
        u = dh_asprintf("http://%s", given);
    else if (strncmp(given, "http://", 7) == 0 || strncmp(given, "https://", 8) == 0)
        u = dh_strdup(given);
    else {
        snprintf(err, errlen, "the admin URL \"%s\" must start with http:// or https://", given);
        return DH_E_BAD_REQUEST;
    }
    skip = strncmp(u, "https://", 8) == 0 ? 8 : 7;
    n = strlen(u);
    while (n > skip && u[n - 1] == '/')
        u[--n] = '\0';
    /* A base URL may carry a path prefix (behind a reverse proxy), but no
     * query or fragment, which the request path would be appended to. */
    if (n == skip || u[skip] == '/' || strchr(u, '?') != NULL || strchr(u, '#') != NULL) {
        snprintf(err, errlen,
                 "the admin URL \"%s\" must be a base URL such as http://127.0.0.1:8081", given);
        free(u);
        return DH_E_BAD_REQUEST;
    }
    *url = u;
    return 0;
}

int dh_cli_admin_open(const struct dh_cli_admin_opts *o, struct dh_cli_admin **out, char *err,
                      size_t errlen)
{
    struct dh_cli_admin *a = NULL;
    struct dh_config *cfg = NULL;
    struct dh_errlist el = {0};
    const char *url = dh__nonempty(o->url);
    const char *token = dh__nonempty(o->token);
    int rc = 0;

    *out = NULL;
    if (url == NULL)
        url = dh__nonempty(getenv("DESKHOOK_ADMIN_URL"));
    if (token == NULL)
        token = dh__nonempty(getenv("DESKHOOK_ADMIN_TOKEN"));
    if (o->config != NULL) {
        rc = dh_config_load(o->config, &cfg, &el);
        if (cfg == NULL) {
            /* Unreadable, or not YAML at all: nothing to take from it. */
            dh_cli_print_errors(&el);
            snprintf(err, errlen, "cannot read the admin settings from %s", o->config);
            rc = rc < 0 ? rc : DH_E_CONFIG;
            goto out;
        }
        /* Problems elsewhere in the file do not matter here. */
        rc = 0;
    }
    a = dh_new(struct dh_cli_admin);
    if (url != NULL) {
        rc = dh__url_from_flag(url, &a->url, err, errlen);
    } else if (cfg != NULL && dh__nonempty(cfg->admin_listen) != NULL) {
        rc = dh__url_from_listen(o->config, cfg->admin_listen, &a->url, err, errlen);
    } else if (cfg != NULL) {
        dh__print_admin_errors(&el);
        snprintf(err, errlen, "%s gives no admin.listen: give --admin-url", o->config);
        rc = DH_E_CONFIG;
    } else {
        a->url = dh_strdup(DH_CLI_ADMIN_DEFAULT_URL);
    }
    if (rc < 0)
        goto out;
    if (token == NULL && cfg != NULL)
        token = dh__nonempty(cfg->admin_token);
    if (token == NULL) {
        if (cfg != NULL)
            dh__print_admin_errors(&el);
        snprintf(err, errlen, "no admin token: give --token, set DESKHOOK_ADMIN_TOKEN%s",
                 cfg != NULL ? ", or set admin.token in the file" : ", or -c FILE with admin.token");
        rc = DH_E_UNAUTHORIZED;
        goto out;
    }
    a->token = dh_strdup(token);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "libcurl could not be initialised");
        rc = DH_E_INTERNAL;
        goto out;
    }
    a->curl = curl_easy_init();
    if (a->curl == NULL) {
        curl_global_cleanup();
        snprintf(err, errlen, "libcurl could not be initialised");
        rc = DH_E_INTERNAL;
        goto out;
    }
    *out = a;
    a = NULL;
out:
    if (a != NULL) {
        dh__wipe_free(a->token);
        free(a->url);
        free(a);
    }
    dh_config_free(cfg);
    dh_errlist_free(&el);
    return rc;
}

void dh_cli_admin_close(struct dh_cli_admin *a)
{
    if (a == NULL)
        return;
    curl_easy_cleanup(a->curl);
    curl_global_cleanup();
    dh__wipe_free(a->token);
    free(a->url);
    free(a);
}

const char *dh_cli_admin_url(const struct dh_cli_admin *a)
{
    return a->url;
}

static size_t dh__collect(char *p, size_t size, size_t n, void *ud)
{
    struct dh__sink *s = ud;
    if (dh_buf_append(&s->buf, p, size * n) < 0) {
        s->too_large = 1;
        return 0;
    }
    return size * n;
}

/* curl_slist_append returns NULL only when it cannot allocate. */
static struct curl_slist *dh__header(struct curl_slist *l, const char *h)
{
    struct curl_slist *r = curl_slist_append(l, h);
    if (r == NULL) {
        fprintf(stderr, "deskhook: out of memory\n");
        abort();
    }
    return r;
}

int dh_cli_admin_request(struct dh_cli_admin *a, const char *method, const char *path,
                         const char *body, struct dh_cli_admin_answer *ans, char *err,
                         size_t errlen)
{
    struct curl_slist *hdrs = NULL;
    struct dh__sink sink = {.too_large = 0};
    char cerr[CURL_ERROR_SIZE] = "";
    char *full = NULL, *auth = NULL;
    CURL *c = a->curl;
    CURLcode cc;
    int rc = 0;

    memset(ans, 0, sizeof(*ans));
    dh_buf_init(&sink.buf, DH_CLI_ADMIN_ANSWER_MAX);
    full = dh_asprintf("%s%s", a->url, path);
    auth = dh_asprintf("Authorization: Bearer %s", a->token);
    hdrs = dh__header(hdrs, auth);
    hdrs = dh__header(hdrs, "Accept: application/json");
    hdrs = dh__header(hdrs, "Expect:");
    /* Without a body, no Content-Type at all (curl would add a form type). */
    hdrs = dh__header(hdrs, body != NULL ? "Content-Type: application/json" : "Content-Type:");

    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, full);
    /* The admin API is local: a proxy from the environment must not see
     * the token, and no redirect is followed with it. */
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, DH_CLI_ADMIN_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, DH_CLI_ADMIN_CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "deskhook/" DH_VERSION);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, dh__collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        if (body != NULL || strcmp(method, "DELETE") != 0) {
            /* Content-Length: 0 on a POST without a body. */
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body != NULL ? body : "");
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)(body != NULL ? strlen(body) : 0));
        }
    }

    cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        const char *why = cerr[0] != '\0' ? cerr : curl_easy_strerror(cc);
        if (sink.too_large) {
            snprintf(err, errlen, "the answer from %s is larger than %u MiB", full,
                     DH_CLI_ADMIN_ANSWER_MAX >> 20);
            rc = DH_E_TOO_LARGE;
        } else if (cc == CURLE_OPERATION_TIMEDOUT) {
            snprintf(err, errlen, "no answer from %s within %ld s: %s", full,
                     DH_CLI_ADMIN_TIMEOUT_S, why);
            rc = -ETIMEDOUT;
        } else if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST) {
            snprintf(err, errlen, "cannot reach the admin API at %s: %s", full, why);
            rc = -ECONNREFUSED;
        } else {
            snprintf(err, errlen, "request to %s failed: %s", full, why);
            rc = -EIO;
        }
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ans->status);
    ans->body = dh_buf_steal(&sink.buf, &ans->len);
out:
    /* The handle keeps a pointer to hdrs only until the next reset. */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    dh__wipe_free(auth);
    free(full);
    dh_buf_free(&sink.buf);
    return rc;
}

void dh_cli_admin_answer_free(struct dh_cli_admin_answer *ans)
{
    if (ans == NULL)
        return;
    free(ans->body);
    memset(ans, 0, sizeof(*ans));
}

char *dh_cli_admin_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = dh_malloc(n * 3 + 1), *p = out;

    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            *p++ = (char)ch;
        } else {
            *p++ = '%';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        }
    }
    *p = '\0';
    return out;
}

/* Writes at most max bytes of s to f, control characters as '?', so an
 * answer cannot drive the terminal. */
static void dh__put_text(FILE *f, const char *s, size_t len, size_t max)
{
    size_t n = len < max ? len : max;
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        fputc(ch < 0x20 || ch == 0x7f ? '?' : ch, f);
    }
    if (len > max)
        fputs("…", f);
}

int dh_cli_admin_report(const char *cmd, const struct dh_cli_admin_answer *ans)
{
    json_t *j = NULL;
    int rc;

    if (ans->len > 0)
        j = json_loadb(ans->body, ans->len, JSON_DECODE_ANY, NULL);
    if (ans->status >= 200 && ans->status < 300) {
        if (j != NULL) {
            char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
            if (s != NULL)
                printf("%s\n", s);
            free(s);
        } else if (ans->len > 0) {
            fwrite(ans->body, 1, ans->len, stdout);
            if (ans->body[ans->len - 1] != '\n')
                putchar('\n');
        }
        rc = 0;
    } else {
        json_t *e = json_object_get(j, "error");
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        fprintf(stderr, "%s: ", cmd);
        if (code != NULL) {
            dh__put_text(stderr, code, strlen(code), 100);
            fputs(": ", stderr);
            dh__put_text(stderr, msg != NULL ? msg : "", msg != NULL ? strlen(msg) : 0, 1000);
        } else {
            fprintf(stderr, "HTTP %ld: ", ans->status);
            dh__put_text(stderr, ans->body ? ans->body : "", ans->len, DH__SHOWN_MAX);
        }
        fputc('\n', stderr);
        rc = 1;
    }
    json_decref(j);
    fflush(stdout);
    return rc;
}
