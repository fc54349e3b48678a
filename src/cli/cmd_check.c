/*
 * cmd_check.c: `deskhook check -c FILE`: validates a configuration the way
 * serve would load it, and lists every problem with file:line.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "delivery/registry.h"
#include "ingest/ingest.h"
#include "ingest/preset.h"

static void dh__check_usage(FILE *f)
{
    fprintf(f, "usage: deskhook check -c FILE\n"
               "\n"
               "Validates FILE: YAML syntax, every key and value, environment variables,\n"
               "sources, presets and auth. Prints each problem as FILE:LINE: message and\n"
               "exits 1; prints a summary and exits 0 when the file is valid.\n"
               "\n"
               "  -c, --config FILE   the configuration file (default deskhook.yaml)\n"
               "      --reference     print the reference of every option (Markdown)\n"
               "  -h, --help          this help\n");
}

int dh_cli_check(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"reference", no_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *file = "deskhook.yaml";
    struct dh_errlist el = {0};
    struct dh_config *cfg = NULL;
    struct dh_ingest *in = NULL;
    char err[256];
    int c, rc = 1;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            file = optarg;
            break;
        case 'r':
            dh_config_print_reference();
            return 0;
        case 'h':
            dh__check_usage(stdout);
            return 0;
        default:
            dh__check_usage(stderr);
            return 2;
        }
    }
    if (dh_preset_load_all(err, sizeof(err)) < 0) {
        fprintf(stderr, "deskhook: %s\n", err);
        return 1;
    }
    int lrc = dh_config_load(file, &cfg, &el);
    /* Ingest's own checks (presets, required fields) run on a partial
     * config too, so one run lists every problem. */
    int irc = cfg != NULL ? dh_ingest_new(cfg, &in, &el) : -1;
    int erc = cfg != NULL ? dh_registry_check(cfg, &el) : -1;
    if (lrc == 0 && irc == 0 && erc == 0) {
        size_t ne = cfg->endpoints ? json_array_size(cfg->endpoints) : 0;
        printf("%s: ok (%zu source%s, %zu endpoint%s)\n", file, cfg->nsources,
               cfg->nsources == 1 ? "" : "s", ne, ne == 1 ? "" : "s");
        rc = 0;
    } else {
        dh_cli_print_errors(&el);
        fprintf(stderr, "%s: %zu problem%s\n", file, el.n, el.n == 1 ? "" : "s");
    }
    dh_ingest_free(in);
    dh_config_free(cfg);
    dh_errlist_free(&el);
    dh_preset_free_all();
    return rc;
}
