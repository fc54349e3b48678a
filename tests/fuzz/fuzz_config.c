/*
 * fuzz_config.c: libFuzzer target for the YAML configuration loader
 * (config/config.h) and ingest's checks of a loaded config (ingest.h), the
 * path `deskhook check` and `deskhook serve` take.
 *
 * The loader reads files, so the input is written to one temporary file per
 * process, made at start in $TMPDIR (default /tmp), and loaded; a config,
 * complete or partial, then goes through dh_ingest_new(), and everything is
 * freed, so LeakSanitizer sees every allocation the loader makes. A few
 * environment variables are set once so that ${VAR}, ${VAR:-default} and
 * unset variables all occur.
 *
 * Besides memory errors and leaks it checks the loader's contract: the
 * result is 0 or DH_E_CONFIG; 0 comes with a config and no problem listed,
 * DH_E_CONFIG with at least one, each of the form FILE:LINE: message; a
 * config that loads and passes ingest has at least one source, an admin
 * token, and each source is reachable at /webhooks/NAME.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/error.h"
#include "ingest/ingest.h"
#include "ingest/preset.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dh__path[4096];

/* A broken promise: says which, for the report, and stops. */
#define FUZZ_CHECK(cond, ...)                                                           \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_config: " __VA_ARGS__);                               \
            fputc('\n', stderr);                                                        \
            abort();                                                                    \
        }                                                                               \
    } while (0)

static void dh__cleanup(void)
{
    if (dh__path[0] != '\0')
        unlink(dh__path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    int fd;

    (void)argc;
    (void)argv;
    snprintf(dh__path, sizeof(dh__path), "%s/deskhook-fuzz-config-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    fd = mkstemp(dh__path);
    if (fd < 0) {
        perror("fuzz_config: mkstemp");
        abort();
    }
    close(fd);
    atexit(dh__cleanup);

    setenv("DESKHOOK_ADMIN_TOKEN", "fuzz-admin-token", 1);
    setenv("FUZZ_SECRET", "fuzz-secret-0123456789", 1);
    setenv("FUZZ_WHSEC", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1);
    setenv("FUZZ_EMPTY", "", 1);
    setenv("FUZZ_CIDR", "10.0.0.0/8", 1);
    setenv("FUZZ_PEM",
           "-----BEGIN PUBLIC KEY-----\\n"
           "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAoz0kj5Z+OP3QvJe+LN8s\\n"
           "HW0Erpo0ZrYXXnFOHjulUn8W0Qkkt2l47xAmYGiRNACvhRp5gZJsT1VbXIEaQKdG\\n"
           "5rmS2l7a+Rc9nJAZw190cShSrkY+8QjLD71rB6KjxSuVnoLfFW9AuGrX1aNZvQHC\\n"
           "ZzWIoE97jAa7+j8SwsgBeeOkqAY2AfrCr+Fw2EuprQWoCNHtJX62hjf9lTxH4SLN\\n"
           "GXu2zTjSD7tu9mVuCih1hVN1CwJk512/mngUrgQHucsCDB+nZK0jaXKr0vBPlvne\\n"
           "l/+lLVdgmiIC1qw6dHHmyXVCz8erwi4fyKMHSMRIe32zTdPqFVnZZbwubtFBCiKd\\n"
           "HQIDAQAB\\n"
           "-----END PUBLIC KEY-----\\n",
           1);
    unsetenv("FUZZ_UNSET");

    if (dh_preset_load_all(err, sizeof(err)) < 0) {
        fprintf(stderr, "fuzz_config: presets: %s\n", err);
        abort();
    }
    return 0;
}

static void dh__write(const uint8_t *data, size_t size)
{
    FILE *f = fopen(dh__path, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        perror("fuzz_config: writing the input");
        abort();
    }
}

static void dh__check_errors(const struct dh_errlist *el, size_t from)
{
    size_t pl = strlen(dh__path);
    for (size_t i = from; i < el->n; i++) {
        const char *l = el->lines[i];
        FUZZ_CHECK(strncmp(l, dh__path, pl) == 0 && l[pl] == ':' && l[pl + 1] >= '0' &&
                       l[pl + 1] <= '9',
                   "a problem without FILE:LINE: %s", l);
    }
}

static void dh__check_routes(const struct dh_config *c, const struct dh_ingest *in)
{
    FUZZ_CHECK(c->nsources > 0 && c->admin_token != NULL, "a valid config without %s",
               c->nsources == 0 ? "sources" : "an admin token");
    FUZZ_CHECK(in->nsources == c->nsources, "%zu sources in the config, %zu in ingest",
               c->nsources, in->nsources);
    for (size_t i = 0; i < in->nsources; i++) {
        const struct dh_ingest_source *src = NULL;
        char path[128], et[80];
        int batch = -1, rc;
        FUZZ_CHECK(c->sources[i].name != NULL, "a valid config with a nameless source");
        snprintf(path, sizeof(path), "/webhooks/%s", c->sources[i].name);
        rc = dh_ingest_route(in, path, &src, et, sizeof(et), &batch);
        FUZZ_CHECK(rc == 0 && src == &in->sources[i] && et[0] == '\0' && batch == 0,
                   "%s does not route to its source (%d)", path, rc);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dh_errlist el = {0};
    struct dh_config *cfg = NULL;
    struct dh_ingest *in = NULL;
    int lrc, irc = -1;

    dh__write(data, size);
    lrc = dh_config_load(dh__path, &cfg, &el);
    FUZZ_CHECK(lrc == 0 || lrc == DH_E_CONFIG, "dh_config_load returned %d", lrc);
    FUZZ_CHECK((lrc == 0) == (el.n == 0), "dh_config_load returned %d with %zu problems", lrc,
               el.n);
    FUZZ_CHECK(lrc != 0 || cfg != NULL, "dh_config_load returned 0 and no config");
    dh__check_errors(&el, 0);

    if (cfg != NULL) {
        size_t before = el.n;
        irc = dh_ingest_new(cfg, &in, &el);
        FUZZ_CHECK(irc == 0 || irc == DH_E_CONFIG, "dh_ingest_new returned %d", irc);
        FUZZ_CHECK((irc == 0) == (el.n == before), "dh_ingest_new returned %d with %zu problems",
                   irc, el.n - before);
        FUZZ_CHECK((irc == 0) == (in != NULL), "dh_ingest_new returned %d and %s", irc,
                   in ? "an ingest" : "none");
        dh__check_errors(&el, before);
    }
    if (lrc == 0 && irc == 0)
        dh__check_routes(cfg, in);

    dh_ingest_free(in);
    dh_config_free(cfg);
    dh_errlist_free(&el);
    return 0;
}
