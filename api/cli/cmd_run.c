/* cmd_run: ember invoke / logs / status. */
#include "api/cli/commands.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/cli/table.h"
#include "api/cli/zipdir.h"
#include "api/code/digest.h"

#define PAYLOAD_MAX 6291456u /* Lambda's synchronous payload limit */
#define PATH_LEN    768

enum {
	O_LOG = 256,
	O_QUALIFIER,
	O_FOLLOW,
	O_TAIL,
	O_JSON,
};

static int usage_err(const char *cmd, const char *msg)
{
	fprintf(stderr, "ember %s: %s (ember help)\n", cmd, msg);
	return 2;
}

/* The payload argument: literal JSON, @file, or - for stdin. */
static int read_payload(const char *arg, uint8_t **out, size_t *len)
{
	if (arg == NULL)
		arg = "{}";
	if (strcmp(arg, "-") == 0)
		return cli_read_file("/dev/stdin", PAYLOAD_MAX, out, len);
	if (arg[0] == '@')
		return cli_read_file(arg + 1, PAYLOAD_MAX, out, len);
	*len = strlen(arg);
	*out = (uint8_t *)strdup(arg);
	return *out != NULL ? 0 : -ENOMEM;
}

int cli_cmd_invoke(struct cli_conn *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "log", no_argument, NULL, O_LOG },
		{ "qualifier", required_argument, NULL, O_QUALIFIER },
		{ NULL, 0, NULL, 0 },
	};
	const char *qualifier = NULL, *name, *hdrs[2] = { NULL, NULL };
	char path[PATH_LEN], *e;
	bool log = false;
	uint8_t *payload;
	size_t len;
	struct cli_resp r;
	int opt, ret;

	optind = 0; /* 0: glibc starts over (the "+" of main's parse is forgotten) */
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == O_LOG)
			log = true;
		else if (opt == O_QUALIFIER)
			qualifier = optarg;
		else
			return 2;
	}
	if (optind >= argc || argc - optind > 2)
		return usage_err(argv[0], "expected NAME [JSON|@FILE|-]");
	name = argv[optind];
	if (read_payload(optind + 1 < argc ? argv[optind + 1] : NULL, &payload, &len) < 0)
		return 1;
	e = cli_escape(name);
	if (e == NULL) {
		free(payload);
		return 1;
	}
	snprintf(path, sizeof(path), "/2015-03-31/functions/%s/invocations%s%.32s", e,
		 qualifier != NULL ? "?Qualifier=" : "", qualifier != NULL ? qualifier : "");
	free(e);
	if (log)
		hdrs[0] = "X-Amz-Log-Type: Tail";
	ret = cli_request(c, "POST", path, (const char *)payload, len, hdrs, &r);
	free(payload);
	if (ret < 0)
		return 1;
	if (r.status >= 300) {
		ret = cli_api_error(&r);
		cli_resp_free(&r);
		return ret;
	}
	fwrite(r.body, 1, r.len, stdout);
	if (r.len > 0 && r.body[r.len - 1] != '\n')
		putchar('\n');
	if (log && r.log_result[0] != '\0') {
		uint8_t *tail;
		size_t tl;

		if (digest_b64_decode(r.log_result, strlen(r.log_result), &tail, &tl) == 0) {
			fwrite(tail, 1, tl, stderr);
			free(tail);
		}
	}
	ret = 0;
	if (r.function_error[0] != '\0') {
		fprintf(stderr, "ember: the function failed (%s)\n", r.function_error);
		ret = 1;
	}
	cli_resp_free(&r);
	return ret;
}

