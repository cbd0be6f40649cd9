/* Unit tests for api/lambda/names.c, routes.c and errors.c: function names, ARNs, routes, the exception table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/lambda/errors.h"
#include "api/lambda/names.h"
#include "api/lambda/ops.h"
#include "api/lambda/routes.h"

static void expect_name(const char *in, const char *name, const char *qual)
{
	struct fname f;
	struct lerror err = { 0 };

	if (names_parse(in, &f, &err) != 0)
		fail_msg("'%s' refused: %s", in, err.msg);
	assert_string_equal(f.name, name);
	assert_string_equal(f.qualifier, qual);
}

static void expect_bad(const char *in)
{
	struct fname f;
	struct lerror err = { 0 };

	if (names_parse(in, &f, &err) != -EINVAL)
		fail_msg("'%s' accepted", in);
	assert_int_equal(err.exc, LEXC_VALIDATION);
	assert_non_null(strstr(err.msg, "functionName"));
}

static void test_names(void **state)
{
	char long_name[80];

	(void)state;
	expect_name("my-fn_1", "my-fn_1", "");
	expect_name("my-fn:$LATEST", "my-fn", "$LATEST");
	expect_name("my-fn:7", "my-fn", "7");
	expect_name("123456789012:function:my-fn", "my-fn", "");
	expect_name("123456789012:function:my-fn:prod", "my-fn", "prod");
	expect_name("arn:aws:lambda:us-east-1:000000000000:function:my-fn", "my-fn", "");
	expect_name("arn:aws:lambda:eu-west-3:123456789012:function:my-fn:$LATEST", "my-fn",
		    "$LATEST");
	expect_name("arn:aws-cn:lambda:cn-north-1:123456789012:function:f:3", "f", "3");
	expect_bad("");
	expect_bad("has space");
	expect_bad("a/b");
	expect_bad("fn:");
	expect_bad("fn:$OTHER");
	expect_bad("fn:1:2");
	expect_bad("arn:aws:s3:us-east-1:000000000000:function:f");
	expect_bad("arn:aws:lambda:us-east-1:12345:function:f");
	expect_bad("arn:aws:lambda:us-east-1:000000000000:layer:f");
	expect_bad("arn:aws:lambda:us-east-1:000000000000:function:");
	memset(long_name, 'a', 65);
	long_name[65] = '\0';
	expect_bad(long_name);
	long_name[64] = '\0';
	expect_name(long_name, long_name, "");
}

static void test_percent_decode(void **state)
{
	char out[NAMES_INPUT_MAX + 1];
	const char *arn =
		"arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Afoo%3A%24LATEST";

	(void)state;
	assert_int_equal(names_percent_decode(arn, strlen(arn), out, sizeof(out)), 0);
	assert_string_equal(out, "arn:aws:lambda:us-east-1:000000000000:function:foo:$LATEST");
	expect_name(out, "foo", "$LATEST");
	assert_int_equal(names_percent_decode("a%2fb", 5, out, sizeof(out)), -EINVAL);
	assert_int_equal(names_percent_decode("a%00b", 5, out, sizeof(out)), -EINVAL);
	assert_int_equal(names_percent_decode("a%4", 3, out, sizeof(out)), -EINVAL);
	assert_int_equal(names_percent_decode("a%zz", 4, out, sizeof(out)), -EINVAL);
	assert_int_equal(names_percent_decode("abcdef", 6, out, 4), -EINVAL);
	assert_int_equal(names_percent_decode("abc", 3, out, 4), 0);
}

static void expect_route(enum evhttp_cmd_type m, const char *path, void (*fn)(struct lreq *),
			 const char *seg)
{
	const char *s;
	size_t n;
	bool known;
	const struct route *r = routes_match(m, path, &s, &n, &known);

	if (r == NULL)
		fail_msg("no route for %s", path);
	assert_ptr_equal(r->fn, fn);
	if (seg == NULL) {
		assert_null(s);
	} else {
		assert_int_equal(n, strlen(seg));
		assert_memory_equal(s, seg, n);
	}
}

static void test_routes(void **state)
{
	const char *s;
	size_t n;
	bool known;

	(void)state;
	/* botocore 1.29 adds the trailing slash to ListFunctions. */
	expect_route(EVHTTP_REQ_GET, "/2015-03-31/functions", op_list_functions, NULL);
	expect_route(EVHTTP_REQ_GET, "/2015-03-31/functions/", op_list_functions, NULL);
	expect_route(EVHTTP_REQ_POST, "/2015-03-31/functions", op_create_function, NULL);
	expect_route(EVHTTP_REQ_GET, "/2015-03-31/functions/f%3A1", op_get_function, "f%3A1");
	expect_route(EVHTTP_REQ_GET, "/2015-03-31/functions/f/configuration", op_get_configuration,
		     "f");
	expect_route(EVHTTP_REQ_PUT, "/2015-03-31/functions/f/code", op_update_code, "f");
	expect_route(EVHTTP_REQ_POST, "/2015-03-31/functions/f/invocations", op_invoke, "f");
	expect_route(EVHTTP_REQ_PUT, "/2017-10-31/functions/f/concurrency", op_put_concurrency,
		     "f");
	expect_route(EVHTTP_REQ_GET, "/2019-09-30/functions/f/concurrency", op_get_concurrency,
		     "f");
	expect_route(EVHTTP_REQ_DELETE, "/2017-10-31/functions/f/concurrency",
		     op_delete_concurrency, "f");
	expect_route(EVHTTP_REQ_GET, "/2016-08-19/account-settings/", op_account_settings, NULL);
	expect_route(EVHTTP_REQ_GET, "/ember/functions/f/logs", op_ember_logs, "f");
	/* The wrong date prefix, the wrong method, extra segments. */
	assert_null(routes_match(EVHTTP_REQ_GET, "/2017-10-31/functions/f/concurrency", &s, &n,
				 &known));
	assert_null(routes_match(EVHTTP_REQ_PATCH, "/2015-03-31/functions/f", &s, &n, &known));
	assert_true(known);
	assert_null(routes_match(EVHTTP_REQ_GET, "/2015-03-31/functions/f/x/y", &s, &n, &known));
	assert_false(known);
	assert_null(routes_match(EVHTTP_REQ_GET, "/2015-03-31/functions//configuration", &s, &n,
				 &known));
	/* Invoke takes Lambda's 6 MB; code uploads 70167211 bytes. */
	assert_int_equal(
		routes_match(EVHTTP_REQ_POST, "/2015-03-31/functions/f/invocations", &s, &n, &known)
			->body_max,
		6291456);
	assert_int_equal(routes_body_max(), 70167211);
}

