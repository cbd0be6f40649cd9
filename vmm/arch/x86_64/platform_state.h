/* platform_state: the VM-wide state an x86 KVM VM keeps in the kernel: both PICs, the IOAPIC, the PIT and kvmclock.
 *
 * Contract:
 * - platform_state_save() reads both PICs and the IOAPIC (KVM_GET_IRQCHIP),
 *   the PIT (KVM_GET_PIT2) and the clock (KVM_GET_CLOCK) of a VM whose vCPUs
 *   are all parked outside KVM_RUN. platform_state_restore() loads them into
 *   a fresh VM with an irqchip and a PIT (arch_vm_create_irqchip), after
 *   every vCPU is restored (cpu_state.h): the clock goes last, so the guest's
 *   kvmclock resumes from the saved value on top of the TSCs the vCPU MSRs
 *   just set.
 * - KVM_SET_CLOCK flags: 0. The guest clock continues exactly where it was
 *   paused; time spent on disk is not replayed (KVM_CLOCK_REALTIME would jump
 *   the guest's monotonic clock by hours for a template snapshot restored
 *   much later, firing every timer at once). The guest learns the wall time
 *   from the host after the restore (the RESTORE message).
 * Errors: negative errno, logged with the ioctl's name. */
#ifndef EMBER_PLATFORM_STATE_H
#define EMBER_PLATFORM_STATE_H

#include <linux/kvm.h>
#include <stdint.h>

#include "vmm/core/vm.h"

struct platform_state {
	struct kvm_pic_state pic[2]; /* master, slave */
	struct kvm_ioapic_state ioapic;
	struct kvm_pit_state2 pit;
	uint64_t clock; /* kvmclock ns, KVM_GET_CLOCK */
};

int platform_state_save(struct vm *vm, struct platform_state *out);
int platform_state_restore(struct vm *vm, const struct platform_state *s);

#endif
