/* snap vcpu: the VCPU section of a snapshot: one vCPU's state (cpu_state.h), encoded and validated.
 *
 * Contract: snap_vcpu_encode() appends one SNAP_TAG_VCPU section;
 * snap_vcpu_decode() reads one back and validates every count and enum
 * against cpu_state.h's limits (-EBADMSG, logged, naming the field). Pure:
 * no KVM, any thread. */
#ifndef EMBER_SNAP_VCPU_STATE_H
#define EMBER_SNAP_VCPU_STATE_H

#include "lib/snapfile/format.h"
#include "vmm/arch/x86_64/cpu_state.h"

#define SNAP_TAG_VCPU	  SNAP_TAG('V', 'C', 'P', 'U')
#define SNAP_VCPU_VERSION 1

void snap_vcpu_encode(struct snap_writer *w, const struct cpu_state *s);
int snap_vcpu_decode(const struct snap_section *sec, struct cpu_state *out);

#endif
