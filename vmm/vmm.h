/* vmm: the builder that turns a vm_config into a running microVM, and its teardown.
 *
 * Contract:
 * - vmm_build() opens and checks the input files, opens KVM, creates guest
 *   memory, loads the kernel (and initrd, command line, boot parameters, MP
 *   table), creates the VM, its devices and vCPUs, and leaves everything
 *   ready to run. Devices are attached explicitly here: serial, i8042, the
 *   boot timer, then the virtio-mmio devices in slot order (each drive, in
 *   --drive order, then the entropy device, then vsock), slot i at
 *   LAYOUT_VIRTIO_MMIO_BASE + i * LAYOUT_VIRTIO_MMIO_SIZE with IRQ
 *   LAYOUT_VIRTIO_IRQ_BASE + i, announced with virtio_mmio.device= on the
 *   guest command line. Kicks reach the event loop through KVM_IOEVENTFD
 *   (QueueNotify, datamatch = queue index); interrupts go out through
 *   KVM_IRQFD, edge-triggered as the MP table declares ISA IRQs. A drive
 *   file that cannot be opened is bad input (VMM_EXIT_CONFIG), and so is a
 *   --vsock socket path that is in use or cannot be bound. It returns VMM_EXIT_OK, or VMM_EXIT_CONFIG for bad input
 *   (after logging one line that says what and where), or VMM_EXIT_KVM for a
 *   KVM or host failure. On failure nothing is left allocated.
 * - vmm_run() starts one thread per vCPU and runs the event loop (console
 *   input, signals, virtio queues and their file I/O) on the calling thread until the VM stops; then it stops
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
