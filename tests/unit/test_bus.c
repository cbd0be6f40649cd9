/* Unit tests for vmm/core/bus.c: registration rules and dispatch. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/core/bus.h"

struct dev {
	uint64_t last_off;
	unsigned last_size;
	uint8_t last_val;
	int reads, writes;
};

static void dev_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	struct dev *d = opaque;

	d->reads++;
	d->last_off = off;
	d->last_size = size;
	memset(data, 0x5a, size);
}

static void dev_write(void *opaque, uint64_t off, const uint8_t *data, unsigned size)
{
	struct dev *d = opaque;

	d->writes++;
	d->last_off = off;
	d->last_size = size;
	d->last_val = data[0];
}

static const struct bus_ops ops = { .read = dev_read, .write = dev_write };

static void test_register(void **state)
{
	struct bus bus;
	struct dev a = { 0 };

	(void)state;
	bus_init(&bus, "pio");
	assert_int_equal(bus_register(&bus, 0x3f8, 8, &ops, &a, "serial"), 0);
	assert_int_equal(bus_register(&bus, 0x3f8, 1, &ops, &a, "dup"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x3f0, 9, &ops, &a, "overlap-low"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x3ff, 1, &ops, &a, "overlap-high"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x400, 1, &ops, &a, "adjacent"), 0);
	assert_int_equal(bus_register(&bus, 0x3f0, 8, &ops, &a, "adjacent-low"), 0);
	assert_int_equal(bus_register(&bus, 0x10, 0, &ops, &a, "empty"), -EINVAL);
	assert_int_equal(bus_register(&bus, UINT64_MAX, 2, &ops, &a, "wrap"), -EINVAL);
	assert_int_equal(bus_register(&bus, UINT64_MAX, 1, &ops, &a, "last byte"), 0);
	for (unsigned i = bus.n; i < BUS_MAX_RANGES; i++)
		assert_int_equal(bus_register(&bus, 0x1000 + i, 1, &ops, &a, "fill"), 0);
	assert_int_equal(bus_register(&bus, 0x9000, 1, &ops, &a, "full"), -ENOSPC);
}

static void test_dispatch(void **state)
{
	struct bus bus;
	struct dev a = { 0 }, b = { 0 };
	uint8_t v[8] = { 0x42 };

	(void)state;
	bus_init(&bus, "mmio");
	assert_int_equal(bus_register(&bus, 0xd0000000, 0x1000, &ops, &a, "a"), 0);
	assert_int_equal(bus_register(&bus, 0xd0001000, 0x1000, &ops, &b, "b"), 0);
	assert_true(bus_write(&bus, 0xd0001004, v, 4));
	assert_int_equal(b.writes, 1);
	assert_int_equal(b.last_off, 4);
	assert_int_equal(b.last_size, 4);
	assert_int_equal(b.last_val, 0x42);
	assert_true(bus_read(&bus, 0xd0000ff8, v, 8));
	assert_int_equal(a.last_off, 0xff8);
	assert_int_equal(v[7], 0x5a);
	/* An access that runs past the end of its range is nobody's. */
	assert_false(bus_read(&bus, 0xd0001ffe, v, 4));
	assert_false(bus_read(&bus, 0xcfffffff, v, 1));
	assert_false(bus_write(&bus, 0xd0002000, v, 1));
	assert_false(bus_read(&bus, 0xd0000000, v, 0));
	assert_false(bus_read(&bus, 0xd0000000, v, 9));
	assert_false(bus_read(&bus, UINT64_MAX, v, 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register),
		cmocka_unit_test(test_dispatch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
