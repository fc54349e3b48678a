/*
 * cli.h: the subcommands of the deskhook binary. Each takes the arguments
 * after its name (argv[0] is the command name) and returns the exit status.
 */
#ifndef DH_CLI_H
#define DH_CLI_H

int dh_cli_serve(int argc, char **argv);
int dh_cli_check(int argc, char **argv);
int dh_cli_secret(int argc, char **argv);
int dh_cli_sign(int argc, char **argv);
int dh_cli_verify(int argc, char **argv);
int dh_cli_send(int argc, char **argv);
int dh_cli_replay(int argc, char **argv);

/* Prints every line of an error list to stderr. */
struct dh_errlist;
void dh_cli_print_errors(const struct dh_errlist *el);

#endif