static void test_error_table(void **state)
{
	(void)state;
	assert_int_equal(lexc_status(LEXC_RESOURCE_NOT_FOUND), 404);
	assert_string_equal(lexc_name(LEXC_RESOURCE_NOT_FOUND), "ResourceNotFoundException");
	assert_true(lexc_capital_message(LEXC_RESOURCE_NOT_FOUND));
	assert_int_equal(lexc_status(LEXC_RESOURCE_CONFLICT), 409);
	assert_false(lexc_capital_message(LEXC_RESOURCE_CONFLICT));
	assert_int_equal(lexc_status(LEXC_INVALID_PARAMETER), 400);
	assert_string_equal(lexc_name(LEXC_INVALID_PARAMETER), "InvalidParameterValueException");
	assert_int_equal(lexc_status(LEXC_INVALID_REQUEST_CONTENT), 400);
	assert_int_equal(lexc_status(LEXC_TOO_LARGE), 413);
	assert_string_equal(lexc_name(LEXC_TOO_LARGE), "RequestEntityTooLargeException");
	assert_int_equal(lexc_status(LEXC_TOO_MANY_REQUESTS), 429);
	assert_int_equal(lexc_status(LEXC_SERVICE), 500);
	assert_true(lexc_is_service(LEXC_SERVICE));
	assert_false(lexc_is_service(LEXC_TOO_LARGE));
	/* Out of range falls back to a service error, never out of the table. */
	assert_int_equal(lexc_status((enum lexc)999), 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_percent_decode),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_error_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
