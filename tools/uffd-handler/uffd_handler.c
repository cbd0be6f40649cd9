/* uffd-handler: an example page-fault handler for ember-vmm's Uffd memory backend; copy it and adapt.
 *
 * Usage: uffd-handler SOCKET MEMORY_FILE
 *
 * Protocol (Firecracker's; lib/uffdmsg/uffdmsg.h has the message, vmm/core/gmem_uffd.h the VMM side):
 * 1. We listen on SOCKET. PUT /snapshot/load with mem_backend
 *    {"backend_type": "Uffd", "backend_path": SOCKET} makes ember-vmm create
 *    guest memory, register it with a userfaultfd and connect.
 * 2. ember-vmm sends, in one sendmsg(), a JSON list of regions
 *      [{"base_host_virt_addr": A, "size": S, "offset": O, "page_size": P}, ...]
 *    with the userfaultfd as SCM_RIGHTS data, then closes the connection.
 * 3. We serve each missing-page fault at address X in [A, A+S) with
 *    UFFDIO_COPY of the page at O + (X - A) in MEMORY_FILE.
 *
 * We serve one VMM and exit 0 when it does, printing "served N faults". The
 * userfaultfd does not tell us: the VMM's exit only tears its memory down,
 * and our copy of the fd stays valid. So we watch the VMM's pid (from
 * SO_PEERCRED; same pid namespace) through a pidfd.
 *
 * Not handled: UFFD_EVENT_REMOVE / UNMAP / REMAP / FORK. ember-vmm does not
 * ask for them (it has no balloon and never discards guest memory), so the
 * kernel sends none; a handler for a VMM that does must zero-fill removed
 * pages on their next fault instead of copying them from the file.
 * Not production grade: one thread, one page per fault, no prefetching, no
 * timeout waiting for the VMM. If this process dies, the VMM's next fault on
 * an unfilled page hangs forever: supervise the handler. */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/uffdmsg/uffdmsg.h"

struct handler {
	int uffd;
	int pidfd; /* the VMM's: readable once it has exited */
	const uint8_t *mem;
	uint64_t mem_size;
	struct uffdmsg_region regions[UFFDMSG_MAX_REGIONS];
	unsigned nregions;
	unsigned long long faults;
};

static int fail(const char *what)
{
	fprintf(stderr, "uffd-handler: %s: %s\n", what, strerror(errno));
	return 1;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	unlink(path); /* a leftover of an earlier run */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0)
		return -1;
	return fd;
}

/* The message's checks (uffdmsg_decode), and every region inside the file. */
static int parse_regions(struct handler *h, const char *json, char *err, size_t errlen)
{
	int ret = uffdmsg_decode(json, h->regions, &h->nregions, err, errlen);

	for (unsigned i = 0; i < h->nregions && ret == 0; i++) {
		const struct uffdmsg_region *r = &h->regions[i];

		if (r->offset > h->mem_size || r->size > h->mem_size - r->offset) {
			snprintf(err, errlen, "region %u lies outside the memory file", i);
			ret = -EINVAL;
		}
	}
	return ret;
}

/* One fault: copy its page from the file. EEXIST means another vCPU's
 * fault on the same page was served first; the page is there, so wake the
 * waiters. EAGAIN means the VMM's memory map changed meanwhile: try again. */
static int serve(struct handler *h, uint64_t addr)
{
	for (unsigned i = 0; i < h->nregions; i++) {
		const struct uffdmsg_region *r = &h->regions[i];
		uint64_t page = addr & ~(r->page_size - 1);
		struct uffdio_copy copy = {
			.dst = page,
			.src = (uintptr_t)(h->mem + r->offset + (page - r->base_host_virt_addr)),
			.len = r->page_size,
		};

		if (addr < r->base_host_virt_addr || addr - r->base_host_virt_addr >= r->size)
			continue;
		while (ioctl(h->uffd, UFFDIO_COPY, &copy) < 0) {
			struct uffdio_range wake = { .start = page, .len = r->page_size };

			if (errno == EEXIST)
				return ioctl(h->uffd, UFFDIO_WAKE, &wake);
			if (errno != EAGAIN && errno != EINTR)
				return -1;
			copy.copy = 0;
		}
		h->faults++;
		return 0;
	}
	errno = EFAULT; /* a fault outside every region the VMM described */
	return -1;
}

/* Until the VMM exits: read fault messages and serve them. */
static int run(struct handler *h)
{
	struct pollfd p[2] = { { .fd = h->uffd, .events = POLLIN },
			       { .fd = h->pidfd, .events = POLLIN } };

	for (;;) {
		struct uffd_msg msg;
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return fail("poll");
		}
		if (p[1].revents)
			return 0;
		n = read(h->uffd, &msg, sizeof(msg)); /* the fd is O_NONBLOCK */
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n != sizeof(msg))
			return fail("reading the userfaultfd");
		if (msg.event != UFFD_EVENT_PAGEFAULT) {
			fprintf(stderr, "uffd-handler: ignoring event 0x%x (not requested)\n",
				msg.event);
			continue;
		}
		if (serve(h, msg.arg.pagefault.address) < 0)
			return fail("UFFDIO_COPY");
	}
}

int main(int argc, char **argv)
{
	static char json[UFFDMSG_MAX];
	char err[256];
	struct handler h = { .uffd = -1 };
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct stat st;
	int lfd, conn, fd;

	if (argc != 3) {
		fprintf(stderr, "usage: %s SOCKET MEMORY_FILE\n", argv[0]);
		return 2;
	}
	fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return fail(argv[2]);
	h.mem_size = (uint64_t)st.st_size;
	/* Private and read-only: the file's pages come from the page cache. */
	h.mem = mmap(NULL, h.mem_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (h.mem == MAP_FAILED)
		return fail("mmap of the memory file");
	close(fd);
	lfd = listen_on(argv[1]);
	if (lfd < 0)
		return fail(argv[1]);
	printf("uffd-handler: listening on %s\n", argv[1]);
	fflush(stdout);
	conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		return fail("accept");
	close(lfd);
	unlink(argv[1]);
	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
		return fail("SO_PEERCRED");
	h.pidfd = (int)syscall(SYS_pidfd_open, cred.pid, 0);
	if (h.pidfd < 0)
		return fail("pidfd_open of the VMM");
	errno = -uffdmsg_recv(conn, json, sizeof(json), &h.uffd);
	if (h.uffd < 0)
		return fail("receiving the regions and the userfaultfd");
	close(conn);
	if (parse_regions(&h, json, err, sizeof(err)) < 0) {
		fprintf(stderr, "uffd-handler: bad region list for a %llu-byte file (%s): %s\n",
			(unsigned long long)h.mem_size, err, json);
		return 1;
	}
	printf("uffd-handler: serving VMM %d (%u memory regions)\n", (int)cred.pid, h.nregions);
	fflush(stdout);
	if (run(&h) != 0)
		return 1;
	printf("uffd-handler: served %llu faults\n", h.faults);
	return 0;
}
