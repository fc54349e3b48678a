/*
 * admin_client.h: how a CLI command reaches a running gateway's admin API.
 *
 * A command collects three options (struct dh_cli_admin_opts), then
 * dh_cli_admin_open() decides where the gateway is and which token to send:
 *
 *   base URL   --admin-url, else $DESKHOOK_ADMIN_URL, else admin.listen from
 *              -c FILE (0.0.0.0 and [::] mean loopback), else
 *              http://127.0.0.1:8081 (admin.listen's default)
 *   token      --token, else $DESKHOOK_ADMIN_TOKEN, else admin.token from
 *              -c FILE
 *
 * Flags win over the environment, the environment over the file; an empty
 * value counts as unset. A file that fails validation for other reasons is
 * still used when the admin keys it needs are set. dh_cli_admin_request()
 * then performs one request with libcurl: no proxy from the environment, no
 * redirects, a timeout, and an answer of at most DH_CLI_ADMIN_ANSWER_MAX
 * bytes. The token is sent in the Authorization header and never appears in
 * an error message. Everything here runs on the command's one thread.
 */
#ifndef DH_CLI_ADMIN_CLIENT_H
#define DH_CLI_ADMIN_CLIENT_H

#include <stddef.h>

#define DH_CLI_ADMIN_ANSWER_MAX (16u << 20) /* bytes of one answer */
#define DH_CLI_ADMIN_TIMEOUT_S 30L          /* whole request */
#define DH_CLI_ADMIN_CONNECT_TIMEOUT_S 10L
#define DH_CLI_ADMIN_DEFAULT_URL "http://127.0.0.1:8081"

/* getopt_long values of the shared options, for a command's option table:
 *   {"admin-url", required_argument, NULL, DH_CLI_ADMIN_O_URL},
 *   {"token", required_argument, NULL, DH_CLI_ADMIN_O_TOKEN},
 *   {"config", required_argument, NULL, 'c'}, */
enum { DH_CLI_ADMIN_O_URL = 3000, DH_CLI_ADMIN_O_TOKEN };

/* The help lines for those options. */
#define DH_CLI_ADMIN_HELP                                                                   \
    "  -c, --config FILE     read admin.listen and admin.token from FILE\n"                \
    "      --admin-url URL   the admin API, e.g. http://127.0.0.1:8081\n"                   \
    "                        (default $DESKHOOK_ADMIN_URL, then FILE's admin.listen)\n"     \
    "      --token T         the admin token (default $DESKHOOK_ADMIN_TOKEN, then FILE's\n" \
    "                        admin.token; prefer the variable: flags show in ps)\n"

/* What the command line said; every field may be NULL. The strings are
 * borrowed (argv) and must outlive dh_cli_admin_open(). */
struct dh_cli_admin_opts {
    const char *url;
    const char *token;
    const char *config;
};

/* A resolved gateway: base URL and token. Opaque. */
struct dh_cli_admin;

/* One answer. body is NUL-terminated (len does not count the NUL) and owned
 * by the answer; free it with dh_cli_admin_answer_free(). */
struct dh_cli_admin_answer {
    long status;
    char *body;
    size_t len;
};

/* Records option c (a DH_CLI_ADMIN_O_* value or 'c') with its argument in o.
 * Returns 1 when c was one of the shared options, 0 otherwise. */
int dh_cli_admin_option(struct dh_cli_admin_opts *o, int c, const char *arg);

/* Resolves the base URL and token as described above and initialises
 * libcurl. Returns 0 and *out (free with dh_cli_admin_close), or a negative
 * code with a one-line reason in err: DH_E_CONFIG when the file cannot be
 * used or gives no usable admin.listen, DH_E_UNAUTHORIZED when no token is
 * known, DH_E_BAD_REQUEST for a URL that is not http:// or https://, -errno
 * when the file cannot be read. Problems the config loader found are written
 * to stderr when they may explain a missing value. */
int dh_cli_admin_open(const struct dh_cli_admin_opts *o, struct dh_cli_admin **out, char *err,
                      size_t errlen);

/* Releases a; NULL is fine. */
void dh_cli_admin_close(struct dh_cli_admin *a);

/* The resolved base URL, without a trailing slash (owned by a). */
const char *dh_cli_admin_url(const struct dh_cli_admin *a);

/* Sends method to base URL + path (path starts with '/', its segments
 * already escaped) with body as application/json (NULL: no body). Returns 0
 * with the status and body in *ans whatever the status (the caller owns
 * ans->body), or a negative code with a reason naming the URL in err:
 * -ECONNREFUSED (no connection), -ETIMEDOUT, DH_E_TOO_LARGE (the answer
 * exceeds DH_CLI_ADMIN_ANSWER_MAX), -EIO (any other transport failure). */
int dh_cli_admin_request(struct dh_cli_admin *a, const char *method, const char *path,
                         const char *body, struct dh_cli_admin_answer *ans, char *err,
                         size_t errlen);

/* Frees ans->body and resets ans; NULL is fine. */
void dh_cli_admin_answer_free(struct dh_cli_admin_answer *ans);

/* Returns s escaped for one URL path segment (free() it). */
char *dh_cli_admin_escape(const char *s);

/* Reports an answer the way every admin command does: a 2xx answer's JSON
 * is printed indented on stdout (a body that is not JSON as it is; nothing
 * for an empty one) and 0 is returned; otherwise "<cmd>: <code>: <message>"
 * from the {"error": {"code", "message"}} body goes to stderr (or the status
 * and the start of the body when it has no such shape) and 1 is returned. */
int dh_cli_admin_report(const char *cmd, const struct dh_cli_admin_answer *ans);

#endif
