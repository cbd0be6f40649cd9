/* cmd_functions: ember create / update / get / list / delete. */
#include "api/cli/commands.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/cli/table.h"
#include "api/cli/zipdir.h"
#include "api/code/digest.h"

#define ENV_MAX	 64
#define PATH_LEN 512

enum {
	O_RUNTIME = 256,
	O_HANDLER,
	O_CODE,
	O_MEMORY,
	O_TIMEOUT,
	O_ENV,
	O_DESC,
	O_ROLE,
	O_JSON,
};

static const struct option fn_options[] = {
	{ "runtime", required_argument, NULL, O_RUNTIME },
	{ "handler", required_argument, NULL, O_HANDLER },
	{ "code", required_argument, NULL, O_CODE },
	{ "memory", required_argument, NULL, O_MEMORY },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "env", required_argument, NULL, O_ENV },
	{ "description", required_argument, NULL, O_DESC },
	{ "role", required_argument, NULL, O_ROLE },
	{ "json", no_argument, NULL, O_JSON },
	{ NULL, 0, NULL, 0 },
};

struct fn_args {
	const char *name, *runtime, *handler, *code, *desc, *role;
	long memory, timeout; /* -1: not given */
	const char *env[ENV_MAX];
	unsigned nenv;
	bool env_given;
};

static int usage_err(const char *cmd, const char *msg)
{
	fprintf(stderr, "ember %s: %s (ember help)\n", cmd, msg);
	return 2;
}

static bool parse_num(const char *s, long *out)
{
	char *end;

	*out = strtol(s, &end, 10);
	return *s != '\0' && *end == '\0';
}

/* Options shared by create and update; 0, or the exit code of a usage error. */
static int parse_fn_args(struct cli_conn *c, int argc, char **argv, struct fn_args *a)
{
	int opt;

	memset(a, 0, sizeof(*a));
	a->memory = a->timeout = -1;
	optind = 0; /* 0: glibc starts over (the "+" of main's parse is forgotten) */
	while ((opt = getopt_long(argc, argv, "", fn_options, NULL)) != -1) {
		switch (opt) {
		case O_RUNTIME:
			a->runtime = optarg;
			break;
		case O_HANDLER:
			a->handler = optarg;
			break;
		case O_CODE:
			a->code = optarg;
			break;
		case O_MEMORY:
			if (!parse_num(optarg, &a->memory))
				return usage_err(argv[0], "--memory takes MiB, a number");
			break;
		case O_TIMEOUT:
			if (!parse_num(optarg, &a->timeout))
				return usage_err(argv[0], "--timeout takes seconds, a number");
			break;
		case O_ENV:
			if (strchr(optarg, '=') == NULL || optarg[0] == '=')
				return usage_err(argv[0], "--env takes KEY=VALUE");
			if (a->nenv == ENV_MAX)
				return usage_err(argv[0], "too many --env");
			a->env[a->nenv++] = optarg;
			a->env_given = true;
			break;
		case O_DESC:
			a->desc = optarg;
			break;
		case O_ROLE:
			a->role = optarg;
			break;
		case O_JSON:
			c->json = true;
			break;
		default:
			return 2;
		}
	}
	if (optind + 1 != argc)
		return usage_err(argv[0], "expected one function NAME");
	a->name = argv[optind];
	return 0;
}

/* The zip from a folder (zipped here) or a .zip file, base64-encoded. */
static char *load_code(const char *path)
{
	struct stat st;
	uint8_t *zip = NULL;
	size_t len = 0;
	char *b64;
	int ret;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "ember: --code %s: %s\n", path, strerror(errno));
		return NULL;
	}
	ret = S_ISDIR(st.st_mode) ? cli_zip_dir(path, &zip, &len)
				  : cli_read_file(path, CLI_ZIP_MAX, &zip, &len);
	if (ret < 0)
		return NULL;
	b64 = digest_b64_encode(zip, len);
	free(zip);
	if (b64 == NULL)
		fprintf(stderr, "ember: out of memory\n");
	return b64;
}

