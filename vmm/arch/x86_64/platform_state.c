/* platform_state: the in-kernel PICs, IOAPIC, PIT and clock of an x86 VM, read from KVM and written back (see platform_state.h). */
#include "vmm/arch/x86_64/platform_state.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "lib/util/log.h"

int platform_state_save(struct vm *vm, struct platform_state *out)
{
	struct kvm_irqchip chip;
	struct kvm_clock_data clock;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	for (unsigned id = KVM_IRQCHIP_PIC_MASTER; id <= KVM_IRQCHIP_IOAPIC && ret == 0; id++) {
		memset(&chip, 0, sizeof(chip));
		chip.chip_id = id;
		ret = vm_ioctl(vm, KVM_GET_IRQCHIP, "KVM_GET_IRQCHIP", &chip);
		if (ret == 0 && id == KVM_IRQCHIP_IOAPIC)
			out->ioapic = chip.chip.ioapic;
		else if (ret == 0)
			out->pic[id] = chip.chip.pic;
	}
	if (ret == 0)
		ret = vm_ioctl(vm, KVM_GET_PIT2, "KVM_GET_PIT2", &out->pit);
	if (ret == 0) {
		memset(&clock, 0, sizeof(clock));
		ret = vm_ioctl(vm, KVM_GET_CLOCK, "KVM_GET_CLOCK", &clock);
		out->clock = clock.clock;
	}
	return ret;
}

int platform_state_restore(struct vm *vm, const struct platform_state *s)
{
	struct kvm_clock_data clock = { .clock = s->clock, .flags = 0 }; /* see vm_state.h */
	struct kvm_irqchip chip;
	int ret = 0;

	/* The PICs and IOAPIC first: their pending lines and routing decide what
	 * the PIT's output (next) and the devices raise once the VM runs. */
	for (unsigned id = KVM_IRQCHIP_PIC_MASTER; id <= KVM_IRQCHIP_IOAPIC && ret == 0; id++) {
		memset(&chip, 0, sizeof(chip));
		chip.chip_id = id;
		if (id == KVM_IRQCHIP_IOAPIC)
			chip.chip.ioapic = s->ioapic;
		else
			chip.chip.pic = s->pic[id];
		ret = vm_ioctl(vm, KVM_SET_IRQCHIP, "KVM_SET_IRQCHIP", &chip);
	}
	/* KVM_SET_PIT2 reloads each channel's count from now (count_load_time
	 * is the old host's clock and is ignored). */
	if (ret == 0)
		ret = vm_ioctl(vm, KVM_SET_PIT2, "KVM_SET_PIT2", (void *)&s->pit);
	if (ret == 0)
		ret = vm_ioctl(vm, KVM_SET_CLOCK, "KVM_SET_CLOCK", &clock);
	return ret;
}
