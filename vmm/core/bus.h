/* bus: address ranges on the port-I/O or MMIO bus, and dispatch of guest accesses to devices.
 *
 * Contract: the builder registers ranges before any vCPU runs; afterwards the
 * bus is read-only, so lookups need no lock (devices lock their own state).
 * bus_register() refuses an empty, overflowing or overlapping range (-EINVAL,
 * -EEXIST) and more than BUS_MAX_RANGES (-ENOSPC). bus_read()/bus_write()
 * hand the device the offset inside its range; they return false when no
 * device claims the address (the caller decides what an unclaimed access
 * means). Accesses are 1..8 bytes. */
#ifndef EMBER_BUS_H
#define EMBER_BUS_H

#include <stdbool.h>
#include <stdint.h>

#define BUS_MAX_RANGES 32

struct bus_ops {
	void (*read)(void *opaque, uint64_t offset, uint8_t *data, unsigned size);
	void (*write)(void *opaque, uint64_t offset, const uint8_t *data, unsigned size);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name; /* "pio" or "mmio", for messages */
	struct bus_range ranges[BUS_MAX_RANGES];
	unsigned n;
};

void bus_init(struct bus *bus, const char *name);
int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque, const char *name);
bool bus_read(const struct bus *bus, uint64_t addr, uint8_t *data, unsigned size);
bool bus_write(const struct bus *bus, uint64_t addr, const uint8_t *data, unsigned size);

#endif
