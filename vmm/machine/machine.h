/* machine: the builder that turns a vm_config into a running microVM, and its teardown.
 *
 * Contract:
 * - machine_build() opens and checks the input files, opens KVM, creates guest
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
 * - machine_run() starts one thread per vCPU and runs the event loop (console
 *   input, signals, virtio queues and their file I/O) on the calling thread until the VM stops; then it stops
 *   and joins every vCPU thread and returns the exit code (vcpu.h).
 * - machine_destroy() closes every fd and frees all memory. Main thread only.
 * - While machine_run() runs, its event loop (machine_loop) may get more handlers,
 *   and those handlers (on the loop thread) may call machine_pause() (returns
 *   once every vCPU is parked outside KVM_RUN; -ESHUTDOWN if the VM stops
 *   meanwhile), machine_resume(), machine_ctrl_alt_del() (the i8042 key sequence),
 *   machine_replace_drive() and machine_get_stats(). */
#ifndef EMBER_VMM_H
#define EMBER_VMM_H

#include <stdint.h>

#include "lib/fcapi/config.h"
#include "lib/fcapi/schema.h"
#include "vmm/core/evloop.h"
#include "vmm/core/vcpu.h"
#include "vmm/stats.h"

struct machine;

int machine_build(const struct vm_config *cfg, uint64_t start_ns, struct machine **out);
int machine_run(struct machine *vmm);
void machine_destroy(struct machine *vmm);

/* Snapshots (machine_snapshot.c). machine_snapshot_create() writes the state file
 * and a Full memory file of a paused VM (atomically: temp file, rename);
 * loop thread. machine_restore_open() reads and checks a state file and fills
 * cfg from the configuration it was taken under; machine_build_with() then
 * builds that VM with the snapshot's memory (mem_path mapped MAP_PRIVATE:
 * pages load lazily from the page cache and stay shared by every clone;
 * writes are private; or, if uffd, anonymous memory whose pages the
 * page-fault handler listening on mem_path fills: core/gmem_uffd.h) and
 * state, instead of booting a kernel. The state file never chooses host
 * files on its own word (vmm/snapshot/paths.h): each drive and the vsock
 * socket is the override the caller gave (ov, may be NULL), or a relative
 * path that stays inside the working directory, which must not be "/";
 * anything else is refused naming the field to override. The vCPUs start parked if
 * machine_run_paused() is called before machine_run(). */
struct machine_restore;
int machine_snapshot_create(struct machine *vmm, const char *state_path, const char *mem_path,
			    bool diff, char *err, size_t errlen);
int machine_restore_open(const char *state_path, const char *mem_path, bool uffd,
			 const struct schema_load_overrides *ov, struct vm_config *cfg,
			 struct machine_restore **out, char *err, size_t errlen);
void machine_restore_free(struct machine_restore *rs);
int machine_build_with(const struct vm_config *cfg, uint64_t start_ns,
		       const struct machine_restore *rs, struct machine **out);
void machine_run_paused(struct machine *vmm);

struct evloop *machine_loop(struct machine *vmm);
int machine_pause(struct machine *vmm);
void machine_resume(struct machine *vmm);
int machine_ctrl_alt_del(struct machine *vmm);
/* PATCH /drives: drive `index` (config order) now reads and writes path. */
int machine_replace_drive(struct machine *vmm, unsigned index, const char *path, char *err,
			  size_t errlen);
void machine_get_stats(struct machine *vmm, struct machine_stats *out);

#endif
