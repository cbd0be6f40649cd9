/* Unit tests for guest-init/world.c: the function's environment from INIT, and the entry point. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "guest-init/world.h"
#include "lib/gproto/gproto.h"

static struct gproto_init in; /* large (the env table): not on the stack */

static struct gproto_str S(const char *s) {
	return (struct gproto_str){ s, (uint32_t)strlen(s) };
}

/* An INIT as gproto_decode() would leave it: every string NUL-terminated. */
static void
init_base(const char *runtime)
{
	memset(&in, 0, sizeof(in));
	in.function_name = S("my-fn");
	in.function_version = S("$LATEST");
	in.handler = S("app.handler");
	in.runtime = S(runtime);
	in.function_arn = S("arn:aws:lambda:eu-west-3:000000000000:function:my-fn");
	in.region = S("eu-west-3");
	in.log_group = S("/aws/lambda/my-fn");
	in.log_stream = S("2026/12/01/[$LATEST]abc");
	in.memory_mib = 256;
	in.timeout_ms = 3000;
	in.log_format = GPROTO_LOG_TEXT;
}

static void add_env(const char *key, const char *value)
{
	in.env[in.env_count].key = S(key);
	in.env[in.env_count].value = S(value);
	in.env_count++;
}

static size_t count(char **envp, const char *key)
{
	size_t n = 0, k = strlen(key);

	for (char **e = envp; *e != NULL; e++)
		if (strncmp(*e, key, k) == 0 && (*e)[k] == '=')
			n++;
	return n;
}

/* The value of key, which must be there exactly once. */
static const char *get(char **envp, const char *key)
{
	size_t k = strlen(key);

	assert_int_equal(count(envp, key), 1);
	for (char **e = envp; *e != NULL; e++)
		if (strncmp(*e, key, k) == 0 && (*e)[k] == '=')
			return *e + k + 1;
	return NULL;
}

static char **build(void)
{
	char **envp = NULL;

	assert_int_equal(world_env_build(&in, &envp), 0);
	assert_non_null(envp);
	return envp;
}

static void test_derived_from_init(void **state)
{
	char **envp;

	(void)state;
	init_base("python3.12");
	envp = build();
	assert_string_equal(get(envp, "AWS_LAMBDA_FUNCTION_NAME"), "my-fn");
	assert_string_equal(get(envp, "AWS_LAMBDA_FUNCTION_VERSION"), "$LATEST");
	assert_string_equal(get(envp, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), "256");
	assert_string_equal(get(envp, "AWS_LAMBDA_LOG_GROUP_NAME"), "/aws/lambda/my-fn");
	assert_string_equal(get(envp, "AWS_LAMBDA_LOG_STREAM_NAME"), "2026/12/01/[$LATEST]abc");
	assert_string_equal(get(envp, "AWS_LAMBDA_RUNTIME_API"), "127.0.0.1:9001");
	assert_string_equal(get(envp, "AWS_LAMBDA_INITIALIZATION_TYPE"), "on-demand");
	assert_string_equal(get(envp, "AWS_REGION"), "eu-west-3");
	assert_string_equal(get(envp, "AWS_DEFAULT_REGION"), "eu-west-3");
	assert_string_equal(get(envp, "_HANDLER"), "app.handler");
	assert_string_equal(get(envp, "LAMBDA_TASK_ROOT"), "/var/task");
	assert_string_equal(get(envp, "LAMBDA_RUNTIME_DIR"), "/var/runtime");
	assert_string_equal(get(envp, "AWS_EXECUTION_ENV"), "AWS_Lambda_python3.12");
	/* Lambda's defaults, which users may override. */
	assert_string_equal(get(envp, "TZ"), ":UTC");
	assert_string_equal(get(envp, "LANG"), "en_US.UTF-8");
	assert_string_equal(get(envp, "PATH"), "/usr/local/bin:/usr/bin/:/bin:/opt/bin");
	assert_true(strncmp(get(envp, "LD_LIBRARY_PATH"), "/var/lang/lib:/lib64:", 21) == 0);
	/* Text logs: no log-format variable; nothing from the trace until an invoke. */
	assert_int_equal(count(envp, "AWS_LAMBDA_LOG_FORMAT"), 0);
	assert_int_equal(count(envp, "_X_AMZN_TRACE_ID"), 0);
	free(envp);
}

