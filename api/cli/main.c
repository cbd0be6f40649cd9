/* ember: the command-line client of emberd (wiring only: global options -> one subcommand). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "api/cli/commands.h"
#include "lib/util/version.h"

static const char usage[] =
	"usage: ember [--endpoint URL] [--home DIR] [--json] COMMAND [ARGS]\n"
	"\n"
	"Talks to emberd over its Unix socket ($EMBER_HOME/ember.sock, home default\n"
	"/var/lib/ember) or, with --endpoint (or EMBER_ENDPOINT), over HTTP.\n"
	"\n"
	"commands:\n"
	"  create NAME --runtime R --handler H --code DIR|ZIP [--memory MB] [--timeout S]\n"
	"         [--env K=V]... [--description D] [--role ARN]\n"
	"                          create a function (a folder is zipped here, modes kept)\n"
	"  invoke NAME [JSON|@FILE|-] [--log] [--qualifier Q]\n"
	"                          run it; the result on stdout, --log: its log on stderr\n"
	"  list                    every function\n"
	"  get NAME                one function's configuration\n"
	"  update NAME [--code DIR|ZIP] [--memory MB] [--timeout S] [--env K=V]...\n"
	"         [--handler H] [--runtime R] [--description D]\n"
	"                          change code and configuration (--env replaces all)\n"
	"  delete NAME             delete a function and all its versions\n"
	"  logs NAME [--follow] [--tail BYTES]\n"
	"                          the function's log (START, output, END, REPORT)\n"
	"  status                  instances by function and state, memory in use\n"
	"  bench NAME [--mode cold|restore|warm] [-n N] [-c C] [--payload FILE]\n"
	"         [--json FILE|--csv FILE] [--warmup ROUNDS]\n"
	"                          time N starts or invocations, C at a time\n"
	"  failed NAME             Event invocations that failed for good\n"
	"  replay NAME ID          queue failed event ID again (same request id)\n"
	"\n"
	"--json prints emberd's JSON instead of tables. Errors go to stderr; the exit\n"
	"code is 1 when emberd refused or the function failed, 2 for a usage error.\n";

static const struct {
	const char *name;
	int (*fn)(struct cli_conn *c, int argc, char **argv);
} commands[] = {
	{ "create", cli_cmd_create }, { "invoke", cli_cmd_invoke }, { "list", cli_cmd_list },
	{ "get", cli_cmd_get },	      { "update", cli_cmd_update }, { "delete", cli_cmd_delete },
	{ "logs", cli_cmd_logs },     { "status", cli_cmd_status }, { "bench", cli_cmd_bench },
	{ "failed", cli_cmd_failed }, { "replay", cli_cmd_replay },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "home", required_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *endpoint = NULL, *home = NULL;
	struct cli_conn c;
	bool json = false;
	int opt, ret = 2;

	/* "+": stop at the command; its own options follow it. */
	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (opt) {
		case 'e':
			endpoint = optarg;
			break;
		case 'H':
			home = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'V':
			printf("ember %s\n", EMBER_VERSION);
			return 0;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind >= argc || strcmp(argv[optind], "help") == 0) {
		fputs(usage, optind >= argc ? stderr : stdout);
		return optind >= argc ? 2 : 0;
	}
	if (cli_conn_init(&c, endpoint, home) < 0)
		return 2;
	c.json = json;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "ember: libcurl did not start\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			ret = commands[i].fn(&c, argc - optind, argv + optind);
			break;
		}
		if (i + 1 == sizeof(commands) / sizeof(commands[0]))
			fprintf(stderr, "ember: no command %s (ember help)\n", argv[optind]);
	}
	curl_global_cleanup();
	return ret;
}
