/* Unit tests for the boot CPU state: identity page tables, GDT, sregs, regs, MSRs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/arch/x86_64/cpu.h"
#include "vmm/arch/x86_64/layout.h"
#include "vmm/arch/x86_64/pagetable.h"

static struct gmem *mem(void)
{
	struct gmem *gm;

	assert_int_equal(gmem_create(32 << 20, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END, &gm), 0);
	return gm;
}

/* Walks the tables like the MMU for a 2 MiB mapping. */
static uint64_t translate(struct gmem *gm, uint64_t cr3, uint64_t va)
{
	uint64_t *pml4 = gmem_slice(gm, cr3 & PTE_ADDR_MASK, 4096);
	uint64_t e = pml4[(va >> 39) & 511], *pdpt, *pd;

	assert_true(e & PTE_PRESENT);
	pdpt = gmem_slice(gm, e & PTE_ADDR_MASK, 4096);
	e = pdpt[(va >> 30) & 511];
	if (!(e & PTE_PRESENT))
		return UINT64_MAX;
	pd = gmem_slice(gm, e & PTE_ADDR_MASK, 4096);
	e = pd[(va >> 21) & 511];
	if (!(e & PTE_PRESENT))
		return UINT64_MAX;
	assert_true(e & PTE_PAGESIZE);
	assert_true(e & PTE_WRITE);
	return (e & PTE_ADDR_MASK & ~(PAGETABLE_2M - 1)) | (va & (PAGETABLE_2M - 1));
}

static void test_identity_map(void **state)
{
	struct gmem *gm = mem();
	uint64_t cr3 = 0;
	const uint64_t probes[] = {
		0,	   LAYOUT_ZERO_PAGE_GPA,	LAYOUT_CMDLINE_GPA, 0x1000000,
		0x1234567, LAYOUT_IDENTITY_MAP_SIZE - 1
	};

	(void)state;
	assert_int_equal(pagetable_write(gm, &cr3), 0);
	assert_int_equal(cr3, LAYOUT_PML4_GPA);
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		assert_int_equal(translate(gm, cr3, probes[i]), probes[i]);
	assert_int_equal(translate(gm, cr3, LAYOUT_IDENTITY_MAP_SIZE), UINT64_MAX);
	gmem_destroy(gm);
}

static void test_pagetable_no_memory(void **state)
{
	struct gmem *gm;
	uint64_t cr3;

	(void)state;
	assert_int_equal(gmem_create(0x9000, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END, &gm), 0);
	assert_int_equal(pagetable_write(gm, &cr3), -EFAULT);
	gmem_destroy(gm);
}

static void test_gdt_and_sregs_long_mode(void **state)
{
	struct gmem *gm = mem();
	struct kvm_sregs s;
	uint64_t *gdt;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(cpu_write_gdt(gm, BOOT_ENTRY_LINUX64), 0);
	gdt = gmem_slice(gm, LAYOUT_GDT_GPA, CPU_GDT_ENTRIES * 8);
	assert_int_equal(gdt[0], 0);
	assert_int_equal(gdt[CPU_GDT_CODE_SEL / 8], 0x00af9b000000ffffull); /* L=1, G=1 */
	assert_int_equal(gdt[CPU_GDT_DATA_SEL / 8], 0x00cf93000000ffffull);
	assert_int_equal(gdt[CPU_GDT_TSS_SEL / 8], 0x008f8b000000ffffull);
	assert_true(LAYOUT_IDT_GPA >= LAYOUT_GDT_GPA + CPU_GDT_ENTRIES * 8);

	cpu_init_sregs(&s, BOOT_ENTRY_LINUX64, LAYOUT_PML4_GPA);
	assert_int_equal(s.cs.selector, CPU_GDT_CODE_SEL);
	assert_int_equal(s.cs.l, 1);
	assert_int_equal(s.cs.db, 0);
	assert_int_equal(s.cs.limit, 0xffffffff);
	assert_int_equal(s.ds.selector, CPU_GDT_DATA_SEL);
	assert_int_equal(s.ss.db, 1);
	assert_int_equal(s.tr.type, 0xb);
	assert_int_equal(s.tr.s, 0);
	assert_int_equal(s.gdt.base, LAYOUT_GDT_GPA);
	assert_int_equal(s.gdt.limit, CPU_GDT_ENTRIES * 8 - 1);
	assert_true(s.cr0 & CR0_PE);
	assert_true(s.cr0 & CR0_PG);
	assert_false(s.cr0 & (1u << 30)); /* caches enabled */
	assert_true(s.cr4 & CR4_PAE);
	assert_int_equal(s.efer & (EFER_LME | EFER_LMA), EFER_LME | EFER_LMA);
	assert_int_equal(s.cr3, LAYOUT_PML4_GPA);
	gmem_destroy(gm);
}

static void test_sregs_flat32(void **state)
{
	struct gmem *gm = mem();
	struct kvm_sregs s;
	uint64_t *gdt;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(cpu_write_gdt(gm, BOOT_ENTRY_PVH), 0);
	gdt = gmem_slice(gm, LAYOUT_GDT_GPA, CPU_GDT_ENTRIES * 8);
	assert_int_equal(gdt[CPU_GDT_CODE_SEL / 8], 0x00cf9b000000ffffull); /* D=1, G=1 */
	cpu_init_sregs(&s, BOOT_ENTRY_PVH, 0);
	assert_int_equal(s.cs.l, 0);
	assert_int_equal(s.cs.db, 1);
	assert_true(s.cr0 & CR0_PE);
	assert_false(s.cr0 & CR0_PG);
	assert_int_equal(s.efer, 0);
	assert_int_equal(s.cr4, 0);
	gmem_destroy(gm);
}

static void test_regs(void **state)
{
	struct kernel_image img = { .entry_mode = BOOT_ENTRY_LINUX64, .entry = 0x1000200 };
	struct kvm_regs r;

	(void)state;
	cpu_init_regs(&r, &img);
	assert_int_equal(r.rip, 0x1000200);
	assert_int_equal(r.rsi, LAYOUT_ZERO_PAGE_GPA);
	assert_int_equal(r.rflags, 2);
	img.entry_mode = BOOT_ENTRY_PVH;
	cpu_init_regs(&r, &img);
	assert_int_equal(r.rbx, LAYOUT_PVH_INFO_GPA);
	assert_int_equal(r.rsi, 0);
}

static void test_msrs(void **state)
{
	struct kvm_msr_entry e[CPU_MAX_BOOT_MSRS];
	unsigned n = cpu_boot_msrs(e, CPU_MAX_BOOT_MSRS);
	bool mtrr = false;

	(void)state;
	assert_true(n > 0 && n <= CPU_MAX_BOOT_MSRS);
	for (unsigned i = 0; i < n; i++) {
		if (e[i].index == 0x2ff) {
			mtrr = true;
			assert_int_equal(e[i].data, (1u << 11) | 6);
		}
		assert_int_not_equal(e[i].index, 0x10); /* TSC: KVM keeps vCPUs in sync */
	}
	assert_true(mtrr);
	assert_int_equal(cpu_boot_msrs(e, 2), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_map),
		cmocka_unit_test(test_pagetable_no_memory),
		cmocka_unit_test(test_gdt_and_sregs_long_mode),
		cmocka_unit_test(test_sregs_flat32),
		cmocka_unit_test(test_regs),
		cmocka_unit_test(test_msrs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
