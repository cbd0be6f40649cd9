/* boot_timer: the port ember-init writes once it runs; logs the boot time.
 *
 * Contract: a one-byte port (lib/util/boot_timer.h has its number and value).
 * Writing BOOT_TIMER_VALUE logs "guest booted in N us", N measured from
 * start_ns (CLOCK_MONOTONIC at ember-vmm's start), and records it in
 * boot_us (the first time only; later writes are logged, rate-limited).
 * Other values and reads (0xff) are ignored. Thread-safe. */
#ifndef EMBER_BOOT_TIMER_DEV_H
#define EMBER_BOOT_TIMER_DEV_H

#include <stdatomic.h>
#include <stdint.h>

#include "vmm/core/bus.h"

struct boot_timer {
	uint64_t start_ns;
	atomic_uint_fast64_t boot_us; /* 0 until the guest reports */
};

extern const struct bus_ops boot_timer_ops;

void boot_timer_init(struct boot_timer *bt, uint64_t start_ns);
uint64_t boot_timer_now_ns(void);

#endif
