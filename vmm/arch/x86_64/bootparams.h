/* bootparams: the e820 map, the Linux zero page and the PVH start_info.
 *
 * Contract:
 * - bootparams_e820() describes guest RAM as Linux expects it: usable RAM
 *   below the EBDA, the EBDA and legacy hole reserved, then every gmem region
 *   from 1 MiB up. It returns the number of entries (at most max) or -ENOSPC.
 * - bootparams_write_cmdline() copies the command line to LAYOUT_CMDLINE_GPA,
 *   refusing one longer than the kernel accepts (-E2BIG, reason in err).
 * - bootparams_write_linux() fills the zero page at LAYOUT_ZERO_PAGE_GPA for
 *   the 32- and 64-bit boot protocols; bootparams_write_pvh() fills the
 *   hvm_start_info at LAYOUT_PVH_INFO_GPA. Both write only through gmem and
 *   return 0 or -EFAULT if guest memory is too small for the fixed layout. */
#ifndef EMBER_BOOTPARAMS_H
#define EMBER_BOOTPARAMS_H

#include <asm/bootparam.h>

#include "vmm/arch/x86_64/loader.h"

#define BOOTPARAMS_E820_RAM	 1
#define BOOTPARAMS_E820_RESERVED 2

/* From Xen's public/arch-x86/hvm/start_info.h (version 1). */
#define PVH_START_MAGIC 0x336ec578
struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};
struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};
struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

/* What boot needs to know besides the kernel. */
struct boot_info {
	gpa_t cmdline_gpa;
	size_t cmdline_len; /* without the NUL */
	gpa_t initrd_gpa;
	uint64_t initrd_size; /* 0: none */
};

int bootparams_e820(const struct gmem *gm, struct boot_e820_entry *out, unsigned max);
int bootparams_write_cmdline(struct gmem *gm, const struct kernel_image *img, const char *cmdline,
			     struct boot_info *bi, char *err, size_t errlen);
int bootparams_write_linux(struct gmem *gm, const struct kernel_image *img,
			   const struct boot_info *bi);
int bootparams_write_pvh(struct gmem *gm, const struct boot_info *bi);

#endif
