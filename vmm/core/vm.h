/* vm: one KVM virtual machine: its fd, platform devices in KVM, memory slots, IRQ lines, exit status.
 *
 * Contract:
 * - vm_create() makes the VM and runs arch_vm_init() (vmm/arch/arch.h).
 *   vm_set_memory() registers every gmem region as a memory slot (with
 *   KVM's dirty-page log when log_dirty, for Diff snapshots); the gmem
 *   stays owned by the caller and must outlive the VM. The builder adds the
 *   in-kernel irqchip (arch_vm_create_irqchip) before any vCPU and, for
 *   speed, after the memory: once KVM has I/O devices, each memory-slot
 *   change waits for an SRCU grace period (measured: 5-10 ms against 0.2 ms
 *   on this host).
 * - vm_irq_line() sets an IRQ line's level (ISA IRQs are edge-triggered: a
 *   0 -> 1 transition raises the interrupt). Callable from any thread.
 * - vm_request_stop() records why the VM ends; the first caller wins, later
 *   ones are ignored. It then calls the stop hook (set once, before any vCPU
 *   runs), which wakes the event loop. vm_stopping() is the flag vCPU threads
 *   poll. Thread-safe.
 * - Pausing: vm_pause_request() raises the pause gate; the caller then kicks
 *   every vCPU (vcpu_kick) and vm_pause_wait() returns once `count` vCPU
 *   threads sit parked in vm_park(), which each vCPU thread calls between
 *   exits while the gate is up. vm_resume() lowers the gate and wakes them.
 *   A stop also wakes them (vm_pause_wait then returns -ESHUTDOWN). The
 *   pause calls come from one control thread at a time.
 * Errors: negative errno, logged here. */
#ifndef EMBER_VM_H
#define EMBER_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "vmm/core/gmem.h"
#include "vmm/core/kvm.h"

struct vm {
	struct kvm *kvm;
	int fd;
	atomic_bool stopping;
	atomic_int exit_code;
	void (*stop_hook)(void *opaque);
	void *stop_opaque;
	/* The pause gate (vm_pause_request .. vm_resume). */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	atomic_bool pause_req;
	unsigned parked;
};

int vm_create(struct kvm *kvm, struct vm **out);
void vm_destroy(struct vm *vm);
int vm_set_memory(struct vm *vm, const struct gmem *gm, bool log_dirty);
/* KVM's dirty log of memory slot `slot` (gmem region `slot`), one bit per
 * page, into bitmap (gmem_dirty_words() words); KVM clears it as it reads.
 * Only for slots registered with log_dirty. */
int vm_get_dirty_log(struct vm *vm, unsigned slot, uint64_t *bitmap);
int vm_irq_line(struct vm *vm, unsigned irq, int level);
/* Interrupts and kicks without a trip through this process: KVM raises IRQ
 * `gsi` (edge) when eventfd fd is signalled, and signals fd when the guest
 * writes `datamatch` (len bytes) to MMIO address addr. */
int vm_irqfd(struct vm *vm, int fd, unsigned gsi);
int vm_ioeventfd(struct vm *vm, int fd, gpa_t addr, unsigned len, uint64_t datamatch);
/* One VM ioctl, its failure logged with `name`: for vmm/arch, which drives the
 * architecture's VM-wide KVM state. */
int vm_ioctl(struct vm *vm, unsigned long req, const char *name, void *arg);

void vm_set_stop_hook(struct vm *vm, void (*hook)(void *opaque), void *opaque);
void vm_request_stop(struct vm *vm, int exit_code);
bool vm_stopping(const struct vm *vm);

void vm_pause_request(struct vm *vm);
int vm_pause_wait(struct vm *vm, unsigned count);
void vm_resume(struct vm *vm);
/* vCPU threads: wait here while the pause gate is up. */
void vm_park(struct vm *vm);

#endif
