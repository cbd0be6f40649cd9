/* cpu_state: one x86 vCPU's architectural state, read from KVM and written back to it.
 *
 * Contract:
 * - struct cpu_state is plain data with bounded arrays, so a snapshot's
 *   encoding and validation (vmm/snapshot/vcpu_state.h) are testable without
 *   KVM. It is large (~40 KiB): allocate it, do not put it on a vCPU
 *   thread's stack.
 * - cpu_state_msr_list() chooses the MSRs to save, once per snapshot: the
 *   TSC first, then KVM_GET_MSR_INDEX_LIST (without Hyper-V's range) and the
 *   kvmclock/PV MSRs, minus those this vCPU refuses to read (probed with
 *   KVM_GET_MSRS).
 * - cpu_state_save() and cpu_state_restore() issue vCPU ioctls from the
 *   calling thread. Precondition: the vCPU's own thread is parked outside
 *   KVM_RUN (vm_pause_request + vcpu_kick + vm_pause_wait; the parked thread
 *   has already run KVM_RUN with immediate_exit to complete a pending I/O
 *   exit, so RIP is past the instruction). A vCPU ioctl from another thread
 *   while the vCPU sits in KVM_RUN would block.
 * - cpu_state_restore() takes a fresh vCPU (vcpu_create, never run) of a VM
 *   whose memory is registered and whose irqchip exists, and loads the state
 *   in the order written in cpu_state.c, the reason beside each step.
 * - Segment and control registers go through KVM_GET/SET_SREGS, not SREGS2:
 *   SREGS2 adds the PAE PDPTRs, which only a 32-bit PAE guest caught between
 *   a CR3 load and its use needs; ember's guests run in long mode, and the
 *   pending interrupt SREGS' bitmap would carry travels in the vCPU events.
 * Errors: negative errno, logged with the ioctl's name and the vCPU index. */
#ifndef EMBER_CPU_STATE_H
#define EMBER_CPU_STATE_H

#include <linux/kvm.h>
#include <stdint.h>

#include "vmm/arch/x86_64/cpuid.h"
#include "vmm/core/vcpu.h"

#define CPU_STATE_MAX_CPUID    CPUID_MAX_ENTRIES
#define CPU_STATE_MAX_MSRS     512
#define CPU_STATE_TSS_AVAIL64  9    /* TR type: 64-bit TSS, available */
#define CPU_STATE_TSS_BUSY64   11   /* TR type: 64-bit TSS, busy */
#define CPU_STATE_XSAVE_MIN    4096 /* struct kvm_xsave's fixed region */
#define CPU_STATE_XSAVE_MAX    16384
#define CPU_STATE_LAPIC_LEN    KVM_APIC_REG_SIZE
#define CPU_STATE_MP_STATE_MAX KVM_MP_STATE_SIPI_RECEIVED
#define CPU_STATE_EVENTS_FLAGS                                                                     \
	(KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |                       \
	 KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM | KVM_VCPUEVENT_VALID_PAYLOAD |      \
	 KVM_VCPUEVENT_VALID_TRIPLE_FAULT)

/* MSRs outside KVM's index list that a Linux guest with kvmclock uses. */
#define CPU_MSR_IA32_TSC	    0x10u
#define CPU_MSR_KVM_WALL_CLOCK	    0x11u
#define CPU_MSR_KVM_SYSTEM_TIME	    0x12u
#define CPU_MSR_KVM_WALL_CLOCK_NEW  0x4b564d00u
#define CPU_MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01u
#define CPU_MSR_KVM_ASYNC_PF_EN	    0x4b564d02u
#define CPU_MSR_KVM_STEAL_TIME	    0x4b564d03u
#define CPU_MSR_KVM_PV_EOI_EN	    0x4b564d04u
#define CPU_MSR_KVM_POLL_CONTROL    0x4b564d05u
#define CPU_MSR_KVM_ASYNC_PF_INT    0x4b564d06u

/* Hyper-V's synthetic MSRs: left out (see cpu_state_msr_list). */
#define CPU_MSR_HYPERV_FIRST 0x40000000u
#define CPU_MSR_HYPERV_LAST  0x40000fffu

struct cpu_msr_list {
	unsigned n;
	uint32_t index[CPU_STATE_MAX_MSRS];
};

struct cpu_state {
	uint32_t index;	  /* vCPU id */
	uint32_t tsc_khz; /* KVM_GET_TSC_KHZ; a restore on another frequency needs scaling */
	uint32_t ncpuid;
	struct kvm_cpuid_entry2 cpuid[CPU_STATE_MAX_CPUID];
	uint32_t mp_state;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint32_t xsave_len; /* CPU_STATE_XSAVE_MIN..CPU_STATE_XSAVE_MAX, a multiple of 4 */
	uint8_t xsave[CPU_STATE_XSAVE_MAX];
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	uint8_t lapic[CPU_STATE_LAPIC_LEN];
	uint32_t nmsrs;
	struct kvm_msr_entry msrs[CPU_STATE_MAX_MSRS];
	struct kvm_vcpu_events events;
};

int cpu_state_msr_list(const struct vcpu *vcpu, struct cpu_msr_list *out);
int cpu_state_save(const struct vcpu *vcpu, const struct cpu_msr_list *msrs, struct cpu_state *out);
int cpu_state_restore(struct vcpu *vcpu, const struct cpu_state *s);

#endif
