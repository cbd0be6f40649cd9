/* snap vm: VM-wide KVM state (PICs, IOAPIC, PIT, kvmclock) and the machine shape a restore must match.
 *
 * Contract:
 * - snap_vm_save() reads both PICs and the IOAPIC (KVM_GET_IRQCHIP), the PIT
 *   (KVM_GET_PIT2) and the clock (KVM_GET_CLOCK) of a VM whose vCPUs are all
 *   parked outside KVM_RUN. snap_vm_restore() loads them into a fresh VM with
 *   an irqchip and a PIT (vm_create_irqchip), after every vCPU is restored
 *   (vcpu_state.h): the clock goes last, so the guest's kvmclock resumes from
 *   the saved value on top of the TSCs the vCPU MSRs just set.
 * - KVM_SET_CLOCK flags: 0. The guest clock continues exactly where it was
 *   paused; time spent on disk is not replayed (KVM_CLOCK_REALTIME would jump
 *   the guest's monotonic clock by hours for a template snapshot restored
 *   much later, firing every timer at once). The guest learns the wall time
 *   from the host after the restore (the RESTORE message).
 * - struct snap_machine: vCPU count, memory size and every memory region as
 *   (slot, gpa, size). snap_machine_from() describes a live gmem;
 *   snap_machine_check() refuses a restore onto a different shape, naming the
 *   first difference.
 * - encode/decode write or read one section each and validate counts and
 *   enums (-EBADMSG, logged). Pure; the KVM calls are the save/restore pair.
 * Errors: negative errno, logged with the ioctl's name. */
#ifndef EMBER_SNAP_VM_STATE_H
#define EMBER_SNAP_VM_STATE_H

#include <linux/kvm.h>
#include <stdint.h>

#include "vmm/core/gmem.h"
#include "vmm/core/vm.h"
#include "lib/snapfile/format.h"

#define SNAP_TAG_VM	     SNAP_TAG('V', 'M', 'S', 'T')
#define SNAP_VM_VERSION	     1
#define SNAP_TAG_MACHINE     SNAP_TAG('M', 'A', 'C', 'H')
#define SNAP_MACHINE_VERSION 1
#define SNAP_MAX_REGIONS     8
#define SNAP_MAX_VCPUS	     256 /* sanity bound; the config allows fewer */

struct snap_vm_state {
	struct kvm_pic_state pic[2]; /* master, slave */
	struct kvm_ioapic_state ioapic;
	struct kvm_pit_state2 pit;
	uint64_t clock; /* kvmclock ns, KVM_GET_CLOCK */
};

struct snap_region {
	uint32_t slot;
	gpa_t gpa;
	uint64_t size;
};

struct snap_machine {
	uint32_t vcpu_count;
	uint64_t mem_size; /* bytes */
	uint32_t nregions;
	struct snap_region regions[SNAP_MAX_REGIONS];
};

int snap_vm_save(struct vm *vm, struct snap_vm_state *out);
int snap_vm_restore(struct vm *vm, const struct snap_vm_state *s);
void snap_vm_encode(struct snap_writer *w, const struct snap_vm_state *s);
int snap_vm_decode(const struct snap_section *sec, struct snap_vm_state *out);

/* Slot i is region i, as vm_set_memory() registers them. */
void snap_machine_from(const struct gmem *gm, unsigned vcpu_count, struct snap_machine *out);
int snap_machine_check(const struct snap_machine *saved, const struct snap_machine *cur);
void snap_machine_encode(struct snap_writer *w, const struct snap_machine *m);
int snap_machine_decode(const struct snap_section *sec, struct snap_machine *out);

#endif
