/* Unit tests for api/lambda/spec.c and shape.c: request bodies checked as Lambda does, responses in Lambda's shapes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/lambda/shape.h"
#include "api/lambda/spec.h"

static struct runtimes rt;
static struct lerror err;

static int setup(void **state)
{
	(void)state;
	memset(&rt, 0, sizeof(rt));
	snprintf(rt.e[0].name, sizeof(rt.e[0].name), "python3.12");
	snprintf(rt.e[0].image, sizeof(rt.e[0].image), "/rt/python.erofs");
	snprintf(rt.e[1].name, sizeof(rt.e[1].name), "provided.al2023");
	snprintf(rt.e[1].image, sizeof(rt.e[1].image), "/rt/provided.erofs");
	rt.count = 2;
	return 0;
}

static cJSON *parse(const char *text)
{
	cJSON *j = NULL;

	if (spec_parse(text, strlen(text), &j, &err) != 0)
		fail_msg("'%s' did not parse: %s", text, err.msg);
	return j;
}

#define BASE                                                                                       \
	"\"FunctionName\":\"f\",\"Role\":\"arn:aws:iam::000000000000:role/r\","                    \
	"\"Runtime\":\"python3.12\",\"Handler\":\"app.handler\",\"Code\":{\"ZipFile\":\"UEs=\"}"

/* A CreateFunction body (BASE plus extra) is refused with exc and words. */
static void expect_create_refused(const char *extra, enum lexc exc, const char *words)
{
	char text[8192];
	struct spec_code code;
	struct fn *f = fn_new();
	cJSON *j;

	/* extra first: cJSON takes the first of duplicate keys. */
	snprintf(text, sizeof(text), "{%s," BASE "}", extra + 1);
	j = parse(text);
	memset(&err, 0, sizeof(err));
	assert_int_equal(spec_create(j, &rt, f, &code, &err), -EINVAL);
	assert_int_equal(err.exc, exc);
	if (strstr(err.msg, words) == NULL)
		fail_msg("for %s: '%s' does not say '%s'", extra, err.msg, words);
	cJSON_Delete(j);
	fn_unref(f);
}

static void test_create_ok(void **state)
{
	const char *text =
		"{" BASE ",\"MemorySize\":512,\"Timeout\":30,\"Description\":\"d\","
		"\"Environment\":{\"Variables\":{\"AB\":\"1\",\"C_D\":\"two\"}},"
		"\"Publish\":true,\"Architectures\":[\"x86_64\"],\"Tags\":{\"t\":\"v\"}}";
	struct spec_code code;
	struct fn *f = fn_new();
	cJSON *j = parse(text);

	(void)state;
	assert_int_equal(spec_create(j, &rt, f, &code, &err), 0);
	assert_string_equal(f->name, "f");
	assert_string_equal(f->runtime, "python3.12");
	assert_string_equal(f->handler, "app.handler");
	assert_string_equal(f->role, "arn:aws:iam::000000000000:role/r");
	assert_string_equal(f->description, "d");
	assert_int_equal(f->memory_mib, 512);
	assert_int_equal(f->timeout_s, 30);
	assert_int_equal(f->env_count, 2);
	assert_string_equal(f->env[0].key, "AB");
	assert_string_equal(f->env[0].value, "1");
	assert_string_equal(f->env[1].key, "C_D");
	assert_string_equal(code.zip_b64, "UEs=");
	assert_int_equal(code.zip_b64_len, 4);
	assert_true(code.publish);
	cJSON_Delete(j);
	fn_unref(f);
	/* Defaults, and a full ARN as the name. */
	f = fn_new();
	j = parse("{\"FunctionName\":\"arn:aws:lambda:us-east-1:000000000000:function:g\","
		  "\"Role\":\"r\",\"Runtime\":\"provided.al2023\",\"Handler\":\"h\","
		  "\"Code\":{\"ZipFile\":\"\"}}");
	assert_int_equal(spec_create(j, &rt, f, &code, &err), 0);
	assert_string_equal(f->name, "g");
	assert_int_equal(f->memory_mib, 128);
	assert_int_equal(f->timeout_s, 3);
	assert_int_equal(f->env_count, 0);
	assert_false(code.publish);
	cJSON_Delete(j);
	fn_unref(f);
}

