/* Unit tests for vmm/lifecycle.c: the main thread's answers to API commands, their texts, and ember-vmm's exit codes; no KVM.
 *
 * lifecycle.c is included here, and the machine (vmm/machine/machine.h) is
 * a stand-in defined below, so the linker takes none of libvmm's machine
 * objects: each step's outcome is scripted. The control mailbox, the event
 * loop and metrics are the real ones. A client thread plays the API: it
 * sends a script of commands through ctl_call() and records each answer;
 * the test asserts them once lifecycle_run() has returned. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/lifecycle.c"

/* --- the stand-in machine --- */

struct machine {
	struct evloop *ev;
};

struct machine_restore {
	int unused;
};

/* What the stand-in does; reset by each test. */
static struct {
	int build_fails; /* how many builds fail before one succeeds */
	int build_code;	 /* their exit code */
	int run_code;	 /* machine_run's */
	int pause_ret;	 /* machine_pause's */
	int cad_calls;	 /* the second Ctrl-Alt-Del stops the VM */
	int restore_open_ret;
	unsigned builds, destroys, paused_runs;
} sm;

int machine_build(const struct vm_config *cfg, uint64_t start_ns, struct machine **out)
{
	(void)cfg, (void)start_ns;
	sm.builds++;
	if (sm.build_fails > 0) {
		sm.build_fails--;
		log_err("kernel: /no/vmlinux: No such file or directory");
		return sm.build_code;
	}
	*out = calloc(1, sizeof(**out));
	if (*out == NULL || evloop_create(&(*out)->ev) < 0)
		return VMM_EXIT_KVM;
	return VMM_EXIT_OK;
}

int machine_build_with(const struct vm_config *cfg, uint64_t start_ns,
		       const struct machine_restore *rs, struct machine **out)
{
	(void)rs;
	return machine_build(cfg, start_ns, out);
}

int machine_restore_open(const char *state_path, const char *mem_path, bool uffd,
			 const struct schema_load_overrides *ov, struct vm_config *cfg,
			 struct machine_restore **out, char *err, size_t errlen)
{
	static struct machine_restore rs;

	(void)mem_path, (void)uffd, (void)ov, (void)cfg;
	if (sm.restore_open_ret < 0) {
		snprintf(err, errlen, "%.64s: bad magic (not an ember snapshot state file)",
			 state_path);
		return sm.restore_open_ret;
	}
	*out = &rs;
	return 0;
}

void machine_restore_free(struct machine_restore *rs)
{
	(void)rs;
}

void machine_run_paused(struct machine *vmm)
{
	(void)vmm;
	sm.paused_runs++;
}

int machine_run(struct machine *vmm)
{
	evloop_run(vmm->ev);
	return sm.run_code;
}

void machine_destroy(struct machine *vmm)
{
	if (vmm == NULL)
		return;
	sm.destroys++;
	evloop_destroy(vmm->ev);
	free(vmm);
}

struct evloop *machine_loop(struct machine *vmm)
{
	return vmm->ev;
}

int machine_pause(struct machine *vmm)
{
	(void)vmm;
	return sm.pause_ret;
}

void machine_resume(struct machine *vmm)
{
	(void)vmm;
}

int machine_ctrl_alt_del(struct machine *vmm)
{
	if (++sm.cad_calls == 1)
		return -ENOSPC;
	evloop_stop(vmm->ev); /* the guest reboots: the VM ends */
	return 0;
}

int machine_snapshot_create(struct machine *vmm, const char *state_path, const char *mem_path,
			    bool diff, char *err, size_t errlen)
{
	(void)vmm, (void)state_path, (void)diff;
	snprintf(err, errlen, "%.64s: Input/output error", mem_path);
	return -EIO;
}

int machine_replace_drive(struct machine *vmm, unsigned index, const char *path, char *err,
			  size_t errlen)
{
	(void)vmm;
	snprintf(err, errlen, "drive %u: %.64s: No such file or directory", index, path);
	return -ENOENT;
}

void machine_get_stats(struct machine *vmm, struct machine_stats *out)
{
	(void)vmm;
	memset(out, 0, sizeof(*out));
}

/* --- the API side --- */

/* The state after the VM's end races with the client's look at it. */
#define ANY_STATE ((enum ctl_state) - 1)

struct step {
	enum ctl_cmd cmd;
	int want_ret;
	const char *want_err; /* a part of the message; NULL: empty */
	enum ctl_state want_state;
	/* filled in by the client */
	int ret;
	char err[CONFIG_ERR_LEN];
	enum ctl_state state;
};
#define STEP(c, r, e, st)                                                                          \
	{                                                                                          \
		.cmd = (c), .want_ret = (r), .want_err = (e), .want_state = (st)                   \
	}

struct client {
	struct ctl *ctl;
	struct step *steps;
	unsigned n;
	bool reply_sent; /* say the reply left, as the HTTP server does for out->last */
};

