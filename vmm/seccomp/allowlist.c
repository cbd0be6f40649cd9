/* allowlist: ember-vmm's per-thread system call allowlists, one row per call, each naming its user (see allowlist.h). */
#include "vmm/seccomp/allowlist.h"

#include <linux/futex.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#define ALLOW(roles, call)                                                                         \
	{                                                                                          \
		roles, __NR_##call, ARG_ANY, 0, 0, 0                                               \
	}
#define ALLOW_EQ(roles, call, arg, v)                                                              \
	{                                                                                          \
		roles, __NR_##call, ARG_EQ, arg, 0, v                                              \
	}
#define ALLOW_MASKED(roles, call, arg, m, v)                                                       \
	{                                                                                          \
		roles, __NR_##call, ARG_MASKED_EQ, arg, m, v                                       \
	}
#define ALLOW_IOCTL(roles, req) ALLOW_EQ(roles, ioctl, 1, req)
/* The futex command: its low 7 bits (FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME
 * are above them). */
#define ALLOW_FUTEX(roles, cmd) ALLOW_MASKED(roles, futex, 1, 0x7f, cmd)

/* Measured with strace -f in the testbox (vmm/seccomp/README.md has how):
 * boot, API calls, vsock both ways, blk I/O, rng, pause and resume, Full and
 * Diff snapshots, PATCH /drives, restore from File and Uffd, and the exit. */
