/* cpuid: turn KVM_GET_SUPPORTED_CPUID into the CPUID one vCPU of this VM shows its guest.
 *
 * Contract: cpuid_filter() edits a copy of the supported table in place for
 * vCPU `index` of `count` (APIC id = index, one thread per core, one socket):
 * - leaf 1: hypervisor bit and TSC-deadline set; VMX, SMX, MONITOR and the
 *   host-only debug-store/thermal bits cleared; EBX[31:24] = APIC id,
 *   EBX[23:16] = count, HTT when count > 1;
 * - topology: leaf 4 and 0x8000001D core/sharing counts, leaves 0xB and 0x1F
 *   (x2APIC id and levels), AMD 0x80000008 ECX core count, 0x8000001E ids;
 * - no nested virtualization (SVM in 0x80000001 and leaf 0x8000000A cleared)
 *   and no PMU (leaf 0xA zeroed).
 * XSAVE leaves are left as KVM reports them (the testbox's XSAVE quirk is
 * handled on the guest command line, not here). Pure: no I/O. */
#ifndef EMBER_CPUID_H
#define EMBER_CPUID_H

#include <linux/kvm.h>

#define CPUID_MAX_ENTRIES 256

#define CPUID_1_ECX_MONITOR	      (1u << 3)
#define CPUID_1_ECX_VMX		      (1u << 5)
#define CPUID_1_ECX_SMX		      (1u << 6)
#define CPUID_1_ECX_TSC_DEADLINE      (1u << 24)
#define CPUID_1_ECX_HYPERVISOR	      (1u << 31)
#define CPUID_1_EDX_HTT		      (1u << 28)
#define CPUID_80000001_ECX_CMP_LEGACY (1u << 1)
#define CPUID_80000001_ECX_SVM	      (1u << 2)

int cpuid_filter(struct kvm_cpuid_entry2 *e, unsigned n, unsigned index, unsigned count);

#endif
