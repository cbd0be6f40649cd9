/* skip: skips that fail in CI, for cmocka tests (see skip.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <valgrind/valgrind.h>

#include "tests/unit/skip.h"

bool test_ci_mode(void)
{
	const char *ci = getenv("CI"), *kvm = getenv("EMBER_REQUIRE_KVM");

	if (kvm != NULL && strcmp(kvm, "1") == 0)
		return true;
	return ci != NULL && ci[0] != '\0' && strcmp(ci, "0") != 0 && strcmp(ci, "false") != 0;
}

static void skip_or_fail(const char *file, int line, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0), noreturn));
static void skip_or_fail(const char *file, int line, const char *fmt, va_list ap)
{
	char reason[512];

	vsnprintf(reason, sizeof(reason), fmt, ap);
	if (test_ci_mode()) {
		print_error("ERROR: skipped in CI (CI or EMBER_REQUIRE_KVM=1 is set): %s\n",
			    reason);
		_fail(file, line);
	} else {
		print_message("SKIP: %s\n", reason);
		_skip(file, line);
	}
	abort(); /* both jump out of the test */
}

void test_skip_or_fail_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	skip_or_fail(file, line, fmt, ap);
}

void test_skip_tool_at(const char *file, int line, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	if (!RUNNING_ON_VALGRIND)
		skip_or_fail(file, line, fmt, ap);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	print_message("SKIP (under valgrind; the plain and ASan runs cover it): %s\n", reason);
	_skip(file, line);
	abort();
}
