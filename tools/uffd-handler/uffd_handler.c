/* uffd-handler: an example page-fault handler for ember-vmm's Uffd memory backend; copy it and adapt.
 *
 * Usage: uffd-handler SOCKET MEMORY_FILE
 *
 * Protocol (Firecracker's, see vmm/snapshot/uffd.h for the VMM side):
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
#include <cjson/cJSON.h>
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

#define MAX_REGIONS 16
#define MSG_MAX	    65536 /* the region list is a few hundred bytes */

struct region {
	uint64_t base, size, offset, page_size;
};

struct handler {
	int uffd;
	int pidfd; /* the VMM's: readable once it has exited */
	const uint8_t *mem;
	uint64_t mem_size;
	struct region regions[MAX_REGIONS];
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

/* The regions' JSON, and the userfaultfd that comes with its first byte.
 * The VMM closes the connection after its one sendmsg(), so we read to EOF. */
static int receive(int conn, char *json, size_t cap, int *uffd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	size_t len = 0;

	*uffd = -1;
	for (;;) {
		struct iovec iov = { .iov_base = json + len, .iov_len = cap - 1 - len };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (*uffd < 0) {
			msg.msg_control = ctl.buf;
			msg.msg_controllen = sizeof(ctl.buf);
		}
		n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		len += (size_t)n;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
			    c->cmsg_len == CMSG_LEN(sizeof(int)))
				memcpy(uffd, CMSG_DATA(c), sizeof(int));
		if (msg.msg_flags & MSG_CTRUNC) {
			errno = EPROTO;
			return -1;
		}
		if (n == 0 || len == cap - 1)
			break;
	}
	json[len] = '\0';
	if (*uffd < 0) {
		errno = EPROTO; /* no userfaultfd came with the message */
		return -1;
	}
	return 0;
}

static bool get_u64(const cJSON *obj, const char *key, uint64_t *v)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsNumber(item) || item->valuedouble < 0)
		return false;
	*v = (uint64_t)item->valuedouble; /* exact: addresses are below 2^53 */
	return true;
}

/* Every region must be whole pages and lie inside the memory file. */
static int parse_regions(struct handler *h, const char *json)
{
	cJSON *root = cJSON_Parse(json);
	const cJSON *item;
	int ret = 0;

	if (!cJSON_IsArray(root) || cJSON_GetArraySize(root) < 1 ||
	    cJSON_GetArraySize(root) > MAX_REGIONS)
		ret = -1;
	cJSON_ArrayForEach(item, root)
	{
		struct region *r = &h->regions[h->nregions];

		if (ret < 0)
			break;
		if (!get_u64(item, "base_host_virt_addr", &r->base) ||
		    !get_u64(item, "size", &r->size) || !get_u64(item, "offset", &r->offset) ||
		    !get_u64(item, "page_size", &r->page_size) || r->page_size != 4096 ||
		    r->base % r->page_size || r->size % r->page_size || r->offset % r->page_size ||
		    r->offset > h->mem_size || r->size > h->mem_size - r->offset)
			ret = -1;
		h->nregions++;
	}
	cJSON_Delete(root);
	return ret;
}

/* One fault: copy its page from the file. EEXIST means another vCPU's
 * fault on the same page was served first; the page is there, so wake the
 * waiters. EAGAIN means the VMM's memory map changed meanwhile: try again. */
static int serve(struct handler *h, uint64_t addr)
{
	for (unsigned i = 0; i < h->nregions; i++) {
		const struct region *r = &h->regions[i];
		uint64_t page = addr & ~(r->page_size - 1);
		struct uffdio_copy copy = {
			.dst = page,
			.src = (uintptr_t)(h->mem + r->offset + (page - r->base)),
			.len = r->page_size,
		};

		if (addr < r->base || addr - r->base >= r->size)
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
	static char json[MSG_MAX];
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
	if (receive(conn, json, sizeof(json), &h.uffd) < 0)
		return fail("receiving the regions and the userfaultfd");
	close(conn);
	if (parse_regions(&h, json) < 0) {
		fprintf(stderr, "uffd-handler: bad region list for a %llu-byte file: %s\n",
			(unsigned long long)h.mem_size, json);
		return 1;
	}
	printf("uffd-handler: serving VMM %d (%u memory regions)\n", (int)cred.pid, h.nregions);
	fflush(stdout);
	if (run(&h) != 0)
		return 1;
	printf("uffd-handler: served %llu faults\n", h.faults);
	return 0;
}
