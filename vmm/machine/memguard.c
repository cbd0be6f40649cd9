/* memguard: SIGBUS on guest memory to a clean VM stop with VMM_EXIT_GUEST_MEMORY (see memguard.h). */
#include "vmm/machine/memguard.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util/log.h"
#include "vmm/core/vcpu.h"

/* What the handler needs, published before it is installed. A signal
 * handler has no argument: this is the one process-wide piece of state. */
static const struct gmem *_Atomic guard_gm;
static atomic_int guard_fd = -1;

static void on_sigbus(int sig, siginfo_t *si, void *uctx)
{
	const struct gmem *gm = atomic_load(&guard_gm);
	int fd = atomic_load(&guard_fd);
	uint64_t one = 1;

	(void)uctx;
	if (gm != NULL && fd >= 0 && gmem_sigbus_fixup(gm, si->si_addr)) {
		(void)!write(fd, &one, sizeof(one));
		return; /* the access is done again, on the zero page */
	}
	/* Not guest memory: the fault repeats on return, with the default action. */
	signal(sig, SIG_DFL);
}

static void on_wake(void *opaque, int fd, uint32_t events)
{
	struct memguard *g = opaque;
	uint64_t n;

	(void)events;
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	log_err("guest memory lost: ember-vmm touched %llu page(s) whose memory file is gone "
		"(truncated under the running VM?); stopping the VM",
		(unsigned long long)n);
	vm_request_stop(g->vm, VMM_EXIT_GUEST_MEMORY);
}

void memguard_init(struct memguard *g)
{
	g->wake_fd = g->mem_fd = -1;
	g->mem_bytes = 0;
	g->vm = NULL;
	g->ev = NULL;
}

int memguard_watch_file(struct memguard *g, int fd, uint64_t bytes)
{
	g->mem_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (g->mem_fd < 0)
		return -errno;
	g->mem_bytes = bytes;
	return 0;
}

int memguard_arm(struct memguard *g, const struct gmem *gm, struct vm *vm, struct evloop *ev)
{
	struct sigaction sa;
	int ret;

	g->vm = vm;
	g->ev = ev;
	g->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g->wake_fd < 0)
		return -errno;
	ret = evloop_add(ev, g->wake_fd, EPOLLIN, on_wake, g);
	if (ret < 0) {
		close(g->wake_fd);
		g->wake_fd = -1;
		return ret;
	}
	atomic_store(&guard_fd, g->wake_fd);
	atomic_store(&guard_gm, gm);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) < 0)
		return -errno;
	return 0;
}

void memguard_explain(const struct memguard *g)
{
	struct stat st;

	if (g->mem_fd < 0 || fstat(g->mem_fd, &st) < 0)
		return;
	if ((uint64_t)st.st_size < g->mem_bytes)
		log_err("the memory file is %llu bytes now, the snapshot's guest needs %llu: it "
			"was truncated while this VM ran",
			(unsigned long long)st.st_size, (unsigned long long)g->mem_bytes);
	else if (st.st_nlink == 0)
		log_err("the memory file was removed while this VM ran");
}

void memguard_disarm(struct memguard *g)
{
	if (g->wake_fd >= 0) {
		signal(SIGBUS, SIG_DFL);
		atomic_store(&guard_gm, NULL);
		atomic_store(&guard_fd, -1);
		evloop_del(g->ev, g->wake_fd);
		close(g->wake_fd);
	}
	if (g->mem_fd >= 0)
		close(g->mem_fd);
	memguard_init(g);
}
