/* snap state: the whole VMM state file (config, machine, VM, every vCPU) in one struct, and its codec.
 *
 * Contract:
 * - Sections in the file, in this order: CONF, MACH, VMST, then one VCPU per
 *   vCPU in index order, then device sections (dev.h; written and read by
 *   the devices' own hooks, not here).
 * - snap_state_decode() parses every known section of an already parsed
 *   file: exactly one CONF, MACH and VMST, exactly machine.vcpu_count VCPU
 *   sections with indices 0..n-1 in order, vcpu_count equal in CONF and MACH,
 *   and no tag outside the known list (state tags plus the device tags of
 *   dev.h). It allocates out->vcpus; snap_state_free() releases it.
 * - snap_state_save() reads everything from a paused VM (every vCPU parked,
 *   see vcpu_state.h); snap_state_restore() loads it into a fresh VM built
 *   from the same config (memory registered, irqchip created, vCPUs created
 *   and never run): it first refuses a config or machine mismatch, then
 *   restores each vCPU in index order, then the VM-wide state (vm_state.h).
 *   Call both from one control thread.
 * - snap_state_write() encodes and writes the file atomically;
 *   snap_state_read() loads (size cap first), parses and decodes it.
 * Errors: negative errno, every failure logged once. */
#ifndef EMBER_SNAP_STATE_H
#define EMBER_SNAP_STATE_H

#include "lib/fcapi/config.h"
#include "vmm/core/gmem.h"
#include "vmm/core/vcpu.h"
#include "vmm/snapshot/config_state.h"
#include "lib/snapfile/format.h"
#include "vmm/snapshot/vcpu_state.h"
#include "vmm/snapshot/vm_state.h"

struct snap_state {
	struct snap_config config;
	struct snap_machine machine;
	struct platform_state vm;
	unsigned nvcpus;
	struct cpu_state *vcpus; /* nvcpus entries, malloc'd */
};

int snap_state_save(struct vm *vm, struct vcpu *const *vcpus, unsigned n, const struct gmem *gm,
		    const struct vm_config *cfg, struct snap_state *out);
int snap_state_restore(struct vm *vm, struct vcpu *const *vcpus, unsigned n, const struct gmem *gm,
		       const struct vm_config *cfg, const struct snap_state *s);
void snap_state_free(struct snap_state *s);

/* Appends every state section (not the header or CRC: see snap_w_init/finish). */
void snap_state_encode(struct snap_writer *w, const struct snap_state *s);
int snap_state_decode(const struct snap_file *f, struct snap_state *out);

int snap_state_write(const struct snap_state *s, const char *path);
int snap_state_read(const char *path, struct snap_state *out);

#endif
