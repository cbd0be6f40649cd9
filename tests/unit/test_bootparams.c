/* Unit tests for vmm/arch/x86_64/bootparams.c: e820, zero page, PVH start_info, cmdline. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/arch/x86_64/bootparams.h"
#include "vmm/arch/x86_64/layout.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)

static char err[LOADER_ERR_LEN];

static struct gmem *mem(uint64_t size)
{
	struct gmem *gm;

	assert_int_equal(gmem_create(size, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END, &gm), 0);
	return gm;
}

static void test_e820_small(void **state)
{
	struct boot_e820_entry e[8];
	struct gmem *gm = mem(128 * MIB);

	(void)state;
	assert_int_equal(bootparams_e820(gm, e, 8), 3);
	/* Usable RAM below 1 MiB is required (FACTS.md). */
	assert_int_equal(e[0].addr, 0);
	assert_int_equal(e[0].size, LAYOUT_EBDA_GPA);
	assert_int_equal(e[0].type, BOOTPARAMS_E820_RAM);
	assert_int_equal(e[1].addr, LAYOUT_EBDA_GPA);
	assert_int_equal(e[1].addr + e[1].size, 1 * MIB);
	assert_int_equal(e[1].type, BOOTPARAMS_E820_RESERVED);
	assert_int_equal(e[2].addr, 1 * MIB);
	assert_int_equal(e[2].size, 127 * MIB);
	assert_int_equal(e[2].type, BOOTPARAMS_E820_RAM);
	assert_int_equal(bootparams_e820(gm, e, 2), -ENOSPC);
	gmem_destroy(gm);
}

static void test_e820_gap(void **state)
{
	struct boot_e820_entry e[8];
	struct gmem *gm = mem(3 * GIB + 512 * MIB);
	uint64_t ram = 0;

	(void)state;
	assert_int_equal(bootparams_e820(gm, e, 8), 4);
	assert_int_equal(e[2].addr + e[2].size, LAYOUT_MMIO_GAP_START);
	assert_int_equal(e[3].addr, LAYOUT_MMIO_GAP_END);
	assert_int_equal(e[3].size, 512 * MIB);
	for (int i = 0; i < 4; i++) {
		if (e[i].type == BOOTPARAMS_E820_RAM)
			ram += e[i].size;
		/* sorted, no overlaps */
		if (i > 0)
			assert_true(e[i].addr >= e[i - 1].addr + e[i - 1].size);
	}
	assert_int_equal(ram, 3 * GIB + 512 * MIB - (1 * MIB - LAYOUT_EBDA_GPA));
	gmem_destroy(gm);
}

static void test_zero_page_elf(void **state)
{
	struct gmem *gm = mem(128 * MIB);
	struct kernel_image img = { .cmdline_max = LAYOUT_CMDLINE_MAX };
	struct boot_info bi = { .initrd_gpa = 100 * MIB, .initrd_size = 12345 };
	struct boot_params *bp;

	(void)state;
	assert_int_equal(
		bootparams_write_cmdline(gm, &img, "console=ttyS0 quiet", &bi, err, sizeof(err)),
		0);
	assert_int_equal(bootparams_write_linux(gm, &img, &bi), 0);
	bp = gmem_slice(gm, LAYOUT_ZERO_PAGE_GPA, sizeof(*bp));
	assert_int_equal(bp->hdr.boot_flag, 0xaa55);
	assert_int_equal(bp->hdr.header, 0x53726448);
	assert_int_not_equal(bp->hdr.type_of_loader, 0); /* else the initrd is ignored */
	assert_int_equal(bp->hdr.cmd_line_ptr, LAYOUT_CMDLINE_GPA);
	assert_int_equal(bp->hdr.cmdline_size, strlen("console=ttyS0 quiet"));
	assert_string_equal((char *)gmem_slice(gm, LAYOUT_CMDLINE_GPA, 20), "console=ttyS0 quiet");
	assert_int_equal(bp->hdr.ramdisk_image, 100 * MIB);
	assert_int_equal(bp->hdr.ramdisk_size, 12345);
	assert_int_equal(bp->e820_entries, 3);
	assert_int_equal(bp->e820_table[2].size, 127 * MIB);
	gmem_destroy(gm);
}