static bool add_config(cJSON *o, const struct fn_args *a)
{
	bool ok = true;

	if (a->runtime != NULL)
		ok = ok && cJSON_AddStringToObject(o, "Runtime", a->runtime);
	if (a->handler != NULL)
		ok = ok && cJSON_AddStringToObject(o, "Handler", a->handler);
	if (a->desc != NULL)
		ok = ok && cJSON_AddStringToObject(o, "Description", a->desc);
	if (a->role != NULL)
		ok = ok && cJSON_AddStringToObject(o, "Role", a->role);
	if (a->memory >= 0)
		ok = ok && cJSON_AddNumberToObject(o, "MemorySize", (double)a->memory);
	if (a->timeout >= 0)
		ok = ok && cJSON_AddNumberToObject(o, "Timeout", (double)a->timeout);
	if (a->env_given) {
		cJSON *vars = cJSON_AddObjectToObject(cJSON_AddObjectToObject(o, "Environment"),
						      "Variables");

		ok = ok && vars != NULL;
		for (unsigned i = 0; ok && i < a->nenv; i++) {
			const char *eq = strchr(a->env[i], '=');
			char key[256];

			snprintf(key, sizeof(key), "%.*s", (int)(eq - a->env[i]), a->env[i]);
			ok = cJSON_AddStringToObject(vars, key, eq + 1) != NULL;
		}
	}
	return ok;
}

static void print_config(const struct cli_conn *c, const cJSON *cfg, const char *raw)
{
	static const char *const fields[] = { "FunctionName", "Version",    "Runtime",
					      "Handler",      "CodeSha256", "RevisionId",
					      "LastModified", "State",	    "Description" };
	static const char *const head[] = { "FIELD", "VALUE" };
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cfg, "Environment"), "Variables");
	const cJSON *it;
	struct cli_table t;
	char num[64];

	if (c->json) {
		printf("%s\n", raw);
		return;
	}
	cli_table_init(&t, 2, head);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, fields[i]);
		const char *row[2] = { fields[i], cJSON_IsString(v) ? v->valuestring : "" };

		cli_table_add(&t, row);
	}
	snprintf(num, sizeof(num), "%.0f MB",
		 cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cfg, "MemorySize")));
	cli_table_add(&t, (const char *const[]){ "MemorySize", num });
	snprintf(num, sizeof(num), "%.0f s",
		 cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cfg, "Timeout")));
	cli_table_add(&t, (const char *const[]){ "Timeout", num });
	snprintf(num, sizeof(num), "%.0f bytes",
		 cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cfg, "CodeSize")));
	cli_table_add(&t, (const char *const[]){ "CodeSize", num });
	cJSON_ArrayForEach(it, env)
	{
		char kv[512];

		snprintf(kv, sizeof(kv), "%s=%s", it->string,
			 cJSON_IsString(it) ? it->valuestring : "");
		cli_table_add(&t, (const char *const[]){ "Environment", kv });
	}
	cli_table_print(&t, stdout);
	cli_table_free(&t);
}

/* Sends one JSON request; prints the configuration in the answer. */
static int send_and_print(struct cli_conn *c, const char *method, const char *path, cJSON *body,
			  bool configuration_inside, bool print)
{
	char *text = body != NULL ? cJSON_PrintUnformatted(body) : NULL;
	struct cli_resp r;
	cJSON *j;
	int ret;

	if (body != NULL && text == NULL) {
		fprintf(stderr, "ember: out of memory\n");
		return 1;
	}
	ret = cli_request(c, method, path, text, text != NULL ? strlen(text) : 0, NULL, &r);
	free(text);
	if (ret < 0)
		return 1;
	if (r.status >= 300) {
		ret = cli_api_error(&r);
		cli_resp_free(&r);
		return ret;
	}
	j = cJSON_ParseWithLength(r.body, r.len);
	if (print)
		print_config(c,
			     configuration_inside
				     ? cJSON_GetObjectItemCaseSensitive(j, "Configuration")
				     : j,
			     r.body);
	cJSON_Delete(j);
	cli_resp_free(&r);
	return 0;
}