static void *client(void *arg)
{
	struct client *c = arg;
	struct ctl_args args = { .drive = 3, .path = "/new.img", .mem_path = "mem" };

	for (unsigned i = 0; i < c->n; i++) {
		struct step *s = &c->steps[i];

		s->ret = ctl_call(c->ctl, s->cmd, &args, s->err, sizeof(s->err));
		if (c->reply_sent)
			ctl_reply_sent(c->ctl);
		s->state = ctl_get_state(c->ctl);
	}
	return NULL;
}

static void check_steps(const struct step *steps, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const struct step *s = &steps[i];

		if (s->ret != s->want_ret)
			fail_msg("step %u (command %d): returned %d, want %d (\"%s\")", i, s->cmd,
				 s->ret, s->want_ret, s->err);
		if (s->want_err != NULL ? strstr(s->err, s->want_err) == NULL : s->err[0] != '\0')
			fail_msg("step %u (command %d): error \"%s\", want \"%s\"", i, s->cmd,
				 s->err, s->want_err != NULL ? s->want_err : "");
		if (s->want_state != ANY_STATE && s->state != s->want_state)
			fail_msg("step %u (command %d): state %s, want %s", i, s->cmd,
				 ctl_state_name(s->state), ctl_state_name(s->want_state));
	}
}

struct fx {
	struct ctl ctl;
	struct metrics metrics;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(ctl_init(&f->ctl), 0);
	metrics_init(&f->metrics, NULL, 0);
	memset(&sm, 0, sizeof(sm));
	log_clear_last_error();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	metrics_destroy(&f->metrics);
	ctl_destroy(&f->ctl);
	free(f);
	return 0;
}

/* Runs lifecycle_run() on this thread while the client sends steps. */
static int run_with_client(struct fx *f, enum lifecycle_start how, const struct ctl_args *snap,
			   struct step *steps, unsigned n, bool reply_sent)
{
	struct client c = { &f->ctl, steps, n, reply_sent };
	pthread_t t;
	int code;

	assert_int_equal(pthread_create(&t, NULL, client, &c), 0);
	code = lifecycle_run(&f->ctl, &f->metrics, 0, how, snap);
	assert_int_equal(pthread_join(t, NULL), 0);
	return code;
}

/* After the VM ends, every API call fails: the VMM is on its way out. */
static void expect_closed(struct fx *f)
{
	char err[CONFIG_ERR_LEN];

	assert_int_equal(ctl_get_state(&f->ctl), CTL_STOPPED);
	assert_int_equal(ctl_call(&f->ctl, CTL_CMD_PAUSE, NULL, err, sizeof(err)), -ESHUTDOWN);
	assert_string_equal(err, "the microVM has stopped");
}

/* --config-file or --kernel: a failed build is the process's exit code. */
static void test_boot_failure_is_the_exit_code(void **state)
{
	struct fx *f = *state;

	sm.build_fails = 1;
	sm.build_code = VMM_EXIT_CONFIG;
	assert_int_equal(lifecycle_run(&f->ctl, &f->metrics, 0, LIFECYCLE_BOOT, NULL),
			 VMM_EXIT_CONFIG);
	assert_string_equal(log_last_error(), "kernel: /no/vmlinux: No such file or directory");
	assert_int_equal(sm.destroys, 0);
	expect_closed(f);
}

/* Every command of a running VM, with the answer the API passes on. */
static void test_commands_while_waiting_and_running(void **state)
{
	struct fx *f = *state;
	struct step steps[] = {
		STEP(CTL_CMD_START, -EINVAL, "kernel: /no/vmlinux: No such file or directory",
		     CTL_NOT_STARTED),
		STEP(CTL_CMD_PAUSE, -EINVAL, "the microVM is not running", CTL_NOT_STARTED),
		STEP(CTL_CMD_START, 0, NULL, CTL_RUNNING),
		STEP(CTL_CMD_START, -EINVAL, "InstanceStart: the microVM is already running",
		     CTL_RUNNING),
		STEP(CTL_CMD_PAUSE, 0, NULL, CTL_PAUSED),
		STEP(CTL_CMD_RESUME, 0, NULL, CTL_RUNNING),
		STEP(CTL_CMD_SNAPSHOT_LOAD, -EINVAL, "a snapshot loads only into a fresh ember-vmm",
		     CTL_RUNNING),
		STEP(CTL_CMD_SNAPSHOT_CREATE, -EIO, "mem: Input/output error", CTL_RUNNING),
		STEP(CTL_CMD_UPDATE_DRIVE, -ENOENT, "drive 3: /new.img: No such file or directory",
		     CTL_RUNNING),
		STEP(CTL_CMD_FLUSH_METRICS, -ENOENT, "metrics are not configured", CTL_RUNNING),
		STEP(CTL_CMD_CTRL_ALT_DEL, -ENOSPC, "SendCtrlAltDel: No space left on device",
		     CTL_RUNNING),
		STEP(CTL_CMD_CTRL_ALT_DEL, 0, NULL, ANY_STATE),
	};
	unsigned n = sizeof(steps) / sizeof(steps[0]);

	sm.build_fails = 1;
	sm.build_code = VMM_EXIT_CONFIG;
	sm.run_code = VMM_EXIT_OK;
	assert_int_equal(run_with_client(f, LIFECYCLE_WAIT, NULL, steps, n, false), VMM_EXIT_OK);
	check_steps(steps, n);
	assert_int_equal(sm.builds, 2);
	assert_int_equal(sm.destroys, 1);
	expect_closed(f);
}

