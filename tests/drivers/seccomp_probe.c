/* seccomp-probe: a test-only program that puts on one of ember-vmm's thread filters, then makes one system call.
 *
 * Usage: seccomp-probe api|vmm|vcpu ACTION
 * It installs the role's filter with the product's own code (filter_install,
 * the BPF that ember-vmm loads), does ACTION and prints "survived". A call the
 * role's allowlist forbids kills the process with SIGSYS before that. ACTIONs:
 *   allowed       what every thread does all day: write, malloc, a mutex, the clock
 *   execve        run /bin/true
 *   fork          create a process
 *   thread        create a thread (no role may, once filtered)
 *   open          openat /dev/null
 *   socket-unix   socket(AF_UNIX)
 *   socket-inet   socket(AF_INET)
 *   mmap-exec     map memory executable
 *   mprotect-exec make a mapping executable
 *   kvm-run       KVM_RUN on a bad fd (a vCPU ioctl)
 *   kvm-create-vm KVM_CREATE_VM on a bad fd (no thread needs it after the start)
 *   kvm-set-regs  KVM_SET_REGS on a bad fd (only the builder, before the filters)
 *   ptrace        PTRACE_TRACEME
 *   kill-other    tgkill with SIGKILL instead of the vCPU kick signal */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vmm/seccomp/filter.h"

static void *nothing(void *arg)
{
	return arg;
}

static int act(const char *what)
{
	struct timespec ts;
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_t t;
	void *p;

	if (strcmp(what, "allowed") == 0) {
		char *volatile buf = malloc(1 << 20); /* an mmap'd chunk */

		if (buf != NULL)
			buf[0] = 1;
		pthread_mutex_lock(&m);
		pthread_mutex_unlock(&m);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		free(buf);
		return write(1, "", 0) < 0 ? -1 : 0;
	}
	if (strcmp(what, "execve") == 0)
		return execl("/bin/true", "true", (char *)NULL);
	if (strcmp(what, "fork") == 0)
		return fork() < 0 ? -1 : 0;
	if (strcmp(what, "thread") == 0)
		return pthread_create(&t, NULL, nothing, NULL);
	if (strcmp(what, "open") == 0)
		return open("/dev/null", O_RDONLY) < 0 ? -1 : 0;
	if (strcmp(what, "socket-unix") == 0)
		return socket(AF_UNIX, SOCK_STREAM, 0) < 0 ? -1 : 0;
	if (strcmp(what, "socket-inet") == 0)
		return socket(AF_INET, SOCK_STREAM, 0) < 0 ? -1 : 0;
	if (strcmp(what, "mmap-exec") == 0) {
		p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return p == MAP_FAILED ? -1 : 0;
	}
	if (strcmp(what, "mprotect-exec") == 0) {
		p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return p == MAP_FAILED ? -1 : mprotect(p, 4096, PROT_READ | PROT_EXEC);
	}
	if (strcmp(what, "kvm-run") == 0)
		return ioctl(-1, KVM_RUN, 0) < 0 && errno == EBADF ? 0 : -1;
	if (strcmp(what, "kvm-create-vm") == 0)
		return ioctl(-1, KVM_CREATE_VM, 0) < 0 && errno == EBADF ? 0 : -1;
	if (strcmp(what, "kvm-set-regs") == 0)
		return ioctl(-1, KVM_SET_REGS, NULL) < 0 && errno == EBADF ? 0 : -1;
	if (strcmp(what, "ptrace") == 0)
		return (int)ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	if (strcmp(what, "kill-other") == 0)
		return (int)syscall(SYS_tgkill, getpid(), 1 << 22, SIGKILL) < 0 ? 0 : -1;
	fprintf(stderr, "seccomp-probe: unknown action '%s'\n", what);
	exit(2);
}

int main(int argc, char **argv)
{
	enum filter_role role = ROLE_COUNT;

	if (argc != 3) {
		fprintf(stderr, "usage: seccomp-probe api|vmm|vcpu ACTION\n");
		return 2;
	}
	for (int r = 0; r < ROLE_COUNT; r++)
		if (strcmp(argv[1], allowlist_role_names[r]) == 0)
			role = (enum filter_role)r;
	/* As in ember-vmm, libc is warm by the time the filters go on: malloc
	 * has set itself up and stdout has its buffer. */
	free(malloc(16));
	printf("filter %s on\n", argv[1]);
	fflush(stdout);
	if (role == ROLE_COUNT || filter_set_level(FILTER_LEVEL_ON) < 0 ||
	    filter_install(role) < 0) {
		fprintf(stderr, "seccomp-probe: no filter for '%s'\n", argv[1]);
		return 2;
	}
	/* The result goes out through write(), which every role allows. */
	if (act(argv[2]) < 0)
		printf("call failed: %s\n", strerror(errno));
	printf("survived\n");
	fflush(stdout);
	return 0;
}
