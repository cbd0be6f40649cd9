/* commands: the ember CLI's subcommands, each turning argv into Lambda API calls and printing the answer.
 *
 * Contract: each cli_cmd_* takes the connection and the subcommand's argv
 * (argv[0] is the subcommand), prints a readable table (or, with --json,
 * the API's JSON) on stdout, and returns the process exit code: 0, 1 when
 * emberd answered with an error (printed on stderr as "ember: <Type>:
 * <message>") or a function failed, 2 for a usage error.
 * Thread: main. */
#ifndef EMBER_CLI_COMMANDS_H
#define EMBER_CLI_COMMANDS_H

#include "api/cli/http.h"

#define CLI_DEFAULT_ROLE "arn:aws:iam::000000000000:role/ember"

int cli_cmd_create(struct cli_conn *c, int argc, char **argv);
int cli_cmd_update(struct cli_conn *c, int argc, char **argv);
int cli_cmd_get(struct cli_conn *c, int argc, char **argv);
int cli_cmd_list(struct cli_conn *c, int argc, char **argv);
int cli_cmd_delete(struct cli_conn *c, int argc, char **argv);
int cli_cmd_invoke(struct cli_conn *c, int argc, char **argv);
int cli_cmd_logs(struct cli_conn *c, int argc, char **argv);
int cli_cmd_status(struct cli_conn *c, int argc, char **argv);
int cli_cmd_bench(struct cli_conn *c, int argc, char **argv);
/* cmd_failed.c */
int cli_cmd_failed(struct cli_conn *c, int argc, char **argv);
int cli_cmd_replay(struct cli_conn *c, int argc, char **argv);

#endif
