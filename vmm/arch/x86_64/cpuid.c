/* cpuid: filter KVM's supported CPUID for one guest vCPU (see cpuid.h). */
#include "vmm/arch/x86_64/cpuid.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Leaf 1 ECX bits that describe the host, not a virtual CPU. */
#define CPUID_1_ECX_HOST_ONLY                                                                      \
	((1u << 2) /* DTES64 */ | (1u << 4) /* DS-CPL */ | (1u << 7) /* EST */ |                   \
	 (1u << 8) /* TM2 */)
#define CPUID_1_EDX_HOST_ONLY                                                                      \
	((1u << 21) /* DS */ | (1u << 22) /* ACPI thermal */ | (1u << 29) /* TM */)

#define TOPO_LEVEL_SMT	 1
#define TOPO_LEVEL_CORE	 2
#define CACHE_LEVEL(eax) (((eax) >> 5) & 7)

/* "AuthenticAMD" and "HygonGenuine" use the AMD topology leaves. */
static bool is_amd(const struct kvm_cpuid_entry2 *e, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (e[i].function == 0)
			return e[i].ebx == 0x68747541 /* "Auth" */ || e[i].ebx == 0x6f677948;
	}
	return false;
}

/* Bits needed to number `count` cores: ceil(log2(count)). */
static unsigned order(unsigned count)
{
	unsigned bits = 0;

	while ((1u << bits) < count)
		bits++;
	return bits;
}

static void topology_leaf(struct kvm_cpuid_entry2 *e, unsigned index, unsigned count)
{
	e->edx = index; /* x2APIC id */
	switch (e->index) {
	case 0: /* SMT level: one thread per core */
		e->eax = 0;
		e->ebx = 1;
		e->ecx = e->index | (TOPO_LEVEL_SMT << 8);
		break;
	case 1: /* core level: every vCPU is a core of one package */
		e->eax = order(count);
		e->ebx = count;
		e->ecx = e->index | (TOPO_LEVEL_CORE << 8);
		break;
	default:
		e->eax = 0;
		e->ebx = 0;
		e->ecx = e->index; /* level type 0: invalid, ends the walk */
		break;
	}
}

/* Caches at levels 1 and 2 belong to one core; level 3 is shared by all. */
static uint32_t sharing(uint32_t eax, unsigned count)
{
	uint32_t share = CACHE_LEVEL(eax) >= 3 ? count - 1 : 0;

	return (eax & ~(0xfffu << 14)) | (share << 14);
}

int cpuid_filter(struct kvm_cpuid_entry2 *e, unsigned n, unsigned index, unsigned count)
{
	bool amd = is_amd(e, n);

	if (count == 0 || index >= count || count > 255)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		struct kvm_cpuid_entry2 *c = &e[i];

		switch (c->function) {
		case 0x1:
			c->ecx |= CPUID_1_ECX_HYPERVISOR | CPUID_1_ECX_TSC_DEADLINE;
			c->ecx &= ~(CPUID_1_ECX_VMX | CPUID_1_ECX_SMX | CPUID_1_ECX_MONITOR |
				    CPUID_1_ECX_HOST_ONLY);
			c->edx &= ~CPUID_1_EDX_HOST_ONLY;
			c->ebx = (c->ebx & 0x0000ffffu) | (index << 24) | ((count & 0xffu) << 16);
			if (count > 1)
				c->edx |= CPUID_1_EDX_HTT;
			else
				c->edx &= ~CPUID_1_EDX_HTT;
			break;
		case 0x4:
			if ((c->eax & 0x1f) == 0) /* no cache at this subleaf */
				break;
			c->eax = sharing(c->eax, count);
			c->eax = (c->eax & 0x03ffffffu) | ((count - 1) << 26);
			break;
		case 0x5:	 /* MONITOR/MWAIT, which we clear in leaf 1 */
		case 0xa:	 /* architectural PMU */
		case 0x8000000a: /* SVM features */
			c->eax = c->ebx = c->ecx = c->edx = 0;
			break;
		case 0xb:
		case 0x1f:
			topology_leaf(c, index, count);
			break;
		case 0x80000001:
			c->ecx &= ~CPUID_80000001_ECX_SVM;
			if (amd && count > 1)
				c->ecx |= CPUID_80000001_ECX_CMP_LEGACY;
			else
				c->ecx &= ~CPUID_80000001_ECX_CMP_LEGACY;
			break;
		case 0x80000008:
			if (amd)
				c->ecx = (c->ecx & ~0xf0ffu) | (order(count) << 12) | (count - 1);
			break;
		case 0x8000001d:
			if ((c->eax & 0x1f) != 0)
				c->eax = sharing(c->eax, count);
			break;
		case 0x8000001e:
			c->eax = index;		/* extended APIC id */
			c->ebx = index & 0xffu; /* core id; one thread per core */
			c->ecx = 0;		/* node 0, one node */
			break;
		default:
			break;
		}
	}
	return 0;
}
