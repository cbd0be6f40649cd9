/* gmem_uffd: create and register a userfaultfd for guest memory, and hand it to a page-fault handler (see gmem_uffd.h). */
#include "vmm/core/gmem_uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/uffdmsg/uffdmsg.h"
#include "lib/util/log.h"
#include "vmm/core/gmem_priv.h"

int gmem_uffd_regions_json(const struct gmem *gm, char *buf, size_t len)
{
	struct uffdmsg_region r[GMEM_MAX_REGIONS];
	uint64_t off = 0;

	for (unsigned i = 0; i < gm->nregions; i++) {
		r[i] = (struct uffdmsg_region){
			.base_host_virt_addr = (uintptr_t)gm->regions[i].host,
			.size = gm->regions[i].size,
			.offset = off,
			.page_size = GMEM_PAGE_SIZE,
		};
		off += gm->regions[i].size; /* the memory file holds the regions back to back */
	}
	return uffdmsg_encode(r, gm->nregions, buf, len);
}

static int create_uffd(const struct gmem *gm, int *out)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	int fd, ret;

	/* The syscall first: it works for root on every kernel with
	 * CONFIG_USERFAULTFD, whatever vm.unprivileged_userfaultfd says. A
	 * jailed, unprivileged VMM is refused it (EPERM) and uses the device the
	 * jailer made for it (vmm/jail/), which file permissions guard (6.1+). */
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == EPERM) {
		int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

		fd = dev >= 0 ? ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK) : -1;
		if (dev >= 0)
			close(dev);
		if (fd < 0)
			errno = EPERM;
	}
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

int gmem_uffd_send(const struct gmem *gm, const char *sock_path, int *uffd)
{
	char json[UFFDMSG_MAX], err[256];
	int len, fd = -1, ret;

	len = gmem_uffd_regions_json(gm, json, sizeof(json));
	if (len < 0) {
		log_err("mem_backend Uffd: the memory regions' description is too long");
		return len;
	}
	ret = create_uffd(gm, &fd);
	if (ret < 0)
		return ret;
	ret = uffdmsg_send(sock_path, json, (size_t)len, fd, err, sizeof(err));
	if (ret < 0) {
		log_err("mem_backend.backend_path %.200s: %s", sock_path, err);
		close(fd);
		return ret;
	}
	*uffd = fd;
	return 0;
}
