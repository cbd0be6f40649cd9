/* bzimage: validate a bzImage's setup header and describe how to load it (see bzimage.h). */
#include "vmm/arch/x86_64/bzimage.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "vmm/arch/x86_64/layout.h"

/* Offsets in the file, from Documentation/arch/x86/boot.rst. */
#define HDR_OFFSET	    0x1f1 /* struct setup_header starts here */
#define BOOT_FLAG_OFFSET    0x1fe
#define JUMP_OFFSET	    0x200 /* 2-byte jump; its 8-bit displacement ends the header */
#define MAGIC_OFFSET	    0x202
#define BOOT_FLAG	    0xaa55
#define HDRS_MAGIC	    0x53726448 /* "HdrS" */
#define SECTOR_SIZE	    512
#define DEFAULT_SETUP_SECTS 4
#define ENTRY64_OFFSET	    0x200 /* 64-bit entry: load address + 0x200 (protocol 2.12) */
#define PARAGRAPH	    16

static int fail(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return -ENOEXEC;
}

bool bzimage_is_bzimage(const uint8_t *buf, size_t len)
{
	uint16_t flag;
	uint32_t magic;

	if (len < MAGIC_OFFSET + sizeof(magic))
		return false;
	memcpy(&flag, buf + BOOT_FLAG_OFFSET, sizeof(flag));
	memcpy(&magic, buf + MAGIC_OFFSET, sizeof(magic));
	return flag == BOOT_FLAG && magic == HDRS_MAGIC;
}

int bzimage_parse(const uint8_t *buf, size_t len, struct kernel_image *img, char *err,
		  size_t errlen)
{
	struct setup_header *h = &img->hdr;
	size_t hdr_end, setup_size, payload;
	uint64_t need;
	gpa_t base;

	memset(img, 0, sizeof(*img));
	img->format = "bzImage";
	if (!bzimage_is_bzimage(buf, len))
		return fail(err, errlen, "no bzImage setup header (boot flag or HdrS missing)");
	/* The header's own length: the jump at 0x200 lands right after it. */
	hdr_end = JUMP_OFFSET + 2 + buf[JUMP_OFFSET + 1];
	if (hdr_end > HDR_OFFSET + sizeof(*h))
		hdr_end = HDR_OFFSET + sizeof(*h);
	if (hdr_end > len)
		return fail(err, errlen, "truncated bzImage: setup header is cut off");
	memcpy(h, buf + HDR_OFFSET, hdr_end - HDR_OFFSET);

	if (h->version < BZIMAGE_MIN_PROTOCOL)
		return fail(err, errlen, "bzImage boot protocol is older than 2.06");
	if (!(h->loadflags & LOADED_HIGH))
		return fail(err, errlen, "zImage (not loaded high) is not supported");
	setup_size =
		((size_t)(h->setup_sects ? h->setup_sects : DEFAULT_SETUP_SECTS) + 1) * SECTOR_SIZE;
	if (setup_size >= len)
		return fail(err, errlen, "truncated bzImage: no kernel after the setup code");
	payload = len - setup_size;
	if ((uint64_t)h->syssize * PARAGRAPH > payload)
		return fail(err, errlen, "truncated bzImage: file is shorter than its header says");
	if (h->syssize == 0)
		return fail(err, errlen, "bzImage header has syssize 0");

	img->nseg = 1;
	img->seg[0] = (struct kernel_segment){
		.file_off = setup_size, .filesz = payload, .gpa = LAYOUT_HIMEM_GPA, .memsz = payload
	};
	if (h->version >= 0x020c && (h->xloadflags & XLF_KERNEL_64)) {
		img->entry_mode = BOOT_ENTRY_LINUX64;
		img->entry = LAYOUT_HIMEM_GPA + ENTRY64_OFFSET;
	} else {
		img->entry_mode = BOOT_ENTRY_LINUX32;
		img->entry = LAYOUT_HIMEM_GPA;
	}
	/* The decompressor works in place at max(load address, pref_address) and
	 * needs init_size bytes there (protocol 2.10). */
	img->kernel_end = LAYOUT_HIMEM_GPA + payload;
	if (h->version >= 0x020a) {
		base = h->pref_address > LAYOUT_HIMEM_GPA ? h->pref_address : LAYOUT_HIMEM_GPA;
		if (base > UINT64_MAX / 2)
			return fail(err, errlen, "bzImage pref_address is out of range");
		need = base + h->init_size;
		if (need > img->kernel_end)
			img->kernel_end = need;
	}
	img->cmdline_max = LAYOUT_CMDLINE_MAX;
	if (h->cmdline_size != 0 && h->cmdline_size < LAYOUT_CMDLINE_MAX - 1)
		img->cmdline_max = h->cmdline_size + 1;
	img->initrd_addr_max = h->initrd_addr_max ? h->initrd_addr_max : LAYOUT_INITRD_ADDR_MAX;
	img->has_setup_header = true;
	return 0;
}