static void test_create_refusals(void **state)
{
	char big[6000], extra[6100];

	(void)state;
	expect_create_refused(",\"Runtime\":\"cobol85\"", LEXC_INVALID_PARAMETER,
			      "Value cobol85 at 'runtime' failed to satisfy constraint: Member "
			      "must satisfy enum value set: [python3.12, provided.al2023]");
	expect_create_refused(",\"Handler\":\"app handler\"", LEXC_INVALID_PARAMETER,
			      "at 'handler' failed to satisfy constraint");
	expect_create_refused(",\"Handler\":\"\"", LEXC_INVALID_PARAMETER, "'handler'");
	expect_create_refused(",\"MemorySize\":127", LEXC_INVALID_PARAMETER,
			      "Value '127' at 'memorySize' failed to satisfy constraint: Member "
			      "must have value greater than or equal to 128");
	expect_create_refused(",\"MemorySize\":10241", LEXC_INVALID_PARAMETER,
			      "less than or equal to 10240");
	expect_create_refused(",\"MemorySize\":256.5", LEXC_INVALID_PARAMETER, "integer");
	expect_create_refused(",\"Timeout\":0", LEXC_INVALID_PARAMETER,
			      "greater than or equal to 1");
	expect_create_refused(",\"Timeout\":901", LEXC_INVALID_PARAMETER,
			      "Value '901' at 'timeout' failed to satisfy constraint: Member must "
			      "have value less than or equal to 900");
	expect_create_refused(",\"Timeout\":\"9\"", LEXC_INVALID_PARAMETER, "Timeout must be");
	expect_create_refused(",\"FunctionName\":\"bad name\"", LEXC_VALIDATION, "functionName");
	expect_create_refused(",\"FunctionName\":\"f:1\"", LEXC_INVALID_PARAMETER, "qualifier");
	expect_create_refused(",\"Role\":\"\"", LEXC_INVALID_PARAMETER, "Role");
	expect_create_refused(",\"PackageType\":\"Image\"", LEXC_INVALID_PARAMETER, "Image");
	expect_create_refused(",\"Architectures\":[\"arm64\"]", LEXC_INVALID_PARAMETER, "arm64");
	expect_create_refused(",\"Code\":{\"S3Bucket\":\"b\",\"S3Key\":\"k\"}",
			      LEXC_INVALID_PARAMETER, "ZipFile only");
	expect_create_refused(",\"Code\":{}", LEXC_INVALID_PARAMETER, "ZipFile is required");
	expect_create_refused(",\"Layers\":[\"arn:aws:lambda:us-east-1:1:layer:x:1\"]",
			      LEXC_INVALID_PARAMETER, "Layers");
	expect_create_refused(",\"EphemeralStorage\":{\"Size\":1024}", LEXC_INVALID_PARAMETER,
			      "ephemeralStorage");
	expect_create_refused(",\"Environment\":{\"Variables\":{\"A\":\"1\"}}",
			      LEXC_INVALID_PARAMETER, "'A'");
	expect_create_refused(",\"Environment\":{\"Variables\":{\"1AB\":\"1\"}}",
			      LEXC_INVALID_PARAMETER, "regular expression");
	expect_create_refused(",\"Environment\":{\"Variables\":{\"AWS_REGION\":\"x\"}}",
			      LEXC_INVALID_PARAMETER,
			      "Reserved keys used in this request: AWS_REGION");
	expect_create_refused(",\"Environment\":{\"Variables\":{\"AB\":1}}", LEXC_INVALID_PARAMETER,
			      "must be a string");
	memset(big, 'v', 4100);
	big[4100] = '\0';
	snprintf(extra, sizeof(extra), ",\"Environment\":{\"Variables\":{\"AB\":\"%s\"}}", big);
	expect_create_refused(extra, LEXC_INVALID_PARAMETER, "exceeded the 4KB limit");
}