static void test_execution_env_only_for_managed_runtimes(void **state)
{
	static const char *const os_only[] = { "provided", "provided.al2", "provided.al2023", "" };
	char **envp;

	(void)state;
	for (size_t i = 0; i < sizeof(os_only) / sizeof(os_only[0]); i++) {
		init_base(os_only[i]);
		envp = build();
		assert_int_equal(count(envp, "AWS_EXECUTION_ENV"), 0);
		free(envp);
	}
	init_base("nodejs20.x");
	envp = build();
	assert_string_equal(get(envp, "AWS_EXECUTION_ENV"), "AWS_Lambda_nodejs20.x");
	free(envp);
}

static void test_json_log_format(void **state)
{
	char **envp;

	(void)state;
	init_base("python3.12");
	in.log_format = GPROTO_LOG_JSON;
	envp = build();
	assert_string_equal(get(envp, "AWS_LAMBDA_LOG_FORMAT"), "JSON");
	free(envp);
}

static void test_user_variables_replace_defaults(void **state)
{
	char **envp;

	(void)state;
	init_base("python3.12");
	add_env("MY_VAR", "hello world=1");
	add_env("PATH", "/opt/custom/bin");
	add_env("TZ", "Europe/Paris");
	add_env("EMPTY", "");
	add_env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
	add_env("AWS_SESSION_TOKEN", "tok");
	envp = build();
	assert_string_equal(get(envp, "MY_VAR"), "hello world=1");
	assert_string_equal(get(envp, "PATH"), "/opt/custom/bin"); /* the default is gone */
	assert_string_equal(get(envp, "TZ"), "Europe/Paris");
	assert_string_equal(get(envp, "LANG"), "en_US.UTF-8"); /* not set: default kept */
	assert_string_equal(get(envp, "EMPTY"), "");
	assert_string_equal(get(envp, "AWS_ACCESS_KEY_ID"), "AKIDEXAMPLE");
	assert_string_equal(get(envp, "AWS_SESSION_TOKEN"), "tok");
	free(envp);
}

static void test_reserved_keys_are_refused(void **state)
{
	static const char *const reserved[] = {
		"_HANDLER",
		"_X_AMZN_TRACE_ID",
		"AWS_REGION",
		"AWS_DEFAULT_REGION",
		"AWS_EXECUTION_ENV",
		"AWS_LAMBDA_FUNCTION_NAME",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
		"AWS_LAMBDA_FUNCTION_VERSION",
		"AWS_LAMBDA_INITIALIZATION_TYPE",
		"AWS_LAMBDA_LOG_GROUP_NAME",
		"AWS_LAMBDA_LOG_STREAM_NAME",
		"AWS_LAMBDA_RUNTIME_API",
		"LAMBDA_TASK_ROOT",
		"LAMBDA_RUNTIME_DIR",
	};
	char **envp;
	size_t n = 0;

	(void)state;
	init_base("provided.al2023");
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		assert_true(world_env_reserved(reserved[i]));
		add_env(reserved[i], "evil");
	}
	add_env("OK_VAR", "fine");
	envp = build();
	for (char **e = envp; *e != NULL; e++) {
		assert_null(strstr(*e, "=evil"));
		n++;
	}
	assert_string_equal(get(envp, "AWS_REGION"), "eu-west-3");
	assert_string_equal(get(envp, "AWS_LAMBDA_RUNTIME_API"), "127.0.0.1:9001");
	assert_string_equal(get(envp, "_HANDLER"), "app.handler");
	assert_string_equal(get(envp, "OK_VAR"), "fine");
	assert_int_equal(count(envp, "_X_AMZN_TRACE_ID"), 0);
	assert_int_equal(count(envp, "AWS_EXECUTION_ENV"), 0);
	/* 12 derived (provided: no AWS_EXECUTION_ENV) + 4 defaults + OK_VAR. */
	assert_int_equal(n, 17);
	/* Not reserved: what Lambda lets users set, and near misses. */
	assert_false(world_env_reserved("PATH"));
	assert_false(world_env_reserved("LD_LIBRARY_PATH"));
	assert_false(world_env_reserved("AWS_ACCESS_KEY_ID"));
	assert_false(world_env_reserved("AWS_REGION_X"));
	assert_false(world_env_reserved("aws_region"));
	free(envp);
}

