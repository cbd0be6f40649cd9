/* skip: cmocka's skip(), which exits 0, made to fail in CI (tests/unit).
 *
 * Contract:
 * - test_skip_or_fail(fmt, ...) ends the running test because this host
 *   cannot run it, printing the reason. Under CI (CI set to anything but ""
 *   "0" or "false") or EMBER_REQUIRE_KVM=1 the test fails with that reason
 *   instead, so a CI run never passes by skipping. Never returns.
 * - test_skip_tool(fmt, ...) is for one cause only: the test runs under
 *   valgrind, which lacks what it needs (a syscall it does not emulate). It
 *   skips even in CI, because the plain and ASan runs of the same binary (make
 *   unit) still run the test; outside valgrind it is test_skip_or_fail().
 * - test_ci_mode() says whether skips fail here.
 * Include after <cmocka.h>. */
#ifndef EMBER_TEST_SKIP_H
#define EMBER_TEST_SKIP_H

#include <stdbool.h>

bool test_ci_mode(void);
void test_skip_or_fail_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
void test_skip_tool_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

#define test_skip_or_fail(...) test_skip_or_fail_at(__FILE__, __LINE__, __VA_ARGS__)
#define test_skip_tool(...)    test_skip_tool_at(__FILE__, __LINE__, __VA_ARGS__)

#endif
