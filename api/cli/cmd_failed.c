/* cmd_failed: `ember failed NAME` (the function's failed Event invocations) and `ember replay NAME ID` (queue one again). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/cli/commands.h"
#include "api/cli/table.h"

#define PATH_LEN 512

static int usage_err(const char *cmd, const char *msg)
{
	fprintf(stderr, "ember %s: %s (ember help)\n", cmd, msg);
	return 2;
}

/* /ember/functions/<escaped name>/<what>; -1 if it does not fit. */
static int ember_path(char *out, size_t cap, const char *name, const char *what)
{
	char *e = cli_escape(name);
	int n;

	if (e == NULL)
		return -1;
	n = snprintf(out, cap, "/ember/functions/%s/%s", e, what);
	free(e);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static const char *str_of(const cJSON *o, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));

	return s != NULL ? s : "";
}

static void print_table(const cJSON *events)
{
	static const char *const head[] = { "ID",	  "REQUEST ID", "ATTEMPTS",	"CONDITION",
					    "ERROR TYPE", "FAILED AT",	"ERROR MESSAGE" };
	struct cli_table t;
	const cJSON *it;

	cli_table_init(&t, 7, head);
	cJSON_ArrayForEach(it, events)
	{
		char id[32], att[16], msg[81];
		const char *row[7];

		snprintf(id, sizeof(id), "%.0f",
			 cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "id")));
		snprintf(att, sizeof(att), "%.0f",
			 cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "attempts")));
		/* One line per event: the message is cut, --json has it whole. */
		snprintf(msg, sizeof(msg), "%s", str_of(it, "errorMessage"));
		for (char *p = msg; *p; p++)
			if (*p == '\n' || *p == '\t')
				*p = ' ';
		row[0] = id;
		row[1] = str_of(it, "requestId");
		row[2] = att;
		row[3] = str_of(it, "condition");
		row[4] = str_of(it, "errorType");
		row[5] = str_of(it, "failedAt");
		row[6] = msg;
		cli_table_add(&t, row);
	}
	cli_table_print(&t, stdout);
	cli_table_free(&t);
}

int cli_cmd_failed(struct cli_conn *c, int argc, char **argv)
{
	char path[PATH_LEN];
	struct cli_resp r;
	cJSON *j;
	int ret;

	if (argc != 2 || argv[1][0] == '-')
		return usage_err("failed", "usage: ember failed NAME");
	if (ember_path(path, sizeof(path), argv[1], "failed") < 0)
		return usage_err("failed", "the name is too long");
	if (cli_request(c, "GET", path, NULL, 0, NULL, &r) < 0)
		return 1;
	if (r.status >= 300) {
		ret = cli_api_error(&r);
		cli_resp_free(&r);
		return ret;
	}
	if (c->json) {
		fwrite(r.body, 1, r.len, stdout);
		putchar('\n');
		cli_resp_free(&r);
		return 0;
	}
	j = cJSON_ParseWithLength(r.body, r.len);
	cli_resp_free(&r);
	if (j == NULL) {
		fprintf(stderr, "ember failed: emberd's answer is not JSON\n");
		return 1;
	}
	print_table(cJSON_GetObjectItemCaseSensitive(j, "FailedEvents"));
	cJSON_Delete(j);
	return 0;
}

int cli_cmd_replay(struct cli_conn *c, int argc, char **argv)
{
	char path[PATH_LEN], what[64];
	struct cli_resp r;
	char *end = NULL;
	long long id;
	cJSON *j;
	int ret;

	if (argc != 3 || argv[1][0] == '-')
		return usage_err("replay", "usage: ember replay NAME ID");
	id = strtoll(argv[2], &end, 10);
	if (end == argv[2] || *end != '\0' || id <= 0)
		return usage_err("replay", "ID is a failed event's id (ember failed NAME)");
	snprintf(what, sizeof(what), "replay?id=%lld", id);
	if (ember_path(path, sizeof(path), argv[1], what) < 0)
		return usage_err("replay", "the name is too long");
	if (cli_request(c, "POST", path, NULL, 0, NULL, &r) < 0)
		return 1;
	if (r.status >= 300) {
		ret = cli_api_error(&r);
		cli_resp_free(&r);
		return ret;
	}
	j = cJSON_ParseWithLength(r.body, r.len);
	if (c->json)
		printf("%.*s\n", (int)r.len, r.body);
	else
		printf("queued %s event %lld again (RequestId %s)\n", argv[1], id,
		       str_of(j, "RequestId"));
	cJSON_Delete(j);
	cli_resp_free(&r);
	return 0;
}
