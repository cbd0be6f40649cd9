/* confine: rlimits, no capabilities, no_new_privs and a seccomp denylist for ember-intake (see confine.h). */
#include "api/intake/confine.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cap-ng.h>

#include "lib/util/fail.h"

/* Killed outright: nothing in unzipping or imaging calls them. */
static const int denied[] = {
	/* Networks, and emberd's API socket (root's, like this process). */
	SCMP_SYS(socket),
	SCMP_SYS(socketpair),
	SCMP_SYS(connect),
	/* Other processes and their memory. */
	SCMP_SYS(ptrace),
	SCMP_SYS(process_vm_readv),
	SCMP_SYS(process_vm_writev),
	SCMP_SYS(pidfd_getfd),
	SCMP_SYS(kcmp),
	/* Namespaces and mounts: a user namespace hands capabilities back. */
	SCMP_SYS(unshare),
	SCMP_SYS(setns),
	SCMP_SYS(mount),
	SCMP_SYS(umount2),
	SCMP_SYS(pivot_root),
	SCMP_SYS(chroot),
	SCMP_SYS(open_tree),
	SCMP_SYS(move_mount),
	SCMP_SYS(fsopen),
	SCMP_SYS(fsconfig),
	SCMP_SYS(fsmount),
	SCMP_SYS(fspick),
	SCMP_SYS(mount_setattr),
	SCMP_SYS(open_by_handle_at),
	SCMP_SYS(name_to_handle_at),
	/* Kernel attack surface reachable without privilege. */
	SCMP_SYS(bpf),
	SCMP_SYS(userfaultfd),
	SCMP_SYS(perf_event_open),
	SCMP_SYS(io_uring_setup),
	SCMP_SYS(io_uring_enter),
	SCMP_SYS(io_uring_register),
	SCMP_SYS(keyctl),
	SCMP_SYS(add_key),
	SCMP_SYS(request_key),
	SCMP_SYS(fanotify_init),
	SCMP_SYS(modify_ldt),
	/* The machine's own state (these also need capabilities). */
	SCMP_SYS(init_module),
	SCMP_SYS(finit_module),
	SCMP_SYS(delete_module),
	SCMP_SYS(kexec_load),
	SCMP_SYS(kexec_file_load),
	SCMP_SYS(reboot),
	SCMP_SYS(swapon),
	SCMP_SYS(swapoff),
	SCMP_SYS(acct),
	SCMP_SYS(syslog),
	SCMP_SYS(settimeofday),
	SCMP_SYS(clock_settime),
	SCMP_SYS(clock_adjtime),
	SCMP_SYS(adjtimex),
	SCMP_SYS(iopl),
	SCMP_SYS(ioperm),
	SCMP_SYS(quotactl),
};

/* clone() with any of these makes a namespace (CLONE_NEWTIME is unshare's
 * and clone3's only: in clone()'s flags that bit is the exit signal's). */
static const unsigned long clone_ns[] = {
	CLONE_NEWNS,  CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET,
	CLONE_NEWIPC, CLONE_NEWUTS,  CLONE_NEWCGROUP,
};

static int set_limit(int resource, rlim_t value)
{
	struct rlimit rl = { value, value };

	return setrlimit(resource, &rl) < 0 ? -errno : 0;
}

/* The CPU limit's hard value is a little above the soft one: SIGXCPU at the
 * soft one ends the process (its default action), SIGKILL at the hard one
 * if it catches that. */
static int set_limits(char *err, size_t errlen)
{
	struct rlimit cpu = { INTAKE_CPU_S, INTAKE_CPU_S + 5 };

	if (set_limit(RLIMIT_CORE, 0) < 0 || setrlimit(RLIMIT_CPU, &cpu) < 0 ||
	    set_limit(RLIMIT_FSIZE, INTAKE_FSIZE_MAX) < 0 ||
	    set_limit(RLIMIT_NOFILE, INTAKE_NOFILE) < 0)
		FAIL(-errno, "setting resource limits: %s", strerror(errno));
	return 0;
}

/* Every capability goes. The bounding set only where this process may clear
 * it (CAP_SETPCAP, which root has): without it, an exec cannot gain any
 * anyway, since no_new_privs comes first. */
static int drop_capabilities(char *err, size_t errlen)
{
	capng_select_t sets = CAPNG_SELECT_CAPS;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		FAIL(-errno, "setting no_new_privs: %s", strerror(errno));
	capng_get_caps_process();
	if (capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP))
		sets = CAPNG_SELECT_ALL;
	capng_clear(sets);
	if (capng_apply(sets) < 0)
		FAIL(-EPERM, "dropping capabilities failed");
	capng_get_caps_process();
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE)
		FAIL(-EPERM, "the capability drop did not hold");
	return 0;
}

/* Rules with one action on one system call are or-ed: clone dies if any
 * namespace flag is set. clone3's flags sit behind a pointer the filter
 * cannot read: ENOSYS sends glibc back to clone, whose flags it can. */
static int install_filter(char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int ret = ctx != NULL ? 0 : -ENOMEM;

	if (ret == 0)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	for (size_t i = 0; ret == 0 && i < sizeof(denied) / sizeof(denied[0]); i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, denied[i], 0);
	for (size_t i = 0; ret == 0 && i < sizeof(clone_ns) / sizeof(clone_ns[0]); i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(clone), 1,
				       SCMP_A0(SCMP_CMP_MASKED_EQ, clone_ns[i], clone_ns[i]));
	if (ret == 0)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (ret == 0)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	if (ret < 0)
		FAIL(ret, "installing the seccomp filter: %s", strerror(-ret));
	return 0;
}

int intake_confine(char *err, size_t errlen)
{
	int ret = set_limits(err, errlen);

	if (ret == 0)
		ret = drop_capabilities(err, errlen);
	if (ret == 0)
		ret = install_filter(err, errlen);
	return ret;
}
