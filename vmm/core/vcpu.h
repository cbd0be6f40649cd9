/* vcpu: one KVM vCPU, its thread, its KVM_RUN loop and the handling of each exit.
 *
 * Contract:
 * - vcpu_create() makes vCPU `index`, maps its kvm_run area and lets the
 *   architecture set its identity and reset state (arch_vcpu_init). The
 *   caller then sets the boot vCPU's entry state (the arch's loader).
 * - vcpu_start() runs the loop on a new thread: port I/O and MMIO exits go to
 *   the buses (unclaimed reads return all ones, unclaimed writes are dropped,
 *   both logged at debug level, rate-limited). The loop ends when the VM
 *   stops. Exits that end the VM call vm_request_stop() with:
 *   triple fault or guest-reported crash -> VMM_EXIT_GUEST_CRASH; guest
 *   shutdown/reset event -> VMM_EXIT_OK; guest memory KVM cannot fault in
 *   (KVM_RUN fails with EFAULT: its file shrank under the VM) ->
 *   VMM_EXIT_GUEST_MEMORY; any other KVM failure -> VMM_EXIT_KVM.
 * - vcpu_kick() (any thread) makes a running or about-to-run KVM_RUN return,
 *   using immediate_exit and a signal, so no wake-up is lost.
 * - vcpu_join() waits for the thread; vcpu_destroy() unmaps and closes.
 * vcpu_init_signals() must run once, before any vCPU thread starts. */
#ifndef EMBER_VCPU_H
#define EMBER_VCPU_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/core/bus.h"
#include "vmm/core/vm.h"
#include "vmm/stats.h"

/* Exit codes of ember-vmm (also in --help). */
enum vmm_exit {
	VMM_EXIT_OK = 0,	    /* guest powered off or rebooted */
	VMM_EXIT_CONFIG = 1,	    /* bad command line, config or input file */
	VMM_EXIT_GUEST_CRASH = 2,   /* triple fault or guest-reported crash */
	VMM_EXIT_KVM = 3,	    /* KVM or host failure */
	VMM_EXIT_GUEST_MEMORY = 4,  /* guest memory lost: its backing file shrank */
	VMM_EXIT_SIGNAL_BASE = 128, /* + signal number: stopped by SIGINT/SIGTERM/SIGHUP */
};

struct vcpu {
	unsigned index;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	struct vm *vm;
	const struct bus *pio;
	const struct bus *mmio;
	pthread_t thread;
	bool started;
	struct vcpu_stats stats;
};

int vcpu_init_signals(void);
/* One vCPU ioctl, its failure logged with `name` and the vCPU's index: for
 * vmm/arch, which reads and writes the architecture's vCPU state. */
int vcpu_ioctl(const struct vcpu *vcpu, unsigned long req, const char *name, void *arg);
int vcpu_create(struct vm *vm, unsigned index, unsigned count, const struct bus *pio,
		const struct bus *mmio, struct vcpu **out);
int vcpu_start(struct vcpu *vcpu);
void vcpu_kick(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);

#endif
