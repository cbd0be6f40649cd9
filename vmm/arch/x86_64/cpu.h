/* cpu: the register state a vCPU needs to enter the kernel, and the MSRs of a fresh CPU.
 *
 * Contract:
 * - cpu_write_gdt() writes the boot GDT (null, null, code 0x10, data 0x18,
 *   TSS 0x20) and an empty IDT; the code segment is 64-bit for
 *   BOOT_ENTRY_LINUX64 and flat 32-bit otherwise.
 * - cpu_init_sregs()/cpu_init_regs() turn KVM's reset state into the entry
 *   state of the boot protocol: segments matching the GDT, CR0/CR4/EFER/CR3
 *   (long mode with the identity map, or flat protected mode), rip = entry,
 *   rsi = zero page (Linux) or rbx = start_info (PVH). Pure functions.
 * - cpu_boot_msrs() fills the MSRs every vCPU gets at creation (returns count).
 * - cpu_setup_boot_vcpu() and cpu_setup_vcpu() issue the KVM ioctls on a vCPU
 *   fd; call them from the thread that creates the vCPU, before it runs. The
 *   first sets the BSP's entry state; the second, for every vCPU, MSRs, FPU
 *   and LAPIC LINT0/LINT1. Errors: negative errno, reason logged. */
#ifndef EMBER_CPU_H
#define EMBER_CPU_H

#include <linux/kvm.h>

#include "vmm/arch/x86_64/bootparams.h"
#include "vmm/arch/x86_64/loader.h"

#define CPU_GDT_CODE_SEL  0x10
#define CPU_GDT_DATA_SEL  0x18
#define CPU_GDT_TSS_SEL	  0x20
#define CPU_GDT_ENTRIES	  5
#define CPU_MAX_BOOT_MSRS 16

#define CR0_PE	 (1u << 0)
#define CR0_ET	 (1u << 4)
#define CR0_NE	 (1u << 5)
#define CR0_PG	 (1u << 31)
#define CR4_PAE	 (1u << 5)
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)

int cpu_write_gdt(struct gmem *gm, enum boot_entry mode);
void cpu_init_sregs(struct kvm_sregs *s, enum boot_entry mode, uint64_t cr3);
void cpu_init_regs(struct kvm_regs *r, const struct kernel_image *img);
unsigned cpu_boot_msrs(struct kvm_msr_entry *out, unsigned max);

int cpu_setup_boot_vcpu(int vcpu_fd, struct gmem *gm, const struct kernel_image *img);
int cpu_setup_vcpu(int vcpu_fd);

#endif
