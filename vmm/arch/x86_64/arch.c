/* arch x86_64: what vmm/core asks of the architecture, for x86 (see vmm/arch/arch.h). */
#include "vmm/arch/arch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "lib/util/log.h"
#include "vmm/arch/x86_64/cpu.h"
#include "vmm/arch/x86_64/cpuid.h"
#include "vmm/arch/x86_64/layout.h"
#include "vmm/core/kvm.h"
#include "vmm/core/vcpu.h"
#include "vmm/core/vm.h"

/* What kvm->arch holds on x86: KVM's supported CPUID, unfiltered. */
struct arch_kvm {
	struct kvm_cpuid2 *cpuid;
};

int arch_kvm_init(struct kvm *kvm)
{
	size_t size =
		sizeof(struct kvm_cpuid2) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct arch_kvm *a = calloc(1, sizeof(*a));
	struct kvm_cpuid2 *c = calloc(1, size);
	int ret;

	if (a == NULL || c == NULL) {
		ret = -ENOMEM;
		goto err;
	}
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm->fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		ret = -errno;
		log_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		goto err;
	}
	a->cpuid = c;
	kvm->arch = a;
	return 0;
err:
	free(c);
	free(a);
	return ret;
}

void arch_kvm_free(struct kvm *kvm)
{
	if (kvm->arch != NULL)
		free(kvm->arch->cpuid);
	free(kvm->arch);
	kvm->arch = NULL;
}

unsigned arch_phys_bits(const struct kvm *kvm)
{
	const struct kvm_cpuid2 *c = kvm->arch->cpuid;

	for (uint32_t i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 0x80000008 && (e->eax & 0xff) != 0)
			return e->eax & 0xff;
	}
	return 36; /* the architectural minimum with PAE */
}

int arch_vm_init(struct vm *vm)
{
	uint64_t identity = LAYOUT_KVM_IDENTITY_MAP;
	int ret;

	/* The TSS and identity map sit in the MMIO gap, never in RAM (Intel only,
	 * harmless elsewhere); both must be set before the first vCPU. */
	ret = vm_ioctl(vm, KVM_SET_TSS_ADDR, "KVM_SET_TSS_ADDR", (void *)(uintptr_t)LAYOUT_KVM_TSS);
	if (ret == 0)
		ret = vm_ioctl(vm, KVM_SET_IDENTITY_MAP_ADDR, "KVM_SET_IDENTITY_MAP_ADDR",
			       &identity);
	return ret;
}

int arch_vm_create_irqchip(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int ret;

	ret = vm_ioctl(vm, KVM_CREATE_IRQCHIP, "KVM_CREATE_IRQCHIP", NULL);
	if (ret == 0)
		ret = vm_ioctl(vm, KVM_CREATE_PIT2, "KVM_CREATE_PIT2", &pit);
	return ret;
}

int arch_vcpu_init(struct vcpu *vcpu, unsigned count)
{
	const struct kvm_cpuid2 *sup = vcpu->vm->kvm->arch->cpuid;
	size_t size = sizeof(*sup) + sup->nent * sizeof(sup->entries[0]);
	struct kvm_cpuid2 *c = malloc(size);
	int ret;

	if (c == NULL)
		return -ENOMEM;
	memcpy(c, sup, size);
	ret = cpuid_filter(c->entries, c->nent, vcpu->index, count);
	if (ret == 0)
		ret = vcpu_ioctl(vcpu, KVM_SET_CPUID2, "KVM_SET_CPUID2", c);
	free(c);
	if (ret == 0)
		ret = cpu_setup_vcpu(vcpu->fd);
	return ret;
}