int cli_cmd_logs(struct cli_conn *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, O_FOLLOW },
		{ "tail", required_argument, NULL, O_TAIL },
		{ NULL, 0, NULL, 0 },
	};
	char path[PATH_LEN], offset[32] = "", inode[32] = "", *e;
	const char *tail = NULL;
	bool follow = false;
	int opt, ret = 0;

	optind = 0; /* 0: glibc starts over (the "+" of main's parse is forgotten) */
	while ((opt = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (opt == O_FOLLOW || opt == 'f')
			follow = true;
		else if (opt == O_TAIL)
			tail = optarg;
		else
			return 2;
	}
	if (optind + 1 != argc)
		return usage_err(argv[0], "expected one function NAME");
	e = cli_escape(argv[optind]);
	if (e == NULL)
		return 1;
	/* Each answer says where the next one starts; follow waits on emberd's side. */
	for (;;) {
		struct cli_resp r;

		if (offset[0] == '\0')
			snprintf(path, sizeof(path), "/ember/functions/%s/logs?tail=%.20s", e,
				 tail != NULL ? tail : "18446744073709551615");
		else
			snprintf(path, sizeof(path),
				 "/ember/functions/%s/logs?offset=%s&inode=%s%s", e, offset, inode,
				 follow ? "&follow=1" : "");
		if (cli_request(c, "GET", path, NULL, 0, NULL, &r) < 0) {
			ret = 1;
			break;
		}
		if (r.status >= 300) {
			ret = cli_api_error(&r);
			cli_resp_free(&r);
			break;
		}
		fwrite(r.body, 1, r.len, stdout);
		fflush(stdout);
		snprintf(offset, sizeof(offset), "%s", r.log_offset[0] ? r.log_offset : "0");
		snprintf(inode, sizeof(inode), "%s", r.log_inode[0] ? r.log_inode : "0");
		if (r.len == 0 && !follow) {
			cli_resp_free(&r);
			break;
		}
		cli_resp_free(&r);
	}
	free(e);
	return ret;
}

static double num(const cJSON *o, const char *key)
{
	return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

int cli_cmd_status(struct cli_conn *c, int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, O_JSON },
					      { NULL, 0, NULL, 0 } };
	static const char *const head[] = { "FUNCTION", "VERSION", "STARTING", "IDLE",	"BUSY",
					    "DRAINING", "STANDBY", "SNAPSHOT", "MEMORY" };
	const cJSON *it;
	struct cli_table t;
	struct cli_resp r;
	cJSON *j;
	int opt, ret;

	optind = 0; /* 0: glibc starts over (the "+" of main's parse is forgotten) */
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt != O_JSON)
			return 2;
		c->json = true;
	}
	if (optind != argc)
		return usage_err(argv[0], "takes no arguments");
	if (cli_request(c, "GET", "/ember/status", NULL, 0, NULL, &r) < 0)
		return 1;
	if (r.status >= 300) {
		ret = cli_api_error(&r);
		cli_resp_free(&r);
		return ret;
	}
	if (c->json) {
		printf("%s\n", r.body);
		cli_resp_free(&r);
		return 0;
	}
	j = cJSON_ParseWithLength(r.body, r.len);
	cli_resp_free(&r);
	cli_table_init(&t, 9, head);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "Pools"))
	{
		char cells[5][24], mem[32];
		const char *row[9];
		static const char *const keys[] = { "Starting", "Idle", "Busy", "Draining",
						    "Standby" };

		row[0] = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "FunctionName"));
		row[1] = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "Version"));
		for (int k = 0; k < 5; k++) {
			snprintf(cells[k], sizeof(cells[k]), "%.0f", num(it, keys[k]));
			row[2 + k] = cells[k];
		}
		row[7] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "Snapshot")) ? "yes"
											: "no";
		snprintf(mem, sizeof(mem), "%.0f MiB", num(it, "MemoryMiB"));
		row[8] = mem;
		cli_table_add(&t, row);
	}
	cli_table_print(&t, stdout);
	cli_table_free(&t);
	printf("\nfunctions: %.0f   memory in use: %.0f of %.0f MiB\n", num(j, "FunctionCount"),
	       num(j, "MemoryUsedMiB"), num(j, "MemoryBudgetMiB"));
	cJSON_Delete(j);
	return 0;
}
