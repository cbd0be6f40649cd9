/* snap vcpu: one vCPU's architectural state: read from KVM, written to KVM, and its section codec.
 *
 * Contract:
 * - struct snap_vcpu_state is plain data with bounded arrays, so decoding
 *   and validation are testable without KVM. It is large (~40 KiB): allocate
 *   it, do not put it on a vCPU thread's stack.
 * - snap_msr_list_build() chooses the MSRs to save, once per snapshot: the
 *   TSC first, then KVM_GET_MSR_INDEX_LIST (without Hyper-V's range) and the
 *   kvmclock/PV MSRs, minus those this vCPU refuses to read (probed with
 *   KVM_GET_MSRS).
 * - snap_vcpu_save() and snap_vcpu_restore() issue vCPU ioctls from the
 *   calling thread. Precondition: the vCPU's own thread is parked outside
 *   KVM_RUN (vm_pause_request + vcpu_kick + vm_pause_wait; the parked thread
 *   has already run KVM_RUN with immediate_exit to complete a pending I/O
 *   exit, so RIP is past the instruction). A vCPU ioctl from another thread
 *   while the vCPU sits in KVM_RUN would block.
 * - snap_vcpu_restore() takes a fresh vCPU (vcpu_create, never run) of a VM
 *   whose memory is registered and whose irqchip exists, and loads the state
 *   in the order written in vcpu_state.c, the reason beside each step.
 * - Segment and control registers go through KVM_GET/SET_SREGS, not SREGS2:
 *   SREGS2 adds the PAE PDPTRs, which only a 32-bit PAE guest caught between
 *   a CR3 load and its use needs; ember's guests run in long mode, and the
 *   pending interrupt SREGS' bitmap would carry travels in the vCPU events.
 * - snap_vcpu_encode() appends one SNAP_TAG_VCPU section;
 *   snap_vcpu_decode() reads one back and validates every count and enum
 *   against the limits below (-EBADMSG, logged, naming the field).
 * Errors: negative errno, logged with the ioctl's name and the vCPU index. */
#ifndef EMBER_SNAP_VCPU_STATE_H
#define EMBER_SNAP_VCPU_STATE_H

#include <linux/kvm.h>
#include <stdint.h>

#include "vmm/arch/x86_64/cpuid.h"
#include "vmm/core/vcpu.h"
#include "lib/snapfile/format.h"

#define SNAP_TAG_VCPU	  SNAP_TAG('V', 'C', 'P', 'U')
#define SNAP_VCPU_VERSION 1

#define SNAP_MAX_CPUID	  CPUID_MAX_ENTRIES
#define SNAP_MAX_MSRS	  512
#define SNAP_TSS_AVAIL64  9    /* TR type: 64-bit TSS, available */
#define SNAP_TSS_BUSY64	  11   /* TR type: 64-bit TSS, busy */
#define SNAP_XSAVE_MIN	  4096 /* struct kvm_xsave's fixed region */
#define SNAP_XSAVE_MAX	  16384
#define SNAP_LAPIC_LEN	  KVM_APIC_REG_SIZE
#define SNAP_MP_STATE_MAX KVM_MP_STATE_SIPI_RECEIVED
#define SNAP_EVENTS_FLAGS                                                                          \
	(KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |                       \
	 KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM | KVM_VCPUEVENT_VALID_PAYLOAD |      \
	 KVM_VCPUEVENT_VALID_TRIPLE_FAULT)

/* MSRs outside KVM's index list that a Linux guest with kvmclock uses. */
#define SNAP_MSR_IA32_TSC	     0x10u
#define SNAP_MSR_KVM_WALL_CLOCK	     0x11u
#define SNAP_MSR_KVM_SYSTEM_TIME     0x12u
#define SNAP_MSR_KVM_WALL_CLOCK_NEW  0x4b564d00u
#define SNAP_MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01u
#define SNAP_MSR_KVM_ASYNC_PF_EN     0x4b564d02u
#define SNAP_MSR_KVM_STEAL_TIME	     0x4b564d03u
#define SNAP_MSR_KVM_PV_EOI_EN	     0x4b564d04u
#define SNAP_MSR_KVM_POLL_CONTROL    0x4b564d05u
#define SNAP_MSR_KVM_ASYNC_PF_INT    0x4b564d06u

/* Hyper-V's synthetic MSRs: left out (see snap_msr_list_build). */
#define SNAP_MSR_HYPERV_FIRST 0x40000000u
#define SNAP_MSR_HYPERV_LAST  0x40000fffu

struct snap_msr_list {
	unsigned n;
	uint32_t index[SNAP_MAX_MSRS];
};

struct snap_vcpu_state {
	uint32_t index;	  /* vCPU id */
	uint32_t tsc_khz; /* KVM_GET_TSC_KHZ; a restore on another frequency needs scaling */
	uint32_t ncpuid;
	struct kvm_cpuid_entry2 cpuid[SNAP_MAX_CPUID];
	uint32_t mp_state;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint32_t xsave_len; /* SNAP_XSAVE_MIN..SNAP_XSAVE_MAX, a multiple of 4 */
	uint8_t xsave[SNAP_XSAVE_MAX];
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	uint8_t lapic[SNAP_LAPIC_LEN];
	uint32_t nmsrs;
	struct kvm_msr_entry msrs[SNAP_MAX_MSRS];
	struct kvm_vcpu_events events;
};

int snap_msr_list_build(const struct vcpu *vcpu, struct snap_msr_list *out);
int snap_vcpu_save(const struct vcpu *vcpu, const struct snap_msr_list *msrs,
		   struct snap_vcpu_state *out);
int snap_vcpu_restore(struct vcpu *vcpu, const struct snap_vcpu_state *s);

void snap_vcpu_encode(struct snap_writer *w, const struct snap_vcpu_state *s);
int snap_vcpu_decode(const struct snap_section *sec, struct snap_vcpu_state *out);

#endif
