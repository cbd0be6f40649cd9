/* arch: the one interface through which vmm/core reaches the architecture.
 *
 * vmm/core (KVM, VM, vCPU, guest memory, buses, event loop) is
 * architecture-neutral; whatever differs between architectures, it asks for
 * here. vmm/arch/x86_64/arch.c implements it for x86_64; an aarch64 port
 * implements the same functions a second time (vGIC for the irqchip, its
 * vCPU init with KVM_ARM_VCPU_INIT, a device tree instead of boot params).
 * The builder (vmm/machine) also calls the architecture's boot loaders and
 * layout directly: it assembles one machine of one architecture.
 *
 * Contract (all called from the builder's thread, in this order):
 * - arch_kvm_init() right after /dev/kvm is open: reads what the
 *   architecture needs once per process (x86: the supported CPUID table) into
 *   kvm->arch; arch_kvm_free() releases it. arch_phys_bits() then says how
 *   many guest-physical address bits a vCPU supports.
 * - arch_vm_init() right after KVM_CREATE_VM, before memory and vCPUs (x86:
 *   the TSS and identity-map addresses Intel's KVM needs).
 * - arch_vm_create_irqchip() after the memory slots, before the first vCPU:
 *   the in-kernel interrupt controllers and timers (x86: PIC, IOAPIC, LAPIC
 *   and PIT).
 * - arch_vcpu_init() for each new vCPU: its identity and reset state (x86:
 *   CPUID filtered for vCPU `index` of `count`, boot MSRs, FPU, LAPIC).
 * Errors: negative errno, logged with the failing ioctl's name. */
#ifndef EMBER_ARCH_H
#define EMBER_ARCH_H

struct kvm;
struct vm;
struct vcpu;

int arch_kvm_init(struct kvm *kvm);
void arch_kvm_free(struct kvm *kvm);
unsigned arch_phys_bits(const struct kvm *kvm);
int arch_vm_init(struct vm *vm);
int arch_vm_create_irqchip(struct vm *vm);
int arch_vcpu_init(struct vcpu *vcpu, unsigned count);

#endif
