/* vmm: the builder that turns a vm_config into a running microVM, and its teardown.
 *
 * Contract:
 * - vmm_build() opens and checks the input files, opens KVM, creates guest
 *   memory, loads the kernel (and initrd, command line, boot parameters, MP
 *   table), creates the VM, its devices and vCPUs, and leaves everything
 *   ready to run. It returns VMM_EXIT_OK, or VMM_EXIT_CONFIG for bad input
 *   (after logging one line that says what and where), or VMM_EXIT_KVM for a
 *   KVM or host failure. On failure nothing is left allocated.
 * - vmm_run() starts one thread per vCPU and runs the event loop (console
 *   input, signals) on the calling thread until the VM stops; then it stops
 *   and joins every vCPU thread and returns the exit code (vcpu.h).
 * - vmm_destroy() closes every fd and frees all memory. Main thread only. */
#ifndef EMBER_VMM_H
#define EMBER_VMM_H

#include <stdint.h>

#include "config.h"

struct vmm;

int vmm_build(const struct vm_config *cfg, uint64_t start_ns, struct vmm **out);
int vmm_run(struct vmm *vmm);
void vmm_destroy(struct vmm *vmm);

#endif
