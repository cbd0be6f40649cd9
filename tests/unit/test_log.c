/* Unit tests for lib/util/log.c: level parsing and the rate limiter. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/util/log.h"

static void test_levels(void **state)
{
	enum log_level l;

	(void)state;
	assert_int_equal(log_parse_level("debug", &l), 0);
	assert_int_equal(l, LOG_DEBUG);
	assert_int_equal(log_parse_level("error", &l), 0);
	assert_int_equal(l, LOG_ERR);
	assert_int_equal(log_parse_level("loud", &l), -EINVAL);
	log_set_level(LOG_WARN);
	assert_int_equal(log_get_level(), LOG_WARN);
}

static void test_ratelimit(void **state)
{
	struct log_ratelimit rl = { 0 };
	unsigned ok = 0;

	(void)state;
	log_set_level(LOG_NONE); /* the "suppressed" line is not the point here */
	for (int i = 0; i < 1000; i++)
		ok += log_ratelimit_ok(&rl);
	assert_int_equal(ok, LOG_RATELIMIT_BURST);
	assert_int_equal(rl.dropped, 1000 - LOG_RATELIMIT_BURST);
	rl.window_ns -= 2000000000ull; /* a second later the window opens again */
	assert_true(log_ratelimit_ok(&rl));
	assert_int_equal(rl.dropped, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_ratelimit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