/* The largest INIT gproto accepts: every slot and byte is in the block. */
static void test_largest_environment(void **state)
{
	static char keys[GPROTO_ENV_MAX][16];
	static char values[GPROTO_ENV_MAX][GPROTO_ENV_BYTES_MAX / GPROTO_ENV_MAX];
	size_t vlen = sizeof(values[0]) - 16; /* keys + values stay under the total */
	char **envp;

	(void)state;
	init_base("python3.12");
	for (unsigned i = 0; i < GPROTO_ENV_MAX; i++) {
		snprintf(keys[i], sizeof(keys[i]), "K%u", i);
		memset(values[i], 'a' + (int)(i % 26), vlen);
		values[i][vlen] = '\0';
		add_env(keys[i], values[i]);
	}
	envp = build();
	for (unsigned i = 0; i < GPROTO_ENV_MAX; i++)
		assert_string_equal(get(envp, keys[i]), values[i]);
	assert_string_equal(get(envp, "AWS_LAMBDA_FUNCTION_NAME"), "my-fn");
	free(envp);
}

static char root[64];

static int make_root(void **state)
{
	char p[PATH_MAX];

	(void)state;
	strcpy(root, "/tmp/test_world.XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	snprintf(p, sizeof(p), "%s/var", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/var/task", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/var/runtime", root);
	return mkdir(p, 0755);
}

static int remove_root(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void touch(const char *rel)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s%s", root, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	close(fd);
}

static void test_entrypoint(void **state)
{
	struct world_entrypoint ep;

	(void)state;
	/* provided: the function's own bootstrap first, then the image's. */
	world_entrypoint(root, "provided.al2023", &ep);
	assert_string_equal(ep.path, "/var/runtime/bootstrap");
	assert_string_equal(ep.searched, "/var/task/bootstrap /var/runtime/bootstrap");
	assert_false(ep.found);
	touch("/var/runtime/bootstrap");
	world_entrypoint(root, "provided", &ep);
	assert_string_equal(ep.path, "/var/runtime/bootstrap");
	assert_true(ep.found);
	touch("/var/task/bootstrap");
	world_entrypoint(root, "provided.al2", &ep);
	assert_string_equal(ep.path, "/var/task/bootstrap");
	assert_true(ep.found);
	/* A managed runtime runs the image's bootstrap, whatever the code holds. */
	world_entrypoint(root, "python3.12", &ep);
	assert_string_equal(ep.path, "/var/runtime/bootstrap");
	assert_string_equal(ep.searched, "/var/runtime/bootstrap");
	assert_true(ep.found);
	world_entrypoint("/nonexistent-root", "python3.12", &ep);
	assert_false(ep.found);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_derived_from_init),
		cmocka_unit_test(test_execution_env_only_for_managed_runtimes),
		cmocka_unit_test(test_json_log_format),
		cmocka_unit_test(test_user_variables_replace_defaults),
		cmocka_unit_test(test_reserved_keys_are_refused),
		cmocka_unit_test(test_largest_environment),
		cmocka_unit_test_setup_teardown(test_entrypoint, make_root, remove_root),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