/* A pause that the VM's end interrupts leaves the state alone. */
static void test_pause_interrupted_by_the_end(void **state)
{
	struct fx *f = *state;
	struct step steps[] = {
		STEP(CTL_CMD_START, 0, NULL, CTL_RUNNING),
		STEP(CTL_CMD_PAUSE, -ESHUTDOWN, "the microVM stopped while pausing", CTL_RUNNING),
		STEP(CTL_CMD_CTRL_ALT_DEL, -ENOSPC, "SendCtrlAltDel", CTL_RUNNING),
		STEP(CTL_CMD_CTRL_ALT_DEL, 0, NULL, ANY_STATE),
	};
	unsigned n = sizeof(steps) / sizeof(steps[0]);

	sm.pause_ret = -ESHUTDOWN;
	sm.run_code = VMM_EXIT_GUEST_CRASH;
	assert_int_equal(run_with_client(f, LIFECYCLE_WAIT, NULL, steps, n, false),
			 VMM_EXIT_GUEST_CRASH);
	check_steps(steps, n);
}

/* PUT /snapshot/load that fails ends the process with exit code 1, after its reply. */
static void test_failed_snapshot_load_ends_the_process(void **state)
{
	struct fx *f = *state;
	struct step steps[] = {
		STEP(CTL_CMD_SNAPSHOT_LOAD, -EINVAL,
		     "/new.img: bad magic (not an ember snapshot state file)", ANY_STATE),
	};

	sm.restore_open_ret = -EBADMSG;
	assert_int_equal(run_with_client(f, LIFECYCLE_WAIT, NULL, steps, 1, true), VMM_EXIT_CONFIG);
	check_steps(steps, 1);
	assert_int_equal(sm.builds, 0);
	expect_closed(f);
}

/* A snapshot load that works: paused unless resume_vm, then the VM's code. */
static void test_snapshot_load_then_run(void **state)
{
	struct fx *f = *state;
	struct ctl_args snap = { .path = "state", .mem_path = "mem", .resume = false };

	sm.run_code = VMM_EXIT_OK;
	sm.cad_calls = 1; /* the next Ctrl-Alt-Del ends the VM */
	{
		struct step steps[] = {
			STEP(CTL_CMD_PAUSE, 0, NULL, CTL_PAUSED),
			STEP(CTL_CMD_CTRL_ALT_DEL, 0, NULL, ANY_STATE),
		};

		assert_int_equal(run_with_client(f, LIFECYCLE_RESTORE, &snap, steps, 2, false),
				 VMM_EXIT_OK);
		check_steps(steps, 2);
	}
	assert_int_equal(sm.paused_runs, 1);
}

/* --restore with a bad state file: exit code 1, and the reason. */
static void test_restore_failure(void **state)
{
	struct fx *f = *state;
	struct ctl_args snap = { .path = "/state", .mem_path = "/mem", .resume = true };

	sm.restore_open_ret = -EBADMSG;
	assert_int_equal(lifecycle_run(&f->ctl, &f->metrics, 0, LIFECYCLE_RESTORE, &snap),
			 VMM_EXIT_CONFIG);
	assert_string_equal(log_last_error(),
			    "--restore: /state: bad magic (not an ember snapshot state file)");
	expect_closed(f);
}

/* SIGTERM (and SIGINT, SIGHUP) while waiting for InstanceStart: exit code 128 + N. */
static void test_signal_while_waiting(void **state)
{
	struct fx *f = *state;
	sigset_t set, old;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &set, &old), 0);
	assert_int_equal(raise(SIGTERM), 0); /* pending: the signalfd reads it */
	assert_int_equal(lifecycle_run(&f->ctl, &f->metrics, 0, LIFECYCLE_WAIT, NULL),
			 VMM_EXIT_SIGNAL_BASE + SIGTERM);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
	assert_int_equal(sm.builds, 0);
	expect_closed(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_boot_failure_is_the_exit_code, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_commands_while_waiting_and_running, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pause_interrupted_by_the_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_snapshot_load_ends_the_process, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_load_then_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_while_waiting, setup, teardown),
	};

	/* Errors are asserted through log_last_error(); keep them off the terminal. */
	log_init("test_lifecycle", LOG_ERR);
	log_set_output(open("/dev/null", O_WRONLY | O_CLOEXEC), false, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
