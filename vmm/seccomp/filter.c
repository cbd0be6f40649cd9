/* filter: load a role's precompiled seccomp filter onto the calling thread (see filter.h). */
#include "vmm/seccomp/filter.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/util/log.h"

/* Set once by main() before any thread exists; read-only afterwards. */
static enum filter_level level = FILTER_LEVEL_OFF;

int filter_set_level(enum filter_level l)
{
	uint32_t kill = SECCOMP_RET_KILL_PROCESS;

	/* Refuse now rather than in a thread that cannot say so: the kernel
	 * must take filters and their kill-the-process action (Linux 4.14+). */
	if (l != FILTER_LEVEL_OFF && syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &kill) < 0) {
		int ret = -errno;

		log_err("seccomp: this kernel cannot kill a process from a filter (%s): "
			"ember-vmm runs only with its filters, or with --seccomp-level 0 to debug",
			strerror(errno));
		return ret;
	}
	level = l;
	return 0;
}

enum filter_level filter_get_level(void)
{
	return level;
}

int filter_install(enum filter_role role)
{
	if (level == FILTER_LEVEL_OFF)
		return 0;
	/* The vCPU kick is allowed by number (allowlist.h). */
	if (SIGRTMIN != ALLOWLIST_KICK_SIGNAL) {
		log_err("seccomp: SIGRTMIN is %d here, the filters allow %d", SIGRTMIN,
			ALLOWLIST_KICK_SIGNAL);
		return -EINVAL;
	}
	/* Without it an unprivileged thread may not install a filter (the
	 * jailer sets it for the whole process already). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &filter_progs[role]) < 0) {
		int ret = -errno;

		log_err("seccomp: installing the %s thread's filter: %s",
			allowlist_role_names[role], strerror(errno));
		return ret;
	}
	return 0;
}
