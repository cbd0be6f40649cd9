/* bus: register device ranges and route accesses to them (see bus.h). */
#include "vmm/core/bus.h"

#include <errno.h>
#include <string.h>

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque, const char *name)
{
	if (len == 0 || base > UINT64_MAX - (len - 1) || ops == NULL)
		return -EINVAL;
	for (unsigned i = 0; i < bus->n; i++) {
		const struct bus_range *r = &bus->ranges[i];

		if (base <= r->base + (r->len - 1) && r->base <= base + (len - 1))
			return -EEXIST;
	}
	if (bus->n == BUS_MAX_RANGES)
		return -ENOSPC;
	bus->ranges[bus->n++] = (struct bus_range){
		.base = base, .len = len, .ops = ops, .opaque = opaque, .name = name
	};
	return 0;
}

/* The range holding the whole access [addr, addr+size), or NULL. */
static const struct bus_range *find(const struct bus *bus, uint64_t addr, unsigned size)
{
	if (size == 0 || size > 8 || addr > UINT64_MAX - (size - 1))
		return NULL;
	for (unsigned i = 0; i < bus->n; i++) {
		const struct bus_range *r = &bus->ranges[i];

		if (addr >= r->base && addr - r->base <= r->len - size && size <= r->len)
			return r;
	}
	return NULL;
}

bool bus_read(const struct bus *bus, uint64_t addr, uint8_t *data, unsigned size)
{
	const struct bus_range *r = find(bus, addr, size);

	if (r == NULL || r->ops->read == NULL)
		return false;
	r->ops->read(r->opaque, addr - r->base, data, size);
	return true;
}

bool bus_write(const struct bus *bus, uint64_t addr, const uint8_t *data, unsigned size)
{
	const struct bus_range *r = find(bus, addr, size);

	if (r == NULL || r->ops->write == NULL)
		return false;
	r->ops->write(r->opaque, addr - r->base, data, size);
	return true;
}