static void test_create_missing(void **state)
{
	static const char *const bodies[][2] = {
		{ "{\"Role\":\"r\",\"Runtime\":\"python3.12\",\"Handler\":\"h\",\"Code\":{"
		  "\"ZipFile\":\"\"}}",
		  "FunctionName is required" },
		{ "{\"FunctionName\":\"f\",\"Runtime\":\"python3.12\",\"Handler\":\"h\",\"Code\":{"
		  "\"ZipFile\":\"\"}}",
		  "Role is required" },
		{ "{\"FunctionName\":\"f\",\"Role\":\"r\",\"Handler\":\"h\",\"Code\":{\"ZipFile\":"
		  "\"\"}}",
		  "Runtime is required" },
		{ "{\"FunctionName\":\"f\",\"Role\":\"r\",\"Runtime\":\"python3.12\",\"Code\":{"
		  "\"ZipFile\":\"\"}}",
		  "Handler is required" },
		{ "{\"FunctionName\":\"f\",\"Role\":\"r\",\"Runtime\":\"python3.12\",\"Handler\":"
		  "\"h\"}",
		  "Code is required" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct spec_code code;
		struct fn *f = fn_new();
		cJSON *j = parse(bodies[i][0]);

		assert_int_equal(spec_create(j, &rt, f, &code, &err), -EINVAL);
		assert_non_null(strstr(err.msg, bodies[i][1]));
		cJSON_Delete(j);
		fn_unref(f);
	}
}

static void test_parse(void **state)
{
	cJSON *j = NULL;
	const char nul[] = "{\"a\":1}\0x";

	(void)state;
	assert_int_equal(spec_parse("{\"a\":", 5, &j, &err), -EINVAL);
	assert_int_equal(err.exc, LEXC_INVALID_REQUEST_CONTENT);
	assert_non_null(strstr(err.msg, "Could not parse request body into json"));
	assert_int_equal(spec_parse("[1]", 3, &j, &err), -EINVAL);
	assert_int_equal(spec_parse("", 0, &j, &err), -EINVAL);
	assert_int_equal(spec_parse(nul, sizeof(nul) - 1, &j, &err), -EINVAL);
	assert_int_equal(spec_parse("{} x", 4, &j, &err), -EINVAL);
	assert_int_equal(spec_parse(" {} ", 4, &j, &err), 0);
	cJSON_Delete(j);
}

static void test_update(void **state)
{
	struct fn *f = fn_new();
	const char *rev = NULL;
	struct spec_code code;
	cJSON *j;

	(void)state;
	snprintf(f->runtime, sizeof(f->runtime), "python3.12");
	snprintf(f->handler, sizeof(f->handler), "a.b");
	f->memory_mib = 128;
	f->timeout_s = 3;
	assert_int_equal(fn_add_env(f, "OLD", "1"), 0);
	j = parse("{\"MemorySize\":1024,\"Environment\":{\"Variables\":{\"NEW\":\"2\"}},"
		  "\"RevisionId\":\"abc\"}");
	assert_int_equal(spec_update_config(j, &rt, f, &rev, &err), 0);
	assert_int_equal(f->memory_mib, 1024);
	assert_int_equal(f->timeout_s, 3); /* untouched */
	assert_string_equal(f->handler, "a.b");
	assert_int_equal(f->env_count, 1); /* replaced, not merged */
	assert_string_equal(f->env[0].key, "NEW");
	assert_string_equal(rev, "abc");
	cJSON_Delete(j);
	j = parse("{\"Environment\":{}}");
	assert_int_equal(spec_update_config(j, &rt, f, &rev, &err), 0);
	assert_int_equal(f->env_count, 0);
	cJSON_Delete(j);
	j = parse("{\"Timeout\":1000}");
	assert_int_equal(spec_update_config(j, &rt, f, &rev, &err), -EINVAL);
	cJSON_Delete(j);
	j = parse("{\"ZipFile\":\"UEs=\",\"Publish\":true,\"DryRun\":false}");
	assert_int_equal(spec_update_code(j, &code, &err), 0);
	assert_string_equal(code.zip_b64, "UEs=");
	assert_true(code.publish);
	assert_null(code.revision_id);
	cJSON_Delete(j);
	j = parse("{\"S3Bucket\":\"b\"}");
	assert_int_equal(spec_update_code(j, &code, &err), -EINVAL);
	cJSON_Delete(j);
	fn_unref(f);
}

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(v))
		fail_msg("no string %s", key);
	return v->valuestring;
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v))
		fail_msg("no number %s", key);
	return v->valuedouble;
}

static struct fn *sample(const char *version)
{
	struct fn *f = fn_new();