static void test_zero_page_bzimage_keeps_header(void **state)
{
	struct gmem *gm = mem(64 * MIB);
	struct kernel_image img = { .cmdline_max = 256, .has_setup_header = true };
	struct boot_info bi = { 0 };
	struct boot_params *bp;

	(void)state;
	img.hdr.version = 0x020f;
	img.hdr.setup_sects = 27;
	img.hdr.header = 0x53726448;
	assert_int_equal(bootparams_write_cmdline(gm, &img, "", &bi, err, sizeof(err)), 0);
	assert_int_equal(bootparams_write_linux(gm, &img, &bi), 0);
	bp = gmem_slice(gm, LAYOUT_ZERO_PAGE_GPA, sizeof(*bp));
	assert_int_equal(bp->hdr.version, 0x020f);
	assert_int_equal(bp->hdr.setup_sects, 27);
	assert_int_equal(bp->hdr.ramdisk_image, 0);
	assert_int_equal(bp->hdr.ramdisk_size, 0);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	gmem_destroy(gm);
}

static void test_cmdline_limits(void **state)
{
	static char line[LAYOUT_CMDLINE_MAX + 10];
	struct gmem *gm = mem(32 * MIB);
	struct kernel_image img = { .cmdline_max = 256 };
	struct boot_info bi = { 0 };

	(void)state;
	memset(line, 'a', 255);
	line[255] = '\0';
	assert_int_equal(bootparams_write_cmdline(gm, &img, line, &bi, err, sizeof(err)), 0);
	assert_int_equal(bi.cmdline_len, 255);
	line[255] = 'a';
	line[256] = '\0';
	assert_int_equal(bootparams_write_cmdline(gm, &img, line, &bi, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "256 bytes"));
	img.cmdline_max = LAYOUT_CMDLINE_MAX;
	memset(line, 'b', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	assert_int_equal(bootparams_write_cmdline(gm, &img, line, &bi, err, sizeof(err)), -E2BIG);
	gmem_destroy(gm);
}

static void test_pvh(void **state)
{
	struct gmem *gm = mem(3 * GIB + 512 * MIB);
	struct boot_info bi = { .cmdline_gpa = LAYOUT_CMDLINE_GPA,
				.initrd_gpa = 200 * MIB,
				.initrd_size = 4096 };
	struct hvm_start_info *si;
	struct hvm_memmap_table_entry *mm;
	struct hvm_modlist_entry *mod;

	(void)state;
	assert_int_equal(bootparams_write_pvh(gm, &bi), 0);
	si = gmem_slice(gm, LAYOUT_PVH_INFO_GPA, sizeof(*si));
	assert_int_equal(si->magic, PVH_START_MAGIC);
	assert_int_equal(si->version, 1);
	assert_int_equal(si->cmdline_paddr, LAYOUT_CMDLINE_GPA);
	assert_int_equal(si->memmap_entries, 4);
	assert_int_equal(si->nr_modules, 1);
	mm = gmem_slice(gm, si->memmap_paddr, 4 * sizeof(*mm));
	assert_int_equal(mm[3].addr, LAYOUT_MMIO_GAP_END);
	assert_int_equal(mm[3].type, BOOTPARAMS_E820_RAM);
	mod = gmem_slice(gm, si->modlist_paddr, sizeof(*mod));
	assert_int_equal(mod->paddr, 200 * MIB);
	assert_int_equal(mod->size, 4096);
	bi.initrd_size = 0;
	assert_int_equal(bootparams_write_pvh(gm, &bi), 0);
	assert_int_equal(si->nr_modules, 0);
	gmem_destroy(gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e820_small),
		cmocka_unit_test(test_e820_gap),
		cmocka_unit_test(test_zero_page_elf),
		cmocka_unit_test(test_zero_page_bzimage_keeps_header),
		cmocka_unit_test(test_cmdline_limits),
		cmocka_unit_test(test_pvh),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
