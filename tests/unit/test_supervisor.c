/* Unit tests for guest-init/supervisor.c: Lambda's texts for runtime exits and bad entry points. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "guest-init/supervisor.h"

static char buf[512];

static const char *exit_text(int status)
{
	supervisor_exit_text(status, buf, sizeof(buf));
	return buf;
}

static void test_exit_texts(void **state)
{
	(void)state;
	/* lambda-api.md §5: status 0 is "without providing a reason". */
	assert_string_equal(exit_text(W_EXITCODE(0, 0)),
			    "Runtime exited without providing a reason");
	assert_string_equal(exit_text(W_EXITCODE(1, 0)),
			    "Runtime exited with error: exit status 1");
	assert_string_equal(exit_text(W_EXITCODE(255, 0)),
			    "Runtime exited with error: exit status 255");
	/* Signals in Go's words, as Lambda prints them. */
	assert_string_equal(exit_text(W_EXITCODE(0, SIGKILL)),
			    "Runtime exited with error: signal: killed");
	assert_string_equal(exit_text(W_EXITCODE(0, SIGSEGV)),
			    "Runtime exited with error: signal: segmentation fault");
	assert_string_equal(exit_text(W_EXITCODE(0, SIGABRT)),
			    "Runtime exited with error: signal: aborted");
	assert_string_equal(exit_text(W_EXITCODE(0, SIGTERM)),
			    "Runtime exited with error: signal: terminated");
	/* A core dump does not change the text. */
	assert_string_equal(exit_text(W_EXITCODE(0, SIGSEGV) | WCOREFLAG),
			    "Runtime exited with error: signal: segmentation fault");
}

static const char *entry_text(const char *path, bool found, int err)
{
	supervisor_entrypoint_text(path, "/var/task/bootstrap /var/runtime/bootstrap", found, err,
				   buf, sizeof(buf));
	return buf;
}

static void test_entrypoint_texts(void **state)
{
	(void)state;
	assert_string_equal(entry_text("/var/runtime/bootstrap", false, -ENOENT),
			    "Couldn't find valid bootstrap(s): "
			    "[/var/task/bootstrap /var/runtime/bootstrap]");
	/* There, but its interpreter is missing: exec's own error. */
	assert_string_equal(entry_text("/var/task/bootstrap", true, -ENOENT),
			    "fork/exec /var/task/bootstrap: no such file or directory");
	assert_string_equal(entry_text("/var/task/bootstrap", true, -EACCES),
			    "fork/exec /var/task/bootstrap: permission denied");
	assert_string_equal(entry_text("/var/task/bootstrap", true, -ENOEXEC),
			    "fork/exec /var/task/bootstrap: exec format error");
	/* Only a missing file is "couldn't find"; other errors say what happened. */
	assert_string_equal(entry_text("/var/runtime/bootstrap", false, -ENOTDIR),
			    "fork/exec /var/runtime/bootstrap: not a directory");
}

static void test_texts_fit_small_buffers(void **state)
{
	char small[8];

	(void)state;
	memset(small, 'x', sizeof(small));
	supervisor_exit_text(W_EXITCODE(0, SIGKILL), small, sizeof(small));
	assert_string_equal(small, "Runtime");
	memset(small, 'x', sizeof(small));
	supervisor_entrypoint_text("/var/task/bootstrap", "", true, -EACCES, small, sizeof(small));
	assert_string_equal(small, "fork/ex");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_texts),
		cmocka_unit_test(test_entrypoint_texts),
		cmocka_unit_test(test_texts_fit_small_buffers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
