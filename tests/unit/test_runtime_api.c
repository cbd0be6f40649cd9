/* Unit tests for guest-init/runtime_api.c: route checks, error-type filter, answers (no socket). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "guest-init/runtime_api.h"
#include "lib/gproto/gproto.h"

#define RT  "/2018-06-01/runtime/"
#define INV RT "invocation/"

static struct rapi_call call;

static void test_next(void **state)
{
	(void)state;
	assert_int_equal(rapi_parse(RAPI_GET, INV "next", &call), 0);
	assert_int_equal(call.route, RAPI_NEXT);
	assert_int_equal(rapi_parse(RAPI_POST, INV "next", &call), 405);
	assert_int_equal(rapi_parse(RAPI_OTHER, INV "next", &call), 405);
	assert_int_equal(rapi_parse(RAPI_GET, INV "next/", &call), 404);
	assert_int_equal(rapi_parse(RAPI_GET, INV "nextx", &call), 404);
}

static void test_init_error(void **state)
{
	(void)state;
	assert_int_equal(rapi_parse(RAPI_POST, RT "init/error", &call), 0);
	assert_int_equal(call.route, RAPI_INIT_ERROR);
	assert_int_equal(rapi_parse(RAPI_GET, RT "init/error", &call), 405);
	assert_int_equal(rapi_parse(RAPI_POST, RT "init/errors", &call), 404);
}

static void test_response_and_error(void **state)
{
	(void)state;
	assert_int_equal(
		rapi_parse(RAPI_POST, INV "8f5c2a4e-0000-4000-8000-000000000001/response", &call),
		0);
	assert_int_equal(call.route, RAPI_RESPONSE);
	assert_string_equal(call.id, "8f5c2a4e-0000-4000-8000-000000000001");
	assert_int_equal(rapi_parse(RAPI_POST, INV "a.b_C-9/error", &call), 0);
	assert_int_equal(call.route, RAPI_ERROR);
	assert_string_equal(call.id, "a.b_C-9");
	assert_int_equal(rapi_parse(RAPI_GET, INV "abc/response", &call), 405);
	assert_int_equal(rapi_parse(RAPI_GET, INV "abc/error", &call), 405);
}

static void test_unknown_paths(void **state)
{
	static const char *const paths[] = {
		"/",
		"",
		"/2018-06-01/runtime",
		RT,
		RT "invocation",
		INV,
		INV "abc",
		INV "abc/nonsense",
		INV "abc/response/",
		INV "abc/response/x",
		INV "abc/responsex",
		INV "../init/error",
		"/2020-01-01/extension/register",
		"/2018-06-01/runtime/invocation/next?x=1", /* evhttp hands over the path alone */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		assert_int_equal(rapi_parse(RAPI_POST, paths[i], &call), 404);
}

static void test_request_ids(void **state)
{
	char path[256], id[GPROTO_REQUEST_ID_MAX + 2];

	(void)state;
	memset(id, 'a', GPROTO_REQUEST_ID_MAX);
	id[GPROTO_REQUEST_ID_MAX] = '\0';
	snprintf(path, sizeof(path), INV "%s/response", id);
	assert_int_equal(rapi_parse(RAPI_POST, path, &call), 0);
	assert_string_equal(call.id, id);
	/* One byte over, empty, or outside [A-Za-z0-9._-]: 400 InvalidRequestID. */
	strcat(id, "a");
	snprintf(path, sizeof(path), INV "%s/response", id);
	assert_int_equal(rapi_parse(RAPI_POST, path, &call), 400);
	assert_int_equal(rapi_parse(RAPI_POST, INV "/response", &call), 400);
	assert_int_equal(rapi_parse(RAPI_POST, INV "a%20b/error", &call), 400);
	assert_int_equal(rapi_parse(RAPI_POST, INV "a b/error", &call), 400);
	assert_int_equal(rapi_parse(RAPI_POST, INV "a:b/error", &call), 400);
	assert_int_equal(rapi_parse(RAPI_POST,
				    INV "a\x01"
					"b/error",
				    &call),
			 400);
	/* The method is checked before the id. */
	assert_int_equal(rapi_parse(RAPI_GET, INV "a b/error", &call), 405);
}

static void test_error_type_header(void **state)
{
	char big[GPROTO_ERROR_TYPE_MAX + 2];
	const char *t = "Unhandled";

	(void)state;
	assert_ptr_equal(rapi_error_type(t), t);
	assert_string_equal(rapi_error_type(NULL), "");
	assert_string_equal(rapi_error_type(""), "");
	assert_string_equal(rapi_error_type("Function.Unhandled\twith tab"),
			    "Function.Unhandled\twith tab");
	assert_string_equal(rapi_error_type("bad\x01"), "");
	assert_string_equal(rapi_error_type("bad\x1f"), "");
	assert_string_equal(rapi_error_type("bad\x7f"), "");
	assert_string_equal(rapi_error_type("bad\r\nInjected: yes"), "");
	assert_string_equal(rapi_error_type("caf\xc3\xa9"), "caf\xc3\xa9"); /* bytes >= 0x80 pass */
	memset(big, 'x', GPROTO_ERROR_TYPE_MAX);
	big[GPROTO_ERROR_TYPE_MAX] = '\0';
	assert_ptr_equal(rapi_error_type(big), big);
	big[GPROTO_ERROR_TYPE_MAX] = 'x';
	big[GPROTO_ERROR_TYPE_MAX + 1] = '\0';
	assert_string_equal(rapi_error_type(big), "");
}

/* The answer's body is JSON with this errorType (or {"status":"OK"}). */
static void check_answer(int status, int code, const char *error_type)
{
	struct rapi_answer a;
	cJSON *j;

	rapi_answer(status, &a);
	assert_int_equal(a.code, code);
	assert_non_null(a.reason);
	j = cJSON_Parse(a.body);
	assert_non_null(j);
	if (error_type == NULL) {
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "status")), "OK");
	} else {
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "errorType")),
				    error_type);
		assert_non_null(cJSON_GetStringValue(cJSON_GetObjectItem(j, "errorMessage")));
	}
	cJSON_Delete(j);
}

static void test_answers(void **state)
{
	(void)state;
	check_answer(0, 202, NULL);
	check_answer(-ENOENT, 400, "InvalidRequestID");
	check_answer(-EPERM, 403, "InvalidStateTransition");
	check_answer(-EMSGSIZE, 413, "RequestEntityTooLarge");
	check_answer(-EPIPE, 500, "Runtime.ExitError");
	check_answer(-ENOMEM, 500, "ServiceException");
	check_answer(-EIO, 500, "ServiceException");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next),
		cmocka_unit_test(test_init_error),
		cmocka_unit_test(test_response_and_error),
		cmocka_unit_test(test_unknown_paths),
		cmocka_unit_test(test_request_ids),
		cmocka_unit_test(test_error_type_header),
		cmocka_unit_test(test_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
