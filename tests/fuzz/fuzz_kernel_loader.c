/* fuzz_kernel_loader: libFuzzer harness for the kernel loaders (ELF/PVH, bzImage) and boot params.
 *
 * The input is an untrusted kernel file, and it takes ember-vmm's path
 * (vmm/machine/machine.c: open_inputs, load_guest, copy_finish): written to
 * a memfd, opened and mapped by loader_file_open(), parsed by loader_parse()
 * from the mapping, placed by loader_place() with the file descriptor and a
 * filecopy, so its segments are read from the file by helper threads (the
 * initrd likewise), then the command line and the zero page or PVH
 * start_info, then filecopy_finish(). Guest memory is fresh per input.
 * Nothing may read or write outside the input or guest memory, whatever the
 * file says; the copy must succeed, and each segment's bytes must then be
 * in guest memory at its address (segments that overlap another are left
 * out of that check: which copy lands last is not defined). */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/arch/x86_64/bootparams.h"
#include "vmm/arch/x86_64/layout.h"
#include "vmm/arch/x86_64/loader.h"
#include "lib/util/log.h"

#define FUZZ_MEM     (64ull << 20)
#define FUZZ_THREADS 2 /* as on a two-CPU host: the copy is split between threads */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A memfd holding buf, and the path through which ember-vmm would open it. */
static void memfd_with(const char *name, const uint8_t *buf, size_t len, char *path, size_t cap)
{
	static int fds[2] = { -1, -1 };
	int *fd = &fds[strcmp(name, "initrd") == 0];

	if (*fd < 0)
		*fd = memfd_create(name, MFD_CLOEXEC);
	if (*fd < 0 || ftruncate(*fd, 0) < 0 || ftruncate(*fd, (off_t)len) < 0 ||
	    pwrite(*fd, buf, len, 0) != (ssize_t)len)
		abort();
	snprintf(path, cap, "/proc/self/fd/%d", *fd);
}

static bool overlaps_another(const struct kernel_image *img, unsigned i)
{
	const struct kernel_segment *s = &img->seg[i];

	for (unsigned j = 0; j < img->nseg; j++) {
		const struct kernel_segment *o = &img->seg[j];

		if (j != i && o->filesz > 0 && o->gpa < s->gpa + s->filesz &&
		    s->gpa < o->gpa + o->filesz)
			return true;
	}
	return false;
}

/* Every segment's file bytes, and the initrd, are where they were placed. */
static void check_placed(struct gmem *gm, const struct kernel_image *img,
			 const struct loader_file *k, const uint8_t *initrd, size_t initrd_len,
			 gpa_t initrd_gpa)
{
	for (unsigned i = 0; i < img->nseg; i++) {
		const struct kernel_segment *s = &img->seg[i];
		const uint8_t *p;

		if (s->filesz == 0 || overlaps_another(img, i))
			continue;
		p = gmem_slice(gm, s->gpa, s->filesz);
		if (p == NULL || memcmp(p, k->data + s->file_off, s->filesz) != 0)
			abort();
	}
	if (initrd_len > 0) {
		const uint8_t *p = gmem_slice(gm, initrd_gpa, initrd_len);

		if (p == NULL || memcmp(p, initrd, initrd_len) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t initrd[4096] = { 0x30, 0x37, 0x30, 0x37, 0x30, 0x31 };
	static struct loader_file kernel, rd;
	static struct filecopy fc;
	struct kernel_image img;
	struct boot_info bi = { 0 };
	struct loader_source ksrc, isrc;
	char err[LOADER_ERR_LEN], kpath[64], ipath[64];
	const char *what;
	struct gmem *gm;
	bool placed = false;

	log_set_level(LOG_NONE);
	memfd_with("kernel", data, size, kpath, sizeof(kpath));
	memfd_with("initrd", initrd, sizeof(initrd), ipath, sizeof(ipath));
	if (loader_file_open(kpath, &kernel, err, sizeof(err)) < 0)
		return 0; /* an empty file */
	if (loader_file_open(ipath, &rd, err, sizeof(err)) < 0 ||
	    gmem_create(FUZZ_MEM, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END, &gm) < 0)
		abort();
	filecopy_init(&fc);
	ksrc = (struct loader_source){ .fd = kernel.fd, .fc = &fc };
	isrc = (struct loader_source){ .fd = rd.fd, .fc = &fc };
	if (loader_parse(kernel.data, kernel.len, &img, err, sizeof(err)) == 0 &&
	    loader_place(gm, &img, kernel.data, kernel.len, &ksrc, err, sizeof(err)) == 0) {
		placed = true;
		if (loader_place_initrd(gm, &img, rd.data, rd.len, &isrc, &bi.initrd_gpa, err,
					sizeof(err)) == 0)
			bi.initrd_size = rd.len;
	}
	/* The reads run beside the boot parameters, as in load_guest(). */
	filecopy_start(&fc, FUZZ_THREADS);
	if (placed &&
	    bootparams_write_cmdline(gm, &img, "console=ttyS0", &bi, err, sizeof(err)) == 0) {
		if (img.entry_mode == BOOT_ENTRY_PVH)
			bootparams_write_pvh(gm, &bi);
		else
			bootparams_write_linux(gm, &img, &bi);
	}
	if (filecopy_finish(&fc, &what) != 0)
		abort(); /* the files did not change: every read must succeed */
	if (placed)
		check_placed(gm, &img, &kernel, initrd, bi.initrd_size, bi.initrd_gpa);
	gmem_destroy(gm);
	loader_file_close(&rd);
	loader_file_close(&kernel);
	return 0;
}