static int fn_path(char *out, size_t cap, const char *name, const char *suffix)
{
	char *e = cli_escape(name);
	int n;

	if (e == NULL)
		return -ENOMEM;
	n = snprintf(out, cap, "/2015-03-31/functions/%s%s", e, suffix);
	free(e);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int cli_cmd_create(struct cli_conn *c, int argc, char **argv)
{
	struct fn_args a;
	cJSON *o;
	char *zip;
	int ret = parse_fn_args(c, argc, argv, &a);

	if (ret != 0)
		return ret;
	if (a.runtime == NULL || a.handler == NULL || a.code == NULL)
		return usage_err(argv[0], "--runtime, --handler and --code are required");
	zip = load_code(a.code);
	if (zip == NULL)
		return 1;
	o = cJSON_CreateObject();
	if (a.role == NULL)
		a.role = CLI_DEFAULT_ROLE;
	if (o == NULL || !cJSON_AddStringToObject(o, "FunctionName", a.name) ||
	    !add_config(o, &a) ||
	    !cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "Code"), "ZipFile", zip)) {
		free(zip);
		cJSON_Delete(o);
		fprintf(stderr, "ember: out of memory\n");
		return 1;
	}
	free(zip);
	ret = send_and_print(c, "POST", "/2015-03-31/functions", o, false, true);
	cJSON_Delete(o);
	return ret;
}

int cli_cmd_update(struct cli_conn *c, int argc, char **argv)
{
	char path[PATH_LEN];
	struct fn_args a;
	bool config;
	cJSON *o;
	int ret = parse_fn_args(c, argc, argv, &a);

	if (ret != 0)
		return ret;
	config = a.runtime || a.handler || a.desc || a.role || a.memory >= 0 || a.timeout >= 0 ||
		 a.env_given;
	if (!config && a.code == NULL)
		return usage_err(argv[0], "nothing to update (--code, --memory, --timeout, "
					  "--env, --handler, ...)");
	if (a.code != NULL) {
		char *zip = load_code(a.code);

		o = cJSON_CreateObject();
		if (zip == NULL || o == NULL || fn_path(path, sizeof(path), a.name, "/code") < 0 ||
		    !cJSON_AddStringToObject(o, "ZipFile", zip)) {
			free(zip);
			cJSON_Delete(o);
			return 1;
		}
		free(zip);
		/* The configuration is printed once, after the last call. */
		ret = send_and_print(c, "PUT", path, o, false, !config);
		cJSON_Delete(o);
		if (ret != 0 || !config)
			return ret;
	}
	o = cJSON_CreateObject();
	if (o == NULL || !add_config(o, &a) ||
	    fn_path(path, sizeof(path), a.name, "/configuration") < 0) {
		cJSON_Delete(o);
		return 1;
	}
	ret = send_and_print(c, "PUT", path, o, false, true);
	cJSON_Delete(o);
	return ret;
}

/* NAME and --json only. */
static int name_only(struct cli_conn *c, int argc, char **argv, const char **name)
{
	static const struct option opts[] = { { "json", no_argument, NULL, O_JSON },
					      { NULL, 0, NULL, 0 } };
	int opt;

	optind = 0; /* 0: glibc starts over (the "+" of main's parse is forgotten) */
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt != O_JSON)
			return 2;
		c->json = true;
	}
	if (name != NULL) {
		if (optind + 1 != argc)
			return usage_err(argv[0], "expected one function NAME");
		*name = argv[optind];
	} else if (optind != argc) {
		return usage_err(argv[0], "takes no arguments");
	}
	return 0;
}

