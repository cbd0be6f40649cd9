/* Unit tests for vmm/control.c (the API thread <-> main thread mailbox) and vmm/metrics.c. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/control.h"
#include "vmm/metrics.h"

struct caller {
	struct ctl *ctl;
	enum ctl_cmd cmd;
	int ret;
	char err[CONFIG_ERR_LEN];
};

static void *call_thread(void *arg)
{
	struct caller *c = arg;

	c->ret = c->ctl->cmd_fd >= 0 ? ctl_call(c->ctl, c->cmd, NULL, c->err, sizeof(c->err)) : -1;
	return NULL;
}

/* The main thread's side: wait for the eventfd, then take the command. */
static enum ctl_cmd wait_take(struct ctl *ctl)
{
	struct pollfd p = { .fd = ctl->cmd_fd, .events = POLLIN };

	assert_int_equal(poll(&p, 1, 5000), 1);
	return ctl_take(ctl);
}

static void test_call_is_answered(void **state)
{
	struct ctl ctl;
	struct caller c = { .ctl = &ctl, .cmd = CTL_CMD_PAUSE };
	pthread_t t;

	(void)state;
	assert_int_equal(ctl_init(&ctl), 0);
	assert_int_equal(ctl_get_state(&ctl), CTL_NOT_STARTED);
	assert_int_equal(pthread_create(&t, NULL, call_thread, &c), 0);
	assert_int_equal(wait_take(&ctl), CTL_CMD_PAUSE);
	ctl_set_state(&ctl, CTL_PAUSED);
	ctl_finish(&ctl, -EIO, "disk on fire");
	pthread_join(t, NULL);
	assert_int_equal(c.ret, -EIO);
	assert_string_equal(c.err, "disk on fire");
	assert_string_equal(ctl_state_name(ctl_get_state(&ctl)), "Paused");
	/* Nothing is pending now: a spurious wake-up takes nothing. */
	assert_int_equal(ctl_take(&ctl), CTL_CMD_NONE);
	ctl_destroy(&ctl);
}

static void test_close_fails_waiting_and_later_calls(void **state)
{
	struct ctl ctl;
	struct caller c = { .ctl = &ctl, .cmd = CTL_CMD_RESUME };
	char err[CONFIG_ERR_LEN];
	pthread_t t;

	(void)state;
	assert_int_equal(ctl_init(&ctl), 0);
	assert_int_equal(pthread_create(&t, NULL, call_thread, &c), 0);
	assert_int_equal(wait_take(&ctl), CTL_CMD_RESUME);
	ctl_close(&ctl); /* the VM stopped before answering */
	pthread_join(t, NULL);
	assert_int_equal(c.ret, -ESHUTDOWN);
	assert_non_null(strstr(c.err, "stopped"));
	assert_int_equal(ctl_call(&ctl, CTL_CMD_PAUSE, NULL, err, sizeof(err)), -ESHUTDOWN);
	assert_int_equal(ctl_get_state(&ctl), CTL_STOPPED);
	ctl_destroy(&ctl);
}

static void test_metrics_line(void **state)
{
	static const char *const names[] = { "GET /", "PUT /x" };
	char path[] = "/tmp/ember-test-metrics-XXXXXX", err[CONFIG_ERR_LEN], buf[4096];
	struct machine_stats vs = { .boot_us = 1234, .ndrives = 1, .vsock_enabled = true };
	struct metrics m;
	int fd = mkstemp(path);
	ssize_t n;

	(void)state;
	assert_true(fd >= 0);
	metrics_init(&m, names, 2);
	assert_false(metrics_enabled(&m));
	assert_int_equal(metrics_flush(&m, NULL, err, sizeof(err)), -ENOENT);
	assert_int_equal(metrics_open(&m, path, err, sizeof(err)), 0);
	assert_int_equal(metrics_open(&m, path, err, sizeof(err)), -EEXIST);
	metrics_count_api(&m, 1, false);
	metrics_count_api(&m, 1, true);
	metrics_count_api(&m, 99, true); /* an unknown route: only the error counts */
	vs.vcpu.exits = 7;
	snprintf(vs.drives[0].id, sizeof(vs.drives[0].id), "rootfs");
	vs.drives[0].s.read_bytes = 4096;
	vs.vsock.conns = 2;
	assert_int_equal(metrics_flush(&m, NULL, err, sizeof(err)), 0);
	assert_int_equal(metrics_flush(&m, &vs, err, sizeof(err)), 0);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	/* Two lines: the first without VM counters, the second with them. */
	assert_non_null(strchr(buf, '\n'));
	assert_true(strstr(buf, "\"vcpu\"") > strchr(buf, '\n'));
	assert_non_null(strstr(buf, "\"api_requests\":{\"GET /\":0,\"PUT /x\":2,\"errors\":2}"));
	assert_non_null(strstr(buf, "\"boot_time_us\":1234"));
	assert_non_null(strstr(buf, "\"vcpu\":{\"exits\":7"));
	assert_non_null(strstr(buf, "\"rootfs\":{\"read_ops\":0,\"read_bytes\":4096"));
	assert_non_null(strstr(buf, "\"vsock\":{\"conns\":2"));
	metrics_destroy(&m);
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_call_is_answered),
		cmocka_unit_test(test_close_fails_waiting_and_later_calls),
		cmocka_unit_test(test_metrics_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
