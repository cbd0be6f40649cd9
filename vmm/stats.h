/* stats: the counters ember-vmm reports, as plain structs.
 *
 * Each part counts into its own struct (a vCPU thread into vcpu_stats, a
 * drive into vblk_stats, the vsock device into vsock_stats); the machine sums
 * them into machine_stats on the loop thread, and the metrics and API layers
 * read only that. So reporting compiles against numbers, never against the
 * parts' internals. */
#ifndef EMBER_STATS_H
#define EMBER_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/fcapi/config.h"

/* Written by the vCPU's thread only; read with __atomic_load_n (relaxed). */
struct vcpu_stats {
	uint64_t exits, io_exits, mmio_exits, intr_exits, unclaimed;
};

/* Successful requests of one drive; under the drive's lock. */
struct vblk_stats {
	uint64_t read_ops, read_bytes, write_ops, write_bytes, flush_ops;
};

/* vsock connections set up, payload bytes each way. */
struct vsock_stats {
	uint64_t conns, host_to_guest_bytes, guest_to_host_bytes;
};

/* Totals since the start. */
struct machine_stats {
	uint64_t boot_us;	/* 0 until ember-init writes the boot timer */
	struct vcpu_stats vcpu; /* summed over vCPUs */
	unsigned ndrives;
	struct {
		char id[CONFIG_DRIVE_ID_LEN];
		struct vblk_stats s;
	} drives[CONFIG_MAX_DRIVES];
	bool vsock_enabled;
	struct vsock_stats vsock;
};

#endif
