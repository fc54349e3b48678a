/*
 * cmd_serve.c: `deskhook serve`: loads the config, opens the store, starts
 * the commit thread and the listeners, and waits for a signal.
 *
 * Threads: main (this file: start, signals, stop), the commit thread
 * (store/commit.c), the SQLite checkpointer (store/store_sqlite.c), and the
 * HTTP event threads (http/server.c). SIGTERM, SIGINT and SIGHUP are blocked
 * in every thread and taken here with sigwait(), so no handler runs inside
 * another thread's critical section.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <curl/curl.h>

#include "cli/cli.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/crypto.h"
#include "core/log.h"
#include "delivery/engine.h"
#include "delivery/registry.h"
#include "http/server.h"
#include "ingest/ingest.h"
#include "ingest/preset.h"
#include "store/commit.h"
#include "store/store.h"

/* How long the commit thread waits under sustained load to grow its batch
 * (store/commit.h). Measured with bench/run.sh on a 2-core machine: 0 us
 * gave 6.3k req/s, 150 us 8.2k, 250 us 8.5k, 400 us 7.4k. */
#define DH__COMMIT_DELAY_US 250

static void dh__serve_usage(FILE *f)
{
    fprintf(f, "usage: deskhook serve -c FILE [options]\n"
               "\n"
               "Runs the gateway. Flags override the file.\n"
               "\n"
               "  -c, --config FILE          the configuration file (default deskhook.yaml)\n"
               "      --listen HOST:PORT     public listener (webhooks, /health)\n"
               "      --admin-listen HOST:PORT  admin API listener\n"
               "      --store URL            the store, sqlite:PATH\n"
               "  -h, --help                 this help\n"
               "\n"
               "Port 0 picks a free port; the bound addresses are logged (msg \"listening\").\n"
               "SIGTERM or SIGINT: stop accepting, commit what is in flight, exit 0.\n");
}

/* Connections are file descriptors: allow as many as the hard limit does. */
static void dh__raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int dh_cli_serve(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"admin-listen", required_argument, NULL, 'a'},
                                         {"store", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *file = "deskhook.yaml";
    const char *listen = NULL, *admin_listen = NULL, *store_url = NULL;
    struct dh_errlist el = {0};
    struct dh_config *cfg = NULL;
    struct dh_ingest *in = NULL;
    struct dh_store *st = NULL;
    struct dh_committer *committer = NULL;
    struct dh_server *srv = NULL;
    struct dh_registry *reg = NULL;
    struct dh_engine *engine = NULL;
    char err[512];
    sigset_t sigs;
    int c, sig = 0, rc = 1;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            file = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'a':
            admin_listen = optarg;
            break;
        case 's':
            store_url = optarg;
            break;
        case 'h':
            dh__serve_usage(stdout);
            return 0;
        default:
            dh__serve_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "deskhook serve: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }

    /* Before any thread exists, so every thread inherits the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Before any thread: libcurl's global state is not thread-safe to set up. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (dh_crypto_init() < 0 || dh_preset_load_all(err, sizeof(err)) < 0) {
        fprintf(stderr, "deskhook: cannot initialise: %s\n", err);
        goto out;
    }
    int lrc = dh_config_load(file, &cfg, &el);
    int irc = cfg != NULL ? dh_ingest_new(cfg, &in, &el) : -1;
    int erc = cfg != NULL ? dh_registry_check(cfg, &el) : -1;
    if (lrc < 0 || irc < 0 || erc < 0) {
        dh_cli_print_errors(&el);
        fprintf(stderr, "deskhook: %s has %zu problem%s; nothing started\n", file, el.n,
                el.n == 1 ? "" : "s");
        goto out;
    }
    dh_log_parse_level(cfg->log_level, &dh_log_threshold);
    if (store_url != NULL) {
        free(cfg->store);
        cfg->store = dh_strdup(store_url);
    }
    if (listen == NULL)
        listen = cfg->listen;
    if (admin_listen == NULL)
        admin_listen = cfg->admin_listen;
    dh__raise_nofile();

    if (dh_store_open(cfg->store, &st, err, sizeof(err)) < 0) {
        fprintf(stderr, "deskhook: cannot open the store: %s\n", err);
        dh_error("cannot open the store", DH_LS("store", cfg->store), DH_LS("error", err));
        goto out;
    }
    if (dh_registry_new(cfg, st, &reg, &el) < 0) {
        dh_cli_print_errors(&el);
        goto out;
    }
    if (dh_commit_start(st, cfg->commit_max_batch, DH__COMMIT_DELAY_US, &committer) < 0) {
        fprintf(stderr, "deskhook: cannot start the commit thread\n");
        goto out;
    }
    dh_registry_attach(reg, committer);
    if (dh_engine_start(cfg, st, committer, reg, &engine, err, sizeof(err)) < 0) {
        fprintf(stderr, "deskhook: cannot start delivery: %s\n", err);
        goto out;
    }
    in->targets = dh_registry_targets;
    in->targets_arg = reg;
    struct dh_server_deps deps = {cfg, listen, admin_listen, in, st, committer, reg, engine};
    if (dh_server_start(&deps, &srv, err, sizeof(err)) < 0) {
        fprintf(stderr, "deskhook: %s\n", err);
        dh_error("cannot start", DH_LS("error", err));
        goto out;
    }
    {
        char pub[300], adm[300];
        dh_server_addresses(srv, pub, sizeof(pub), adm, sizeof(adm));
        /* Written whatever the level: scripts and tests wait for it. */
        const struct dh_log_field f[] = {DH_LS("listen", pub), DH_LS("admin_listen", adm),
                                         DH_LS("store", cfg->store),
                                         DH_LS("version", DH_VERSION),
                                         DH_LN("sources", in->nsources)};
        dh_log_write(DH_LOG_INFO, "listening", f, (int)(sizeof(f) / sizeof(f[0])));
        printf("deskhook %s listening on http://%s (webhooks: POST /webhooks/{source}), admin "
               "API on http://%s, store %s\n",
               DH_VERSION, pub, adm, cfg->store);
        fflush(stdout);
    }

    for (;;) {
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            dh_info("SIGHUP ignored: restart to load a changed config");
            continue;
        }
        break;
    }
    dh_info("stopping", DH_LS("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"));
    {
        int left = dh_server_quiesce(srv, (int64_t)cfg->shutdown_timeout_ms);
        if (left > 0)
            dh_warn("requests still in flight at the stop deadline", DH_LN("requests", left));
    }
    rc = 0;
out:
    /* Order matters: the engine writes its last results through the commit
     * thread; the commit thread drains and resumes every suspended
     * connection before the HTTP daemons stop (server.h). */
    dh_engine_stop(engine);
    dh_commit_stop(committer);
    dh_server_stop(srv, 2000);
    dh_engine_free(engine);
    dh_registry_free(reg);
    if (st != NULL) {
        dh_store_close(st);
        if (rc == 0)
            dh_info("stopped");
    }
    dh_ingest_free(in);
    dh_config_free(cfg);
    dh_errlist_free(&el);
    dh_preset_free_all();
    curl_global_cleanup();
    return rc;
}
