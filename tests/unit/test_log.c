/* Unit tests for lib/util/log.c: level parsing and the rate limiter. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

/* Asserts behaviour, whatever the clock does meanwhile (a loaded host or
 * valgrind may spread the calls over several windows): within one window
 * (rl.window_ns unchanged) the first LOG_RATELIMIT_BURST calls pass and the
 * rest are counted as dropped; the call that opens a window passes and starts
 * the count afresh. Calls go on until one is refused; a limiter that never
 * refuses fails at the bound. */
static void test_ratelimit(void **state)
{
	struct log_ratelimit rl = { 0 };
	uint64_t window = 0;
	unsigned in_window = 0, i;
	bool refused = false;

	(void)state;
	log_set_level(LOG_NONE); /* the "suppressed" line is the next test's */
	for (i = 0; i < 1000000 && !refused; i++) {
		bool ok = log_ratelimit_ok(&rl);

		if (rl.window_ns != window) {
			window = rl.window_ns;
			in_window = 0;
		}
		in_window++;
		assert_int_equal(ok, in_window <= LOG_RATELIMIT_BURST);
		assert_int_equal(rl.count, in_window <= LOG_RATELIMIT_BURST ? in_window
									    : LOG_RATELIMIT_BURST);
		assert_int_equal(rl.dropped, in_window <= LOG_RATELIMIT_BURST
						     ? 0
						     : in_window - LOG_RATELIMIT_BURST);
		refused = !ok;
	}
	assert_true(refused);
}

/* When a window opens after drops, one line says how many were dropped. */
static void test_ratelimit_reports_drops(void **state)
{
	struct log_ratelimit rl = { 0 };
	char out[512] = "", want[64];
	uint32_t dropped;
	int fd = memfd_create("log", MFD_CLOEXEC);
	ssize_t n;

	(void)state;
	assert_true(fd >= 0);
	log_set_level(LOG_NONE);
	for (unsigned i = 0; i < 1000000 && log_ratelimit_ok(&rl); i++)
		;
	dropped = rl.dropped;
	assert_true(dropped >= 1);
	log_set_level(LOG_WARN);
	log_set_output(fd, false, false);
	rl.window_ns -= 2000000000ull; /* as if two seconds went by */
	assert_true(log_ratelimit_ok(&rl));
	assert_int_equal(rl.dropped, 0);
	assert_int_equal(rl.count, 1);
	log_set_output(-1, false, false);
	n = pread(fd, out, sizeof(out) - 1, 0);
	assert_true(n > 0);
	out[n] = '\0';
	snprintf(want, sizeof(want), "] %u similar messages suppressed\n", dropped);
	if (strstr(out, want) == NULL)
		fail_msg("log output \"%s\" lacks \"%s\"", out, want);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_ratelimit),
		cmocka_unit_test(test_ratelimit_reports_drops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
