/* Unit tests for guest-init/bootstrap.c's cleanup: after the bootstrap ends, no sandbox process is left, not even a zombie. */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "guest-init/bootstrap.h"
#include "guest-init/world.h"
#include "lib/util/log.h"
#include "tests/unit/skip.h"

#define KIDS 40

static int exited = -1;

static void on_log(void *ctx, uint8_t stream, const uint8_t *line, size_t len)
{
	(void)ctx, (void)stream, (void)line, (void)len;
}

static void on_exited(void *ctx, int status)
{
	(void)ctx;
	exited = status;
}

static const struct bootstrap_ops ops = { on_log, on_exited };

/* The "bootstrap": as the sandbox user, leaves KIDS children (each with a
 * grandchild) that wait for ever, then exits 7. */
static _Noreturn void fake_bootstrap(void)
{
	if (setresgid(WORLD_GID, WORLD_GID, WORLD_GID) < 0 ||
	    setresuid(WORLD_UID, WORLD_UID, WORLD_UID) < 0)
		_exit(1);
	for (int i = 0; i < KIDS; i++) {
		pid_t p = fork();

		if (p == 0) {
			if (fork() < 0)
				_exit(1);
			for (;;)
				pause();
		}
		if (p < 0)
			_exit(1);
	}
	_exit(7);
}

/* PID 1 of a fresh PID namespace, with its own /proc: kill(-1) and the
 * /proc scan see only this test's processes. Exit 0 when the cleanup left
 * nothing, else the step that failed. */
static _Noreturn void ns_init(void)
{
	struct bootstrap b;
	siginfo_t si;

	log_set_level(LOG_NONE);
	if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		_exit(10);
	if (bootstrap_init(&b, NULL, &ops, NULL) < 0)
		_exit(11);
	b.pid = fork();
	if (b.pid == 0)
		fake_bootstrap();
	/* Wait for its exit without reaping it: bootstrap_reap() does that. */
	if (waitid(P_PID, (id_t)b.pid, &si, WEXITED | WNOWAIT) < 0)
		_exit(12);
	if (bootstrap_count() < KIDS)
		_exit(13); /* the children must be there before the cleanup */
	bootstrap_reap(&b);
	if (!WIFEXITED(exited) || WEXITSTATUS(exited) != 7)
		_exit(14);
	if (bootstrap_count() != 0)
		_exit(15); /* a sandbox process, or its zombie, outlived the cleanup */
	_exit(0);
}

/* In a child, so that this process keeps its namespaces (LeakSanitizer's
 * tracer must be able to start here at exit): 0, or ns_init's failed step,
 * or 20 when the namespaces cannot be made. */
static _Noreturn void outer(void)
{
	int status;
	pid_t pid;

	if (unshare(CLONE_NEWPID | CLONE_NEWNS) < 0)
		_exit(20);
	pid = fork();
	if (pid == 0)
		ns_init();
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		_exit(21);
	_exit(WEXITSTATUS(status));
}

static void test_no_sandbox_process_outlives_the_bootstrap(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		outer();
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 20)
		test_skip_or_fail("unshare(CLONE_NEWPID | CLONE_NEWNS) failed (needs root)");
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_sandbox_process_outlives_the_bootstrap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
