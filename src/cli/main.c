/*
 * main.c: the deskhook command line: dispatches to a subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "config/yamltree.h"

static void dh__usage(FILE *f)
{
    fprintf(f,
            "usage: deskhook <command> [options]\n"
            "\n"
            "commands:\n"
            "  serve -c FILE     run the gateway (--listen, --admin-listen, --store override "
            "the file)\n"
            "  check -c FILE     validate a configuration file; exits 1 listing every problem\n"
            "  secret [--scheme S]   print a new random secret\n"
            "  sign --scheme S --secret X < body     print the headers a sender adds\n"
            "  verify --scheme S --secret X -H 'Name: value'... < body   check a signature\n"
            "  send URL --scheme S --secret X < body  send a signed test webhook\n"
            "  replay ID | --event ID | --endpoint NAME   replay deliveries through the admin "
            "API\n"
            "  version           print the version\n"
            "\n"
            "Run 'deskhook <command> --help' for a command's options.\n");
}

void dh_cli_print_errors(const struct dh_errlist *el)
{
    for (size_t i = 0; i < el->n; i++)
        fprintf(stderr, "%s\n", el->lines[i]);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        dh__usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0)
        return dh_cli_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return dh_cli_check(argc - 1, argv + 1);
    if (strcmp(cmd, "secret") == 0)
        return dh_cli_secret(argc - 1, argv + 1);
    if (strcmp(cmd, "sign") == 0)
        return dh_cli_sign(argc - 1, argv + 1);
    if (strcmp(cmd, "verify") == 0)
        return dh_cli_verify(argc - 1, argv + 1);
    if (strcmp(cmd, "send") == 0)
        return dh_cli_send(argc - 1, argv + 1);
    if (strcmp(cmd, "replay") == 0)
        return dh_cli_replay(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
            printf("usage: deskhook version\n\nPrints the version of this deskhook.\n");
            return 0;
        }
        printf("deskhook %s\n", DH_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        dh__usage(stdout);
        return 0;
    }
    fprintf(stderr, "deskhook: unknown command \"%s\"\n\n", cmd);
    dh__usage(stderr);
    return 2;
}
