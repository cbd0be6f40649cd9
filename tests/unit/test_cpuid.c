/* Unit tests for vmm/arch/x86_64/cpuid.c: the guest CPUID filter. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/arch/x86_64/cpuid.h"

#define N 16
static struct kvm_cpuid_entry2 tab[N];
static unsigned ntab;

static void add(uint32_t fn, uint32_t idx, uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
	tab[ntab++] = (struct kvm_cpuid_entry2){
		.function = fn, .index = idx, .eax = a, .ebx = b, .ecx = c, .edx = d
	};
}

/* A host-like table: vendor, leaf 1 with a host APIC id, caches, topology, SVM. */
static void host_table(bool amd)
{
	ntab = 0;
	add(0, 0, 0x1f, amd ? 0x68747541 : 0x756e6547, 0, 0);
	add(1, 0, 0x000a0f10, 0x2a100800 /* APIC id 0x2a */, 0x80202021 | (1u << 5) | (1u << 3),
	    0x178bfbff | (1u << 28));
	add(4, 0, 0x1c004121, 0, 0, 0); /* L1d */
	add(4, 3, 0x3c07c163, 0, 0, 0); /* L3, shared by 32 */
	add(4, 4, 0, 0, 0, 0);		/* end */
	add(0xa, 0, 0x07300402, 0, 0, 0x603);
	add(0xb, 0, 1, 2, 0x100, 0x2a);
	add(0xb, 1, 4, 16, 0x201, 0x2a);
	add(0xb, 2, 0, 0, 2, 0x2a);
	add(0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d);
	add(0x80000001, 0, 0, 0, (1u << 2) | (1u << 22), 0);
	add(0x80000008, 0, 0x3030, 0, 0x7007, 0);
	add(0x8000000a, 0, 1, 0x8000, 0, 0x1ff);
	add(0x8000001e, 0, 0x2a, 0x100, 0x300, 0);
}

static const struct kvm_cpuid_entry2 *get(uint32_t fn, uint32_t idx)
{
	for (unsigned i = 0; i < ntab; i++)
		if (tab[i].function == fn && tab[i].index == idx)
			return &tab[i];
	fail_msg("leaf %#x.%u missing", fn, idx);
	return NULL;
}

static void test_leaf1(void **state)
{
	(void)state;
	host_table(false);
	assert_int_equal(cpuid_filter(tab, ntab, 2, 4), 0);
	const struct kvm_cpuid_entry2 *l1 = get(1, 0);

	assert_true(l1->ecx & CPUID_1_ECX_HYPERVISOR);
	assert_true(l1->ecx & CPUID_1_ECX_TSC_DEADLINE);
	assert_false(l1->ecx & CPUID_1_ECX_VMX);
	assert_false(l1->ecx & CPUID_1_ECX_MONITOR);
	assert_int_equal(l1->ebx >> 24, 2);	       /* this vCPU's APIC id */
	assert_int_equal((l1->ebx >> 16) & 0xff, 4);   /* logical processors */
	assert_int_equal((l1->ebx >> 8) & 0xff, 0x08); /* CLFLUSH size kept */
	assert_true(l1->edx & CPUID_1_EDX_HTT);
	assert_int_equal(l1->eax, 0x000a0f10);

	host_table(false);
	assert_int_equal(cpuid_filter(tab, ntab, 0, 1), 0);
	assert_int_equal(get(1, 0)->ebx >> 24, 0);
	assert_false(get(1, 0)->edx & CPUID_1_EDX_HTT);
}

static void test_topology(void **state)
{
	(void)state;
	host_table(false);
	assert_int_equal(cpuid_filter(tab, ntab, 3, 4), 0);
	assert_int_equal(get(0xb, 0)->edx, 3);
	assert_int_equal(get(0xb, 0)->ebx, 1);
	assert_int_equal((get(0xb, 0)->ecx >> 8) & 0xff, 1);
	assert_int_equal(get(0xb, 1)->eax, 2); /* log2(4) */
	assert_int_equal(get(0xb, 1)->ebx, 4);
	assert_int_equal((get(0xb, 1)->ecx >> 8) & 0xff, 2);
	assert_int_equal((get(0xb, 2)->ecx >> 8) & 0xff, 0);
	assert_int_equal(get(4, 0)->eax >> 26, 3);
	assert_int_equal((get(4, 0)->eax >> 14) & 0xfff, 0); /* L1 per core */
	assert_int_equal((get(4, 3)->eax >> 14) & 0xfff, 3); /* L3 shared by all */
	assert_int_equal(get(4, 3)->eax & 0x3fff, 0x0163);   /* cache description kept */
	assert_int_equal(get(4, 4)->eax, 0);
	host_table(false);
	assert_int_equal(cpuid_filter(tab, ntab, 0, 3), 0);
	assert_int_equal(get(0xb, 1)->eax, 2); /* 3 cores need 2 bits */
}

static void test_no_nested_no_pmu(void **state)
{
	(void)state;
	host_table(true);
	assert_int_equal(cpuid_filter(tab, ntab, 1, 2), 0);
	assert_false(get(0x80000001, 0)->ecx & CPUID_80000001_ECX_SVM);
	assert_true(get(0x80000001, 0)->ecx & (1u << 22)); /* other bits kept */
	assert_true(get(0x80000001, 0)->ecx & CPUID_80000001_ECX_CMP_LEGACY);
	assert_int_equal(get(0x8000000a, 0)->eax | get(0x8000000a, 0)->edx, 0);
	assert_int_equal(get(0xa, 0)->eax, 0);
	assert_int_equal(get(0x80000008, 0)->ecx & 0xff, 1);
	assert_int_equal((get(0x80000008, 0)->ecx >> 12) & 0xf, 1);
	assert_int_equal(get(0x8000001e, 0)->eax, 1);
	/* The KVM signature leaf passes through. */
	assert_int_equal(get(0x40000000, 0)->ebx, 0x4b4d564b);
}

static void test_bad_args(void **state)
{
	(void)state;
	host_table(false);
	assert_int_equal(cpuid_filter(tab, ntab, 0, 0), -EINVAL);
	assert_int_equal(cpuid_filter(tab, ntab, 4, 4), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaf1),
		cmocka_unit_test(test_topology),
		cmocka_unit_test(test_no_nested_no_pmu),
		cmocka_unit_test(test_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
