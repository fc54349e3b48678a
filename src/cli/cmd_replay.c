/*
 * cmd_replay.c: `deskhook replay` (placeholder until written).
 */
#include <stdio.h>

#include "cli/cli.h"

int dh_cli_replay(int argc, char **argv)
{
    fprintf(stderr, "deskhook replay: not available yet\n");
    return 2;
}
