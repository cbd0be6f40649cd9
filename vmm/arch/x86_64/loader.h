/* loader: turn a kernel file into a description of what goes where, then place it.
 *
 * Contract:
 * - loader_parse() validates an untrusted kernel image held in memory (an ELF
 *   vmlinux or a bzImage) and describes it in struct kernel_image: segments
 *   (file range -> gpa), entry mode and address, and for a bzImage its setup
 *   header. It reads only inside [buf, buf+len) and never trusts a field
 *   before checking it; it does not touch guest memory.
 * - loader_place() copies the segments into guest memory through gmem: from
 *   buf when src is NULL or has no fd, else read from src->fd, queued on
 *   src->fc (with the label LOADER_KERNEL or LOADER_INITRD) when it has one,
 *   in which case the bytes are in place only after filecopy_finish().
 *   loader_place_initrd() puts an initrd at the top of low RAM, below the
 *   kernel's initrd_addr_max.
 *   Guest memory must be fresh (zero): a segment's bss is not cleared again.
 * - On error these return a negative errno and write one human-readable
 *   reason (no trailing newline) into err; they never log.
 * - loader_file_open() maps or reads a whole host file; loader_file_close()
 *   releases it. */
#ifndef EMBER_LOADER_H
#define EMBER_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h>

#include "vmm/util/filecopy.h"
#include "vmm/core/gmem.h"

#define LOADER_MAX_SEGMENTS 16
#define LOADER_ERR_LEN	    160

enum boot_entry {
	BOOT_ENTRY_LINUX64, /* 64-bit boot protocol: long mode, rsi = boot_params */
	BOOT_ENTRY_LINUX32, /* 32-bit boot protocol: flat protected mode, rsi = boot_params */
	BOOT_ENTRY_PVH,	    /* PVH: flat protected mode, rbx = hvm_start_info */
};

struct kernel_segment {
	uint64_t file_off;
	uint64_t filesz;
	gpa_t gpa;
	uint64_t memsz;
};

struct kernel_image {
	const char *format; /* "ELF" or "bzImage", for messages */
	enum boot_entry entry_mode;
	gpa_t entry;
	struct kernel_segment seg[LOADER_MAX_SEGMENTS];
	unsigned nseg;
	gpa_t kernel_end;     /* first byte above everything the kernel may use early */
	uint32_t cmdline_max; /* bytes the kernel accepts, with the NUL */
	gpa_t initrd_addr_max;
	bool has_setup_header; /* bzImage: hdr holds its setup header */
	struct setup_header hdr;
};

struct loader_file {
	const uint8_t *data;
	size_t len;
	int fd;
	bool mapped;
};

/* Where loader_place() reads from besides buf (see above). */
struct loader_source {
	int fd;
	struct filecopy *fc; /* NULL: read before returning */
};

#define LOADER_KERNEL "kernel"
#define LOADER_INITRD "initrd"

int loader_parse(const uint8_t *buf, size_t len, struct kernel_image *img, char *err,
		 size_t errlen);
int loader_place(struct gmem *gm, const struct kernel_image *img, const uint8_t *buf, size_t len,
		 const struct loader_source *src, char *err, size_t errlen);
int loader_place_initrd(struct gmem *gm, const struct kernel_image *img, const uint8_t *buf,
			size_t len, const struct loader_source *src, gpa_t *gpa_out, char *err,
			size_t errlen);

int loader_file_open(const char *path, struct loader_file *f, char *err, size_t errlen);
void loader_file_close(struct loader_file *f);

#endif
