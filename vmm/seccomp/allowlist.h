/* allowlist: the system calls each ember-vmm thread may make once its seccomp filter is on.
 *
 * Contract: allowlist_rules[] is one table: each row allows one system call
 * (optionally only when one argument matches) to the thread roles in its
 * mask, and names who needs it. Anything a role's rows do not allow kills the
 * whole process (SECCOMP_RET_KILL_PROCESS). The table is data only: it is
 * compiled to BPF at build time by vmm/seccomp/bpfgen.c (libseccomp), and
 * ember-vmm loads the result (vmm/seccomp/filter.h). x86_64 only.
 *
 * Where the filters go on (vmm/seccomp/filter.h has the order):
 *   ROLE_API   the API thread, first thing on the thread (vmm/api/server.c);
 *   ROLE_VCPU  each vCPU thread, before its first KVM_RUN (vmm/core/vcpu.c);
 *   ROLE_VMM   the main thread (event loop), once every vCPU thread has its
 *              filter and before any guest instruction runs (machine_run).
 * The file-copy helpers of a boot (vmm/util/filecopy.c) have ended by then:
 * the builder joins them before it returns. No thread is created after. */
#ifndef EMBER_ALLOWLIST_H
#define EMBER_ALLOWLIST_H

#include <stdint.h>

/* vcpu_kick()'s signal, SIGRTMIN: glibc keeps the kernel's first two
 * real-time signals (32, 33) for itself. filter_install() checks it. */
#define ALLOWLIST_KICK_SIGNAL 34

enum filter_role {
	ROLE_API,
	ROLE_VMM,
	ROLE_VCPU,
	ROLE_COUNT,
};

#define FOR_API	 (1u << ROLE_API)
#define FOR_VMM	 (1u << ROLE_VMM)
#define FOR_VCPU (1u << ROLE_VCPU)
#define FOR_ALL	 (FOR_API | FOR_VMM | FOR_VCPU)

enum allow_check {
	ARG_ANY,       /* any arguments */
	ARG_EQ,	       /* args[arg] == value */
	ARG_MASKED_EQ, /* (args[arg] & mask) == value */
};

struct allow_rule {
	unsigned roles;
	int nr; /* __NR_* */
	enum allow_check check;
	unsigned arg;
	uint64_t mask;
	uint64_t value;
};

extern const struct allow_rule allowlist_rules[];
extern const unsigned allowlist_nrules;
extern const char *const allowlist_role_names[ROLE_COUNT];

#endif
