/* bootparams: e820, the zero page and PVH start_info, written through gmem (see bootparams.h). */
#include "vmm/arch/x86_64/bootparams.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/arch/x86_64/layout.h"

#define LOADER_TYPE_UNDEFINED 0xff /* boot.rst: "0xFF: undefined"; must be non-zero */
#define KERNEL_ALIGNMENT      0x01000000
#define HDRS_MAGIC	      0x53726448
#define BOOT_FLAG	      0xaa55

static int add(struct boot_e820_entry *out, unsigned max, unsigned *n, uint64_t addr, uint64_t size,
	       uint32_t type)
{
	if (size == 0)
		return 0;
	if (*n == max)
		return -ENOSPC;
	out[*n] = (struct boot_e820_entry){ .addr = addr, .size = size, .type = type };
	(*n)++;
	return 0;
}

int bootparams_e820(const struct gmem *gm, struct boot_e820_entry *out, unsigned max)
{
	unsigned n = 0;
	int ret = 0;

	/* Linux needs usable RAM below 1 MiB, or it panics before its console. */
	ret |= add(out, max, &n, 0, LAYOUT_EBDA_GPA, BOOTPARAMS_E820_RAM);
	ret |= add(out, max, &n, LAYOUT_EBDA_GPA, LAYOUT_LEGACY_END - LAYOUT_EBDA_GPA,
		   BOOTPARAMS_E820_RESERVED);
	for (unsigned i = 0; i < gmem_nregions(gm); i++) {
		struct gmem_range r = gmem_region(gm, i);
		gpa_t start = r.gpa < LAYOUT_LEGACY_END ? LAYOUT_LEGACY_END : r.gpa;

		if (r.gpa + r.size > start)
			ret |= add(out, max, &n, start, r.gpa + r.size - start,
				   BOOTPARAMS_E820_RAM);
	}
	return ret < 0 ? -ENOSPC : (int)n;
}

int bootparams_write_cmdline(struct gmem *gm, const struct kernel_image *img, const char *cmdline,
			     struct boot_info *bi, char *err, size_t errlen)
{
	size_t len = strlen(cmdline);

	if (len + 1 > img->cmdline_max || len + 1 > LAYOUT_CMDLINE_MAX) {
		snprintf(err, errlen, "kernel command line is %zu bytes; this kernel accepts %u",
			 len, img->cmdline_max - 1);
		return -E2BIG;
	}
	if (gmem_write(gm, LAYOUT_CMDLINE_GPA, cmdline, len + 1) < 0) {
		snprintf(err, errlen, "guest memory too small for the command line");
		return -EFAULT;
	}
	bi->cmdline_gpa = LAYOUT_CMDLINE_GPA;
	bi->cmdline_len = len;
	return 0;
}

int bootparams_write_linux(struct gmem *gm, const struct kernel_image *img,
			   const struct boot_info *bi)
{
	struct boot_params *bp = gmem_slice(gm, LAYOUT_ZERO_PAGE_GPA, sizeof(*bp));
	int n;

	if (bp == NULL)
		return -EFAULT;
	memset(bp, 0, sizeof(*bp));
	if (img->has_setup_header) {
		bp->hdr = img->hdr;
	} else {
		bp->hdr.boot_flag = BOOT_FLAG;
		bp->hdr.header = HDRS_MAGIC;
		bp->hdr.kernel_alignment = KERNEL_ALIGNMENT;
	}
	/* Zero here makes the kernel ignore the initrd (FACTS.md). */
	bp->hdr.type_of_loader = LOADER_TYPE_UNDEFINED;
	bp->hdr.cmd_line_ptr = (uint32_t)bi->cmdline_gpa;
	bp->ext_cmd_line_ptr = (uint32_t)(bi->cmdline_gpa >> 32);
	bp->hdr.cmdline_size = (uint32_t)bi->cmdline_len;
	if (bi->initrd_size > 0) {
		bp->hdr.ramdisk_image = (uint32_t)bi->initrd_gpa;
		bp->ext_ramdisk_image = (uint32_t)(bi->initrd_gpa >> 32);
		bp->hdr.ramdisk_size = (uint32_t)bi->initrd_size;
		bp->ext_ramdisk_size = (uint32_t)(bi->initrd_size >> 32);
	}
	n = bootparams_e820(gm, bp->e820_table, E820_MAX_ENTRIES_ZEROPAGE);
	if (n < 0)
		return n;
	bp->e820_entries = (uint8_t)n;
	return 0;
}

int bootparams_write_pvh(struct gmem *gm, const struct boot_info *bi)
{
	struct boot_e820_entry e820[LAYOUT_PVH_MEMMAP_MAX];
	struct hvm_memmap_table_entry *mm;
	struct hvm_start_info *si;
	int n;

	n = bootparams_e820(gm, e820, LAYOUT_PVH_MEMMAP_MAX);
	if (n < 0)
		return n;
	si = gmem_slice(gm, LAYOUT_PVH_INFO_GPA, sizeof(*si));
	mm = gmem_slice(gm, LAYOUT_PVH_MEMMAP_GPA, sizeof(*mm) * (unsigned)n);
	if (si == NULL || mm == NULL)
		return -EFAULT;
	memset(si, 0, sizeof(*si));
	si->magic = PVH_START_MAGIC;
	si->version = 1; /* version 1 carries the memory map */
	si->cmdline_paddr = bi->cmdline_gpa;
	si->memmap_paddr = LAYOUT_PVH_MEMMAP_GPA;
	si->memmap_entries = (uint32_t)n;
	for (int i = 0; i < n; i++)
		mm[i] = (struct hvm_memmap_table_entry){ .addr = e820[i].addr,
							 .size = e820[i].size,
							 .type = e820[i].type };
	if (bi->initrd_size > 0) {
		struct hvm_modlist_entry *mod = gmem_slice(gm, LAYOUT_PVH_MODS_GPA, sizeof(*mod));

		if (mod == NULL)
			return -EFAULT;
		*mod = (struct hvm_modlist_entry){ .paddr = bi->initrd_gpa,
						   .size = bi->initrd_size };
		si->nr_modules = 1;
		si->modlist_paddr = LAYOUT_PVH_MODS_GPA;
	}
	return 0;
}