	snprintf(f->name, sizeof(f->name), "f");
	snprintf(f->version, sizeof(f->version), "%s", version);
	snprintf(f->arn, sizeof(f->arn), "arn:aws:lambda:us-east-1:000000000000:function:f");
	snprintf(f->runtime, sizeof(f->runtime), "python3.12");
	snprintf(f->handler, sizeof(f->handler), "app.h");
	snprintf(f->role, sizeof(f->role), "r");
	snprintf(f->revision_id, sizeof(f->revision_id), "11111111-2222-4333-8444-555555555555");
	snprintf(f->code_sha256, sizeof(f->code_sha256),
		 "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
	snprintf(f->last_modified, sizeof(f->last_modified), "2019-09-16T21:48:31.137+0000");
	f->code_size = 243;
	f->memory_mib = 256;
	f->timeout_s = 30;
	return f;
}

static void test_shape_config(void **state)
{
	struct fn *f = sample("$LATEST");
	cJSON *c = shape_config(f, false), *fn;

	(void)state;
	assert_string_equal(str(c, "FunctionName"), "f");
	assert_string_equal(str(c, "FunctionArn"),
			    "arn:aws:lambda:us-east-1:000000000000:function:f");
	assert_string_equal(str(c, "Runtime"), "python3.12");
	assert_string_equal(str(c, "Role"), "r");
	assert_string_equal(str(c, "Handler"), "app.h");
	assert_true(num(c, "CodeSize") == 243);
	assert_string_equal(str(c, "CodeSha256"), f->code_sha256);
	assert_string_equal(str(c, "Description"), "");
	assert_true(num(c, "Timeout") == 30);
	assert_true(num(c, "MemorySize") == 256);
	assert_string_equal(str(c, "LastModified"), "2019-09-16T21:48:31.137+0000");
	assert_string_equal(str(c, "Version"), "$LATEST");
	assert_string_equal(str(c, "RevisionId"), f->revision_id);
	assert_string_equal(str(c, "State"), "Active");
	assert_string_equal(str(c, "LastUpdateStatus"), "Successful");
	assert_string_equal(str(c, "PackageType"), "Zip");
	assert_string_equal(
		cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c, "Architectures"), 0)
			->valuestring,
		"x86_64");
	assert_true(num(cJSON_GetObjectItemCaseSensitive(c, "EphemeralStorage"), "Size") == 512);
	assert_string_equal(str(cJSON_GetObjectItemCaseSensitive(c, "TracingConfig"), "Mode"),
			    "PassThrough");
	assert_null(cJSON_GetObjectItemCaseSensitive(c, "Environment"));
	cJSON_Delete(c);
	/* Qualified for ListVersionsByFunction; variables when there are some. */
	assert_int_equal(fn_add_env(f, "AB", "c"), 0);
	c = shape_config(f, true);
	assert_string_equal(str(c, "FunctionArn"),
			    "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST");
	assert_string_equal(
		str(cJSON_GetObjectItemCaseSensitive(
			    cJSON_GetObjectItemCaseSensitive(c, "Environment"), "Variables"),
		    "AB"),
		"c");
	cJSON_Delete(c);
	fn_unref(f);
	f = sample("3");
	c = shape_config(f, false);
	assert_string_equal(str(c, "FunctionArn"),
			    "arn:aws:lambda:us-east-1:000000000000:function:f:3");
	cJSON_Delete(c);
	fn = shape_function(f, 7, "http://h:1/ember/functions/f/code?Qualifier=3");
	assert_string_equal(str(cJSON_GetObjectItemCaseSensitive(fn, "Configuration"), "Version"),
			    "3");
	assert_string_equal(str(cJSON_GetObjectItemCaseSensitive(fn, "Code"), "RepositoryType"),
			    "S3");
	assert_string_equal(str(cJSON_GetObjectItemCaseSensitive(fn, "Code"), "Location"),
			    "http://h:1/ember/functions/f/code?Qualifier=3");
	assert_true(num(cJSON_GetObjectItemCaseSensitive(fn, "Concurrency"),
			"ReservedConcurrentExecutions") == 7);
	cJSON_Delete(fn);
	fn = shape_function(f, -1, "");
	assert_null(cJSON_GetObjectItemCaseSensitive(fn, "Concurrency"));
	assert_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(fn, "Code"),
						     "Location"));
	cJSON_Delete(fn);
	fn_unref(f);
}

static void test_shape_account(void **state)
{
	struct shape_account a = { .code_bytes = 1000,
				   .function_count = 2,
				   .reserved_total = 150,
				   .zipped_max = 52428800,
				   .unzipped_max = 262144000 };
	cJSON *o = shape_account(&a), *lim, *use, *c;

	(void)state;
	lim = cJSON_GetObjectItemCaseSensitive(o, "AccountLimit");
	use = cJSON_GetObjectItemCaseSensitive(o, "AccountUsage");
	assert_true(num(lim, "ConcurrentExecutions") == 1000);
	assert_true(num(lim, "UnreservedConcurrentExecutions") == 850);
	assert_true(num(lim, "CodeSizeZipped") == 52428800);
	assert_true(num(lim, "CodeSizeUnzipped") == 262144000);
	assert_true(num(lim, "TotalCodeSize") == 80530636800.0);
	assert_true(num(use, "TotalCodeSize") == 1000);
	assert_true(num(use, "FunctionCount") == 2);
	cJSON_Delete(o);
	c = shape_concurrency(-1);
	assert_null(c->child);
	cJSON_Delete(c);
	c = shape_concurrency(0);
	assert_true(num(c, "ReservedConcurrentExecutions") == 0);
	cJSON_Delete(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_ok),      cmocka_unit_test(test_create_refusals),
		cmocka_unit_test(test_create_missing), cmocka_unit_test(test_parse),
		cmocka_unit_test(test_update),	       cmocka_unit_test(test_shape_config),
		cmocka_unit_test(test_shape_account),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
