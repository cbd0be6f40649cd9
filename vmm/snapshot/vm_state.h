/* snap vm: the VMST section (the platform state, platform_state.h) and the MACH section (the machine shape a restore must match).
 *
 * Contract:
 * - struct snap_machine: vCPU count, memory size and every memory region as
 *   (slot, gpa, size). snap_machine_from() describes a live gmem;
 *   snap_machine_check() refuses a restore onto a different shape, naming the
 *   first difference.
 * - encode/decode write or read one section each and validate counts and
 *   enums (-EBADMSG, logged). Pure: no KVM, any thread. */
#ifndef EMBER_SNAP_VM_STATE_H
#define EMBER_SNAP_VM_STATE_H

#include <stdint.h>

#include "vmm/core/gmem.h"
#include "vmm/arch/x86_64/platform_state.h"
#include "lib/snapfile/format.h"

#define SNAP_TAG_VM	     SNAP_TAG('V', 'M', 'S', 'T')
#define SNAP_VM_VERSION	     1
#define SNAP_TAG_MACHINE     SNAP_TAG('M', 'A', 'C', 'H')
#define SNAP_MACHINE_VERSION 1
#define SNAP_MAX_REGIONS     8
#define SNAP_MAX_VCPUS	     256 /* sanity bound; the config allows fewer */

struct snap_region {
	uint32_t slot;
	gpa_t gpa;
	uint64_t size;
};

struct snap_machine {
	uint32_t vcpu_count;
	uint64_t mem_size; /* bytes */
	uint32_t nregions;
	struct snap_region regions[SNAP_MAX_REGIONS];
};

void snap_vm_encode(struct snap_writer *w, const struct platform_state *s);
int snap_vm_decode(const struct snap_section *sec, struct platform_state *out);

/* Slot i is region i, as vm_set_memory() registers them. */
void snap_machine_from(const struct gmem *gm, unsigned vcpu_count, struct snap_machine *out);
int snap_machine_check(const struct snap_machine *saved, const struct snap_machine *cur);
void snap_machine_encode(struct snap_writer *w, const struct snap_machine *m);
int snap_machine_decode(const struct snap_section *sec, struct snap_machine *out);

#endif
