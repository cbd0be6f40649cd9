/* filter: install a thread's seccomp-bpf filter (precompiled from vmm/seccomp/allowlist.c).
 *
 * Contract:
 * - filter_set_level() is called once by main() before any thread starts:
 *   FILTER_LEVEL_OFF (--seccomp-level 0, debugging only; ember-vmm says so
 *   loudly) or FILTER_LEVEL_ON (the default of ember-vmm). A program that
 *   links libvmm and never calls it gets no filters. -ENOSYS (logged) if
 *   the kernel cannot kill a process from a seccomp filter.
 * - filter_install(role) puts the role's filter on the calling thread only
 *   (no TSYNC), after setting no_new_privs on it. From then on any system
 *   call outside the role's allowlist kills the whole process with SIGSYS.
 *   Filters are inherited by threads created later, so each thread installs
 *   its own before creating none: the API thread first thing on itself, each
 *   vCPU thread before its first KVM_RUN, and the main thread only once all
 *   vCPU threads wait behind the pause gate (machine_run()). Returns 0 (also
 *   when off) or a negative errno after logging; a caller must not run guest
 *   code without its filter.
 * - filter_progs[] is generated at build time (build/gen/vmm/seccomp/bpf.c). */
#ifndef EMBER_FILTER_H
#define EMBER_FILTER_H

#include <linux/filter.h>

#include "vmm/seccomp/allowlist.h"

enum filter_level {
	FILTER_LEVEL_OFF = 0,
	FILTER_LEVEL_ON = 2, /* Firecracker's old --seccomp-level 2: with argument checks */
};

extern const struct sock_fprog filter_progs[ROLE_COUNT];

int filter_set_level(enum filter_level level);
enum filter_level filter_get_level(void);
int filter_install(enum filter_role role);

#endif