int cli_cmd_get(struct cli_conn *c, int argc, char **argv)
{
	char path[PATH_LEN];
	const char *name;
	int ret = name_only(c, argc, argv, &name);

	if (ret != 0)
		return ret;
	if (fn_path(path, sizeof(path), name, "") < 0)
		return 1;
	return send_and_print(c, "GET", path, NULL, true, true);
}

int cli_cmd_delete(struct cli_conn *c, int argc, char **argv)
{
	char path[PATH_LEN];
	struct cli_resp r;
	const char *name;
	int ret = name_only(c, argc, argv, &name);

	if (ret != 0)
		return ret;
	if (fn_path(path, sizeof(path), name, "") < 0 ||
	    cli_request(c, "DELETE", path, NULL, 0, NULL, &r) < 0)
		return 1;
	ret = r.status >= 300 ? cli_api_error(&r) : 0;
	if (ret == 0 && !c->json)
		printf("deleted %s\n", name);
	cli_resp_free(&r);
	return ret;
}

int cli_cmd_list(struct cli_conn *c, int argc, char **argv)
{
	static const char *const head[] = { "NAME",    "RUNTIME",   "MEMORY",
					    "TIMEOUT", "CODE SIZE", "LAST MODIFIED" };
	cJSON *all = cJSON_CreateArray();
	char path[PATH_LEN] = "/2015-03-31/functions";
	struct cli_table t;
	const cJSON *it;
	int ret = name_only(c, argc, argv, NULL);

	if (ret != 0 || all == NULL) {
		cJSON_Delete(all);
		return ret != 0 ? ret : 1;
	}
	for (;;) { /* every page */
		struct cli_resp r;
		cJSON *j, *fns, *next;
		char *e;

		if (cli_request(c, "GET", path, NULL, 0, NULL, &r) < 0) {
			cJSON_Delete(all);
			return 1;
		}
		if (r.status >= 300) {
			ret = cli_api_error(&r);
			cli_resp_free(&r);
			cJSON_Delete(all);
			return ret;
		}
		j = cJSON_ParseWithLength(r.body, r.len);
		cli_resp_free(&r);
		fns = cJSON_DetachItemFromObjectCaseSensitive(j, "Functions");
		while (cJSON_GetArraySize(fns) > 0)
			cJSON_AddItemToArray(all, cJSON_DetachItemFromArray(fns, 0));
		cJSON_Delete(fns);
		next = cJSON_GetObjectItemCaseSensitive(j, "NextMarker");
		e = cJSON_IsString(next) ? cli_escape(next->valuestring) : NULL;
		cJSON_Delete(j);
		if (e == NULL)
			break;
		snprintf(path, sizeof(path), "/2015-03-31/functions?Marker=%s", e);
		free(e);
	}
	if (c->json) {
		cJSON *o = cJSON_CreateObject();
		char *text;

		cJSON_AddItemToObject(o, "Functions", all);
		text = cJSON_Print(o);
		if (text != NULL)
			printf("%s\n", text);
		free(text);
		cJSON_Delete(o);
		return 0;
	}
	cli_table_init(&t, 6, head);
	cJSON_ArrayForEach(it, all)
	{
		char mem[32], tmo[32], size[32];
		const char *row[6];

		snprintf(mem, sizeof(mem), "%.0f MB",
			 cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "MemorySize")));
		snprintf(tmo, sizeof(tmo), "%.0f s",
			 cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "Timeout")));
		snprintf(size, sizeof(size), "%.0f",
			 cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "CodeSize")));
		row[0] = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "FunctionName"));
		row[1] = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "Runtime"));
		row[2] = mem;
		row[3] = tmo;
		row[4] = size;
		row[5] = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "LastModified"));
		cli_table_add(&t, row);
	}
	cli_table_print(&t, stdout);
	cli_table_free(&t);
	cJSON_Delete(all);
	return 0;
}
