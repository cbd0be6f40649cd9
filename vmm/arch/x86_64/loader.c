/* loader: pick the kernel format, place segments and the initrd in guest memory (see loader.h). */
#include "vmm/arch/x86_64/loader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/arch/x86_64/bzimage.h"
#include "vmm/arch/x86_64/elf.h"
#include "vmm/arch/x86_64/layout.h"

/* A queued load never falls back to reading on the caller's thread. */
_Static_assert(FILECOPY_MAX_RANGES >= LOADER_MAX_SEGMENTS + 1, "filecopy queue too small");

int loader_parse(const uint8_t *buf, size_t len, struct kernel_image *img, char *err, size_t errlen)
{
	if (elf_is_elf(buf, len))
		return elf_parse(buf, len, img, err, errlen);
	if (bzimage_is_bzimage(buf, len))
		return bzimage_parse(buf, len, img, err, errlen);
	memset(img, 0, sizeof(*img));
	snprintf(err, errlen, "not a kernel: neither an ELF vmlinux nor a bzImage");
	return -ENOEXEC;
}

/* Copies file[off, off+len) to gpa: from buf without a file descriptor, else
 * read from the file straight into guest memory (no second copy, none of the
 * file's page cache mapped into our address space), queued on fc if there is
 * one. The caller checked the gpa range. */
static int place_bytes(struct gmem *gm, gpa_t gpa, const uint8_t *buf, uint64_t off, uint64_t len,
		       const struct loader_source *src, const char *what, char *err, size_t errlen)
{
	uint8_t *dst = gmem_slice(gm, gpa, len);
	struct filecopy now;
	int ret;

	if (src == NULL || src->fd < 0) {
		memcpy(dst, buf + off, len);
		return 0;
	}
	if (src->fc != NULL && filecopy_add(src->fc, dst, src->fd, off, len, what) == 0)
		return 0;
	filecopy_init(&now);
	filecopy_add(&now, dst, src->fd, off, len, what);
	filecopy_start(&now, 0);
	ret = filecopy_finish(&now, NULL);
	if (ret < 0)
		snprintf(err, errlen, "reading %llu bytes at offset %llu failed: %s",
			 (unsigned long long)len, (unsigned long long)off, filecopy_strerror(ret));
	return ret;
}

int loader_place(struct gmem *gm, const struct kernel_image *img, const uint8_t *buf, size_t len,
		 const struct loader_source *src, char *err, size_t errlen)
{
	gpa_t end = gmem_region_end(gm, LAYOUT_HIMEM_GPA);

	if (img->kernel_end > end) {
		snprintf(err, errlen, "the kernel needs %llu MiB of low memory, the guest has %llu",
			 (unsigned long long)((img->kernel_end + (1 << 20) - 1) >> 20),
			 (unsigned long long)(end >> 20));
		return -ENOSPC;
	}
	for (unsigned i = 0; i < img->nseg; i++) {
		const struct kernel_segment *s = &img->seg[i];

		/* Parsing checked the file range; check the guest range here. */
		if (s->file_off > len || s->filesz > len - s->file_off ||
		    gmem_slice(gm, s->gpa, s->memsz) == NULL) {
			snprintf(err, errlen,
				 "kernel segment [%#llx, +%#llx) does not fit in guest memory",
				 (unsigned long long)s->gpa, (unsigned long long)s->memsz);
			return -ENOSPC;
		}
		if (s->filesz > 0) {
			int ret = place_bytes(gm, s->gpa, buf, s->file_off, s->filesz, src,
					      LOADER_KERNEL, err, errlen);

			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

int loader_place_initrd(struct gmem *gm, const struct kernel_image *img, const uint8_t *buf,
			size_t len, const struct loader_source *src, gpa_t *gpa_out, char *err,
			size_t errlen)
{
	gpa_t top = gmem_region_end(gm, 0); /* low RAM, below the MMIO gap */
	gpa_t lowest =
		(img->kernel_end + LAYOUT_INITRD_ALIGN - 1) & ~(gpa_t)(LAYOUT_INITRD_ALIGN - 1);
	gpa_t gpa;

	if (len == 0) {
		snprintf(err, errlen, "initrd is empty");
		return -EINVAL;
	}
	if (img->initrd_addr_max < UINT64_MAX && img->initrd_addr_max + 1 < top)
		top = img->initrd_addr_max + 1;
	if (len > top || ((top - len) & ~(gpa_t)(LAYOUT_INITRD_ALIGN - 1)) < lowest) {
		snprintf(err, errlen,
			 "initrd of %zu bytes does not fit in guest memory between the kernel "
			 "(%#llx) and %#llx",
			 len, (unsigned long long)lowest, (unsigned long long)top);
		return -ENOSPC;
	}
	gpa = (top - len) & ~(gpa_t)(LAYOUT_INITRD_ALIGN - 1);
	*gpa_out = gpa;
	return place_bytes(gm, gpa, buf, 0, len, src, LOADER_INITRD, err, errlen);
}

int loader_file_open(const char *path, struct loader_file *f, char *err, size_t errlen)
{
	struct stat st;
	uint8_t *data;
	size_t done = 0;
	int fd, ret;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		ret = -EINVAL;
		goto err_close;
	}
	if (st.st_size == 0) {
		snprintf(err, errlen, "%s: file is empty", path);
		ret = -EINVAL;
		goto err_close;
	}
	f->len = (size_t)st.st_size;
	data = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (data != MAP_FAILED) {
		f->data = data;
		f->mapped = true;
		f->fd = fd;
		return 0;
	}
	/* Some filesystems cannot mmap: read it instead. */
	data = malloc(f->len);
	if (data == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		ret = -ENOMEM;
		goto err_close;
	}
	while (done < f->len) {
		ssize_t n = read(fd, data + done, f->len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: read failed", path);
			ret = -EIO;
			goto err_free;
		}
		done += (size_t)n;
	}
	f->data = data;
	f->fd = fd;
	return 0;

err_free:
	free(data);
err_close:
	close(fd);
	return ret;
}

void loader_file_close(struct loader_file *f)
{
	if (f->data != NULL) {
		if (f->mapped)
			munmap((void *)f->data, f->len);
		else
			free((void *)f->data);
	}
	if (f->fd >= 0)
		close(f->fd);
	memset(f, 0, sizeof(*f));
	f->fd = -1;
}
