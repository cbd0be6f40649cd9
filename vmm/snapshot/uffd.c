/* snap_uffd: create and register a userfaultfd for guest memory, and hand it to a page-fault handler (see uffd.h). */
#include "vmm/snapshot/uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/util/log.h"

/* Two regions make about 200 bytes; this leaves room for GMEM_MAX_REGIONS to grow. */
#define UFFD_JSON_MAX 4096

/* Appends to buf[*n..len); false once it no longer fits. */
static bool __attribute__((format(printf, 4, 5)))
append(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (*n >= len)
		return false;
	va_start(ap, fmt);
	w = vsnprintf(buf + *n, len - *n, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= len - *n)
		return false;
	*n += (size_t)w;
	return true;
}

int snap_uffd_regions_json(const struct gmem *gm, char *buf, size_t len)
{
	uint64_t off = 0;
	size_t n = 0;
	bool ok = append(buf, len, &n, "[");

	for (unsigned i = 0; i < gm->nregions && ok; i++) {
		const struct gmem_region *r = &gm->regions[i];

		ok = append(buf, len, &n,
			    "%s{\"base_host_virt_addr\": %llu, \"size\": %llu, \"offset\": %llu, "
			    "\"page_size\": %llu}",
			    i > 0 ? ", " : "", (unsigned long long)(uintptr_t)r->host,
			    (unsigned long long)r->size, (unsigned long long)off,
			    (unsigned long long)GMEM_PAGE_SIZE);
		off += r->size; /* the memory file holds the regions back to back */
	}
	if (!ok || !append(buf, len, &n, "]"))
		return -ENOSPC;
	return (int)n;
}

static int create_uffd(const struct gmem *gm, int *out)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	int fd, ret;

	/* Not /dev/userfaultfd: the syscall works for root on every kernel with
	 * CONFIG_USERFAULTFD, whatever vm.unprivileged_userfaultfd says. */
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		log_err("mem_backend Uffd: userfaultfd: %s",
			errno == ENOSYS
				? "this host's kernel has no userfaultfd (CONFIG_USERFAULTFD)"
				: strerror(errno));
		return ret;
	}
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		ret = -errno;
		log_err("mem_backend Uffd: UFFDIO_API: %s", strerror(errno));
		goto err;
	}
	for (unsigned i = 0; i < gm->nregions; i++) {
		const struct gmem_region *r = &gm->regions[i];
		struct uffdio_register reg = {
			.range = { .start = (uintptr_t)r->host, .len = r->size },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0) {
			ret = -errno;
			log_err("mem_backend Uffd: UFFDIO_REGISTER of guest memory at 0x%llx: %s",
				(unsigned long long)r->gpa, strerror(errno));
			goto err;
		}
		/* A handler fills pages with UFFDIO_COPY; without it, it could not. */
		if (!(reg.ioctls & (1ull << _UFFDIO_COPY))) {
			ret = -EINVAL;
			log_err("mem_backend Uffd: this kernel offers no UFFDIO_COPY for guest "
				"memory");
			goto err;
		}
	}
	*out = fd;
	return 0;

err:
	close(fd);
	return ret;
}

/* One sendmsg: the JSON, with the userfaultfd attached to its first byte. */
static int send_to_handler(const char *path, const char *json, size_t len, int uffd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)json, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c;
	ssize_t n;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("mem_backend.backend_path %.200s: too long for a Unix socket", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		log_err("mem_backend.backend_path %.200s: socket: %s", path, strerror(errno));
		return ret;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		log_err("mem_backend.backend_path %.200s: no page-fault handler listening (%s)",
			path, strerror(errno));
		goto out;
	}
	memset(ctl.buf, 0, sizeof(ctl.buf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &uffd, sizeof(int));
	/* MSG_NOSIGNAL: a handler that already closed is an error, not SIGPIPE. */
	n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	if (n < 0 || (size_t)n != len) {
		ret = n < 0 ? -errno : -EPIPE;
		log_err("mem_backend.backend_path %.200s: the page-fault handler closed the "
			"connection (%s)",
			path, strerror(-ret));
		goto out;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

int snap_uffd_send(const struct gmem *gm, const char *sock_path, int *uffd)
{
	char json[UFFD_JSON_MAX];
	int len, fd = -1, ret;

	len = snap_uffd_regions_json(gm, json, sizeof(json));
	if (len < 0) {
		log_err("mem_backend Uffd: the memory regions' description is too long");
		return len;
	}
	ret = create_uffd(gm, &fd);
	if (ret < 0)
		return ret;
	ret = send_to_handler(sock_path, json, (size_t)len, fd);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	*uffd = fd;
	return 0;
}
