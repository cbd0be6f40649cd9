/* kvm: the /dev/kvm system handle, its API version, capabilities, and what the architecture reads once (arch.h).
 *
 * Contract: kvm_open() opens /dev/kvm, requires API version 12 and every
 * capability ember-vmm relies on (a missing one fails with its name in the
 * log and -ENOTSUP), and reads the vCPU mmap size, the vCPU limit and
 * the architecture's data (arch_kvm_init) once. The struct is read-only afterwards and may be
 * shared by all threads. kvm_close() releases it. Errors are logged here. */
#ifndef EMBER_KVM_H
#define EMBER_KVM_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#define KVM_DEVICE_PATH "/dev/kvm"

struct kvm {
	int fd;
	size_t run_size; /* bytes of each vCPU's struct kvm_run mapping */
	unsigned max_vcpus;
	struct arch_kvm *arch; /* what the architecture read once (vmm/arch/arch.h) */
};

int kvm_open(struct kvm **out);
void kvm_close(struct kvm *kvm);

/* Reads the counters `names[i]` of a VM or vCPU (KVM_GET_STATS_FD on `fd`)
 * into vals[i]; a counter KVM does not have reads as 0. For diagnostics:
 * returns -errno if the kernel has no binary stats. */
int kvm_stats_get(int fd, const char *const *names, unsigned n, uint64_t *vals);

#endif