const struct allow_rule allowlist_rules[] = {
	/* --- every thread --- */
	/* log lines (lib/util/log.c), eventfd kicks (ctl, evloop_stop, irqfd),
	 * the console (the loop drains the UART's ring), HTTP replies, blk writes */
	ALLOW(FOR_ALL, write),
	/* fds of devices reset by the guest (vCPU), connections (API, VMM) */
	ALLOW(FOR_ALL, close),
	/* pthread mutexes and condition variables (ctl mailbox, pause gate,
	 * log), pthread_join of the vCPU and API threads at exit; never the
	 * PI or requeue commands */
	ALLOW_FUTEX(FOR_ALL, FUTEX_WAIT), ALLOW_FUTEX(FOR_ALL, FUTEX_WAKE),
	ALLOW_FUTEX(FOR_ALL, FUTEX_WAIT_BITSET), ALLOW_FUTEX(FOR_ALL, FUTEX_WAKE_BITSET),
	/* malloc and free (glibc arenas, evbuffers, vsock buffers), without
	 * ever making memory executable */
	ALLOW_MASKED(FOR_ALL, mmap, 2, PROT_EXEC, 0),
	ALLOW_MASKED(FOR_ALL, mprotect, 2, PROT_EXEC, 0), ALLOW(FOR_ALL, munmap),
	/* glibc: trimming a thread arena, and a thread's stack as it exits */
	ALLOW_EQ(FOR_ALL, madvise, 2, MADV_DONTNEED),
	/* glibc: pthread internals (thread exit, pthread_kill) */
	ALLOW(FOR_ALL, rt_sigprocmask),
	/* the vDSO's fallback when the clock source has no vDSO reading (log
	 * times, rate limiters, the boot timer on the vCPU thread) */
	ALLOW(FOR_ALL, clock_gettime), ALLOW(FOR_ALL, gettimeofday),
	/* a fatal error in any thread ends the process */
	ALLOW(FOR_ALL, exit_group),
	/* memguard (vmm/machine/memguard.c): the SIGBUS handler returns on the
	 * thread that touched lost guest memory (the loop's devices, or a
	 * vCPU's), and restores the default action for any other SIGBUS and at
	 * exit */
	ALLOW(FOR_ALL, rt_sigreturn), ALLOW(FOR_ALL, rt_sigaction),

	/* --- the API thread (libevent's evhttp on the API socket) --- */
	ALLOW(FOR_API | FOR_VCPU, exit),      /* the API and vCPU threads end at exit */
	ALLOW(FOR_API | FOR_VMM, read),	      /* requests; eventfds, signalfd, stdin, blk */
	ALLOW(FOR_API, readv),		      /* evbuffer_read */
	ALLOW(FOR_API, writev),		      /* evbuffer_write */
	ALLOW(FOR_API | FOR_VMM, accept4),    /* API clients; vsock host connections */
	ALLOW(FOR_API | FOR_VMM, epoll_wait), /* libevent's loop; vmm/core/evloop.c */
	ALLOW(FOR_API | FOR_VCPU | FOR_VMM, epoll_ctl), /* both loops; a device the guest
							   activates or resets (vCPU) */
	ALLOW(FOR_API | FOR_VMM, shutdown),		/* evhttp; vsock half-closes */
	ALLOW_IOCTL(FOR_API, FIONREAD),			/* evbuffer_read sizes its read */
	/* PUT /logger and /metrics open their files; boot-source, drive and
	 * snapshot paths are checked as they arrive (vmm/api/routes.c) */
	ALLOW(FOR_API | FOR_VMM, openat), ALLOW(FOR_API | FOR_VMM, newfstatat),
	ALLOW(FOR_API | FOR_VMM, fstat),
	ALLOW(FOR_API | FOR_VMM, lseek), /* the same files; snapshot files (VMM) */
	ALLOW(FOR_VMM | FOR_API, brk),	 /* malloc in the main arena */

	/* --- the VMM thread: event loop, devices' I/O, snapshots, exit --- */
	/* virtio-blk requests and flushes; snapshot files */
	ALLOW(FOR_VMM, pread64), ALLOW(FOR_VMM, pwrite64), ALLOW(FOR_VMM, preadv),
	ALLOW(FOR_VMM, pwritev), ALLOW(FOR_VMM, fsync), ALLOW(FOR_VMM, fdatasync),
	/* snapshot create: the memory file's size, the atomic rename of both
	 * files into place, a failed create's temporary files; at exit the API
	 * and vsock sockets (lib/util/uds.c) */
	ALLOW(FOR_VMM, ftruncate), ALLOW(FOR_VMM, rename), ALLOW(FOR_VMM, unlink),
	/* timers on the loop: the console's drop count (vmm/machine/console.c)
	 * and vsock's deadline for a host's CONNECT line (vsock/hybrid.c) */
	ALLOW(FOR_VMM, timerfd_settime),
	/* virtio-rng: the guest's entropy requests */
	ALLOW(FOR_VMM, getrandom),
	/* hybrid vsock: host connections (accept4 above), and a guest's
	 * connection to the host, which opens <uds>_<port>: Unix sockets only */
	ALLOW_EQ(FOR_VMM, socket, 0, AF_UNIX), ALLOW(FOR_VMM, connect),
	ALLOW(FOR_VMM, getsockopt), /* SO_ERROR of that non-blocking connect */
	ALLOW(FOR_VMM, sendto), ALLOW(FOR_VMM, recvfrom), ALLOW(FOR_VMM, sendmsg),
	ALLOW(FOR_VMM, recvmsg),
	/* vcpu_kick() (pause, stop): pthread_kill(vCPU thread, SIGRTMIN) */
	ALLOW(FOR_VMM, getpid), ALLOW_EQ(FOR_VMM, tgkill, 2, ALLOWLIST_KICK_SIGNAL),
	/* KVM on the VM fd after the start: interrupts from the loop's devices
	 * (serial input, i8042) and Diff snapshots' dirty log */
	ALLOW_IOCTL(FOR_VMM | FOR_VCPU, KVM_IRQ_LINE), /* also from the vCPU's own devices */
	ALLOW_IOCTL(FOR_VMM, KVM_GET_DIRTY_LOG),
	/* snapshot create (vmm/arch/x86_64/cpu_state.c, vm_state.c), on the
	 * /dev/kvm, VM and (parked) vCPU fds; nothing that sets state */
	ALLOW_IOCTL(FOR_VMM, KVM_CHECK_EXTENSION), ALLOW_IOCTL(FOR_VMM, KVM_GET_MSR_INDEX_LIST),
	ALLOW_IOCTL(FOR_VMM, KVM_GET_CLOCK), ALLOW_IOCTL(FOR_VMM, KVM_GET_IRQCHIP),
	ALLOW_IOCTL(FOR_VMM, KVM_GET_PIT2), ALLOW_IOCTL(FOR_VMM, KVM_GET_CPUID2),
	ALLOW_IOCTL(FOR_VMM, KVM_GET_MP_STATE), ALLOW_IOCTL(FOR_VMM, KVM_GET_REGS),
	ALLOW_IOCTL(FOR_VMM, KVM_GET_SREGS), ALLOW_IOCTL(FOR_VMM, KVM_GET_XSAVE),
	ALLOW_IOCTL(FOR_VMM, KVM_GET_XSAVE2), ALLOW_IOCTL(FOR_VMM, KVM_GET_XCRS),
	ALLOW_IOCTL(FOR_VMM, KVM_GET_LAPIC), ALLOW_IOCTL(FOR_VMM, KVM_GET_MSRS),
	ALLOW_IOCTL(FOR_VMM, KVM_GET_VCPU_EVENTS), ALLOW_IOCTL(FOR_VMM, KVM_GET_DEBUGREGS),
	ALLOW_IOCTL(FOR_VMM, KVM_GET_TSC_KHZ),
	/* the exit's debug-level statistics (vmm/core/kvm.c kvm_stats_get) */
	ALLOW_IOCTL(FOR_VMM, KVM_GET_STATS_FD),

	/* --- vCPU threads --- */
	ALLOW_IOCTL(FOR_VCPU, KVM_RUN),
	/* (vcpu_kick()'s signal handler returns through rt_sigreturn, above) */
};

const unsigned allowlist_nrules = sizeof(allowlist_rules) / sizeof(allowlist_rules[0]);

const char *const allowlist_role_names[ROLE_COUNT] = {
	[ROLE_API] = "api",
	[ROLE_VMM] = "vmm",
	[ROLE_VCPU] = "vcpu",
};
