/* Unit tests for vmm/devices/virtio/mmio.c: registers, status table, queue setup, garbage. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/devices/virtio/mmio.h"
#include "lib/util/log.h"
#include "tests/unit/virtq_driver.h"

#define MIB	  (1ull << 20)
#define GIB	  (1ull << 30)
#define QMAX	  16
#define NQ	  2
#define CFG_SIZE  8
#define DEV_F0	  VIRTIO_BIT(0)
#define DEV_F40	  VIRTIO_BIT(40)
#define ACK	  VIRTIO_STATUS_ACKNOWLEDGE
#define DRV	  VIRTIO_STATUS_DRIVER
#define FEAT	  VIRTIO_STATUS_FEATURES_OK
#define DOK	  VIRTIO_STATUS_DRIVER_OK
#define FAILED	  VIRTIO_STATUS_FAILED
#define NEEDS_RST VIRTIO_STATUS_DEVICE_NEEDS_RESET
#define WANT	  (VIRTIO_BIT(VIRTIO_F_VERSION_1) | DEV_F0)

struct mockdev {
	struct vdev vdev;
	uint8_t config[CFG_SIZE];
	int activated, resets, notified, last_notify, irqs;
	int activate_ret;
	uint64_t features;
};

struct fx {
	struct gmem *gm;
	struct mockdev dev;
	struct vmmio t;
	struct vqd d[NQ];
};

static void cfg_read(struct vdev *d, uint32_t off, uint8_t *data, unsigned size)
{
	memcpy(data, vdev_of(d, struct mockdev)->config + off, size);
}

static void cfg_write(struct vdev *d, uint32_t off, const uint8_t *data, unsigned size)
{
	memcpy(vdev_of(d, struct mockdev)->config + off, data, size);
}

static int activate(struct vdev *d, struct vq *queues, uint64_t features)
{
	struct mockdev *m = vdev_of(d, struct mockdev);

	(void)queues;
	m->activated++;
	m->features = features;
	return m->activate_ret;
}

static void notify(struct vdev *d, unsigned q)
{
	vdev_of(d, struct mockdev)->notified++;
	vdev_of(d, struct mockdev)->last_notify = (int)q;
}

static void dev_reset(struct vdev *d)
{
	vdev_of(d, struct mockdev)->resets++;
}

static void raise_irq(void *opaque)
{
	((struct mockdev *)opaque)->irqs++;
}

static const struct vdev_ops mock_ops = {
	.name = "mock",
	.device_id = VIRTIO_ID_ENTROPY,
	.num_queues = NQ,
	.max_queue_size = QMAX,
	.features = DEV_F0 | DEV_F40,
	.config_size = CFG_SIZE,
	.config_read = cfg_read,
	.config_write = cfg_write,
	.activate = activate,
	.notify = notify,
	.reset = dev_reset,
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || gmem_create(1 * MIB, 3 * GIB, 4 * GIB, &f->gm) < 0)
		return -1;
	for (unsigned q = 0; q < NQ; q++)
		vqd_init(&f->d[q], f->gm, QMAX, 0x1000 + 0x1000 * q);
	memcpy(f->dev.config, "cfgbytes", CFG_SIZE);
	f->dev.vdev.ops = &mock_ops;
	if (vmmio_init(&f->t, &f->dev.vdev, f->gm,
		       (struct vmmio_irq){ .raise = raise_irq, .opaque = &f->dev }) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vmmio_destroy(&f->t);
	gmem_destroy(f->gm);
	free(f);
	return 0;
}

static void wr(struct fx *f, uint64_t off, uint32_t v)
{
	vmmio_write(&f->t, off, (const uint8_t *)&v, 4);
}

static uint32_t rd(struct fx *f, uint64_t off)
{
	uint32_t v;

	vmmio_read(&f->t, off, (uint8_t *)&v, 4);
	return v;
}

static void features(struct fx *f, uint64_t want)
{
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)want);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(want >> 32));
}

/* The driver's side of 3.1.1 up to FEATURES_OK. */
static void to_features_ok(struct fx *f, uint64_t want)
{
	wr(f, VIRTIO_MMIO_STATUS, ACK);
	wr(f, VIRTIO_MMIO_STATUS, ACK | DRV);
	features(f, want);
	wr(f, VIRTIO_MMIO_STATUS, ACK | DRV | FEAT);
}

static void setup_queue(struct fx *f, unsigned q, uint32_t num)
{
	const struct vqd *d = &f->d[q];

	wr(f, VIRTIO_MMIO_QUEUE_SEL, q);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, num);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)d->desc);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(d->desc >> 32));
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)d->avail);
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(d->avail >> 32));
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)d->used);
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(d->used >> 32));
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
}

static void full_init(struct fx *f)
{
	to_features_ok(f, WANT | VQ_FEATURES);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), ACK | DRV | FEAT);
	for (unsigned q = 0; q < NQ; q++)
		setup_queue(f, q, QMAX);
	wr(f, VIRTIO_MMIO_STATUS, ACK | DRV | FEAT | DOK);
}

static void test_identity(void **state)
{
	struct fx *f = *state;

	assert_int_equal(rd(f, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(f, VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_ENTROPY);
	assert_int_equal(rd(f, VIRTIO_MMIO_VENDOR_ID), VMMIO_VENDOR_ID);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), (uint32_t)(DEV_F0 | VQ_FEATURES));
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), (1u << 0) | (1u << 8));
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), QMAX);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), 0);
	vmmio_config_changed(&f->t);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	/* Write-only and reserved registers read 0. */
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NOTIFY), 0);
	assert_int_equal(rd(f, 0x0c0), 0);
}

static void test_status_happy_path(void **state)
{
	struct fx *f = *state;

	full_init(f);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), ACK | DRV | FEAT | DOK);
	assert_int_equal(f->dev.activated, 1);
	assert_int_equal(f->dev.features, WANT | VQ_FEATURES);
	assert_true(f->t.queues[0].active);
	assert_true(f->t.queues[1].active);
	/* Rewriting the same status is harmless and activates nothing twice. */
	wr(f, VIRTIO_MMIO_STATUS, ACK | DRV | FEAT | DOK);
	assert_int_equal(f->dev.activated, 1);
	/* Kicks reach the device only for existing queues. */
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	assert_int_equal(f->dev.notified, 1);
	assert_int_equal(f->dev.last_notify, 1);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, NQ);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0xffffffff);
	assert_int_equal(f->dev.notified, 1);
}

/* Walks the first n steps of path, then checks that writing `bad` changes nothing. */
static void expect_refused(struct fx *f, const uint32_t path[], unsigned n, uint32_t bad)
{
	uint32_t before;

	wr(f, VIRTIO_MMIO_STATUS, 0);
	for (unsigned i = 0; i < n; i++)
		wr(f, VIRTIO_MMIO_STATUS, path[i]);
	before = rd(f, VIRTIO_MMIO_STATUS);
	wr(f, VIRTIO_MMIO_STATUS, bad);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), before);
}

static void test_status_refused(void **state)
{
	struct fx *f = *state;
	static const uint32_t path[] = { ACK, ACK | DRV };

	expect_refused(f, path, 0, DRV);	      /* skips ACKNOWLEDGE */
	expect_refused(f, path, 0, ACK | DRV);	      /* two steps at once */
	expect_refused(f, path, 0, DOK);	      /* straight to DRIVER_OK */
	expect_refused(f, path, 1, ACK | FEAT);	      /* skips DRIVER */
	expect_refused(f, path, 2, ACK | DRV | DOK);  /* DRIVER_OK without FEATURES_OK */
	expect_refused(f, path, 2, ACK);	      /* clearing a bit */
	expect_refused(f, path, 2, 0x30 | ACK | DRV); /* reserved bits */
	/* FAILED from anywhere; after it only reset. */
	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, ACK);
	wr(f, VIRTIO_MMIO_STATUS, ACK | FAILED);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), ACK | FAILED);
	wr(f, VIRTIO_MMIO_STATUS, ACK | DRV | FAILED);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), ACK | FAILED);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	wr(f, VIRTIO_MMIO_STATUS, FAILED);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), FAILED);
	assert_int_equal(f->dev.activated, 0);
}

static void test_features_refused(void **state)
{
	struct fx *f = *state;

	to_features_ok(f, WANT | VIRTIO_BIT(5)); /* not offered */
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), ACK | DRV);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	to_features_ok(f, DEV_F0); /* legacy driver: no VERSION_1 */
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), ACK | DRV);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, ACK);
	wr(f, VIRTIO_MMIO_STATUS, ACK | DRV);
	features(f, WANT);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2); /* a bit beyond 64 */
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(f, VIRTIO_MMIO_STATUS, ACK | DRV | FEAT);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), ACK | DRV);
	/* Accepted set; afterwards DriverFeatures no longer changes. */
	wr(f, VIRTIO_MMIO_STATUS, 0);
	to_features_ok(f, WANT | DEV_F40);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), ACK | DRV | FEAT);
	features(f, WANT | VIRTIO_BIT(5));
	assert_int_equal(f->t.driver_features, WANT | DEV_F40);
	/* Features written before DRIVER are ignored too. */
	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, ACK);
	features(f, WANT);
	assert_int_equal(f->t.driver_features, 0);
}

static void test_queue_sel_bounds(void **state)
{
	struct fx *f = *state;
	static const uint32_t sels[] = { NQ, VMMIO_MAX_QUEUES, 0x10000, 0xffffffff };

	to_features_ok(f, WANT);
	for (size_t i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
		wr(f, VIRTIO_MMIO_QUEUE_SEL, sels[i]);
		assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
		wr(f, VIRTIO_MMIO_QUEUE_NUM, 8);
		wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
		wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
		assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	}
	for (unsigned q = 0; q < VMMIO_MAX_QUEUES; q++) {
		assert_int_equal(f->t.queues[q].size, 0);
		assert_false(f->t.ready[q]);
	}
	/* No queue set up is not an error: the device starts with none active. */
	wr(f, VIRTIO_MMIO_STATUS, ACK | DRV | FEAT | DOK);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), ACK | DRV | FEAT | DOK);
	assert_false(f->t.queues[0].active);
}

static void test_queue_regs_state(void **state)
{
	struct fx *f = *state;

	/* Before FEATURES_OK: refused. */
	wr(f, VIRTIO_MMIO_STATUS, ACK);
	wr(f, VIRTIO_MMIO_STATUS, ACK | DRV);
	setup_queue(f, 0, 8);
	assert_int_equal(f->t.queues[0].size, 0);
	assert_int_equal(f->t.queues[0].desc_gpa, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	/* During setup: accepted; once ready, the layout is frozen. */
	features(f, WANT);
	wr(f, VIRTIO_MMIO_STATUS, ACK | DRV | FEAT);
	setup_queue(f, 0, 8);
	assert_int_equal(f->t.queues[0].size, 8);
	assert_int_equal(f->t.queues[0].desc_gpa, f->d[0].desc);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 4);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x8000);
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 1);
	assert_int_equal(f->t.queues[0].size, 8);
	assert_int_equal(f->t.queues[0].desc_gpa, f->d[0].desc);
	assert_int_equal(f->t.queues[0].used_gpa, f->d[0].used);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 2); /* only 0 or 1 */
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 4);
	assert_int_equal(f->t.queues[0].size, 4);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 0x10000); /* does not fit 16 bits */
	assert_int_equal(f->t.queues[0].size, 4);
	/* After DRIVER_OK: refused. */
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	wr(f, VIRTIO_MMIO_STATUS, ACK | DRV | FEAT | DOK);
	assert_true(f->t.queues[0].active);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
	assert_int_equal(f->t.queues[0].size, 4);
}

static void expect_needs_reset(struct fx *f)
{
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & NEEDS_RST);
	assert_true(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	assert_true(f->dev.irqs >= 1);
	for (unsigned q = 0; q < NQ; q++)
		assert_int_equal(vq_pop(&f->t.queues[q], &(struct vq_chain){ 0 }), -EIO);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(f->dev.notified, 0);
}

static void test_activation_bad_queue(void **state)
{
	struct fx *f = *state;

	to_features_ok(f, WANT);
	setup_queue(f, 0, QMAX);
	setup_queue(f, 1, 12); /* not a power of two */
	wr(f, VIRTIO_MMIO_STATUS, ACK | DRV | FEAT | DOK);
	assert_int_equal(f->dev.activated, 0);
	expect_needs_reset(f);
	/* A driver that ORs FAILED into what it read (NEEDS_RESET included). */
	wr(f, VIRTIO_MMIO_STATUS, rd(f, VIRTIO_MMIO_STATUS) | FAILED);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), ACK | DRV | FEAT | DOK | FAILED | NEEDS_RST);
	/* Reset recovers; a good setup then works. */
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	full_init(f);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), ACK | DRV | FEAT | DOK);
	assert_int_equal(f->dev.activated, 1);
}

static void test_activation_bad_ring_placement(void **state)
{
	struct fx *f = *state;

	to_features_ok(f, WANT);
	setup_queue(f, 0, QMAX);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 0);
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 1); /* avail ring above memory */
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	wr(f, VIRTIO_MMIO_STATUS, ACK | DRV | FEAT | DOK);
	assert_int_equal(f->dev.activated, 0);
	expect_needs_reset(f);
}

static void test_activation_device_fails(void **state)
{
	struct fx *f = *state;

	f->dev.activate_ret = -ENOMEM;
	full_init(f);
	assert_int_equal(f->dev.activated, 1);
	f->dev.notified = 0;
	expect_needs_reset(f);
}

static void test_queue_broken_and_used(void **state)
{
	struct fx *f = *state;
	struct vq_chain c;

	full_init(f);
	/* A good chain on queue 0: push, and the used interrupt fires once. */
	vqd_desc(&f->d[0], 0, 0x10000, 4, VIRTQ_DESC_F_WRITE, 0);
	vqd_make_avail(&f->d[0], 0);
	assert_int_equal(vq_pop(&f->t.queues[0], &c), 0);
	assert_int_equal(vq_push(&f->t.queues[0], c.head, 4), 0);
	vmmio_used(&f->t, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	assert_int_equal(f->dev.irqs, 1);
	vmmio_interrupt(&f->t, VIRTIO_MMIO_INT_VRING); /* already pending: no new edge */
	assert_int_equal(f->dev.irqs, 1);
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	/* A bad head on queue 1: the device reports it, everything stops. */
	vqd_make_avail(&f->d[1], QMAX);
	assert_int_equal(vq_pop(&f->t.queues[1], &c), -EIO);
	vmmio_queue_broken(&f->t);
	f->dev.notified = 0;
	expect_needs_reset(f);
	assert_int_equal(f->dev.irqs, 2);
}

static void test_reset_clears(void **state)
{
	struct fx *f = *state;

	full_init(f);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	vmmio_interrupt(&f->t, VIRTIO_MMIO_INT_VRING);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(f->dev.resets, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), (uint32_t)(DEV_F0 | VQ_FEATURES));
	assert_int_equal(f->t.driver_features, 0);
	for (unsigned q = 0; q < NQ; q++) {
		wr(f, VIRTIO_MMIO_QUEUE_SEL, q);
		assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
		assert_false(f->t.queues[q].active);
		assert_int_equal(f->t.queues[q].size, 0);
		assert_int_equal(f->t.queues[q].desc_gpa, 0);
	}
	/* The device can be brought up again from scratch. */
	full_init(f);
	assert_int_equal(f->dev.activated, 2);
	assert_true(f->t.queues[1].active);
}

static void test_config_space(void **state)
{
	struct fx *f = *state;
	uint8_t b[8];
	uint16_t h = 0x5a5a;

	vmmio_read(&f->t, VIRTIO_MMIO_CONFIG + 3, b, 1);
	assert_int_equal(b[0], 'b');
	vmmio_read(&f->t, VIRTIO_MMIO_CONFIG, b, 8);
	assert_memory_equal(b, "cfgbytes", 8);
	vmmio_write(&f->t, VIRTIO_MMIO_CONFIG + 6, (uint8_t *)&h, 2);
	assert_memory_equal(f->dev.config, "cfgbytZZ", 8);
	/* Past or straddling the end: reads 0, writes nothing. */
	vmmio_read(&f->t, VIRTIO_MMIO_CONFIG + 6, b, 4);
	assert_memory_equal(b, "\0\0\0\0", 4);
	vmmio_read(&f->t, VIRTIO_MMIO_CONFIG + CFG_SIZE, b, 1);
	assert_int_equal(b[0], 0);
	vmmio_write(&f->t, VIRTIO_MMIO_CONFIG + 7, (uint8_t *)&h, 2);
	vmmio_write(&f->t, 0xfff, (uint8_t *)&h, 1);
	assert_memory_equal(f->dev.config, "cfgbytZZ", 8);
}

static void test_register_width(void **state)
{
	struct fx *f = *state;
	uint8_t b[8];
	uint64_t v = ACK;

	memset(b, 0xee, sizeof(b));
	vmmio_read(&f->t, VIRTIO_MMIO_MAGIC_VALUE, b, 2);
	assert_int_equal(b[0] | b[1], 0);
	vmmio_read(&f->t, VIRTIO_MMIO_MAGIC_VALUE + 1, b, 4);
	assert_int_equal(b[0] | b[1] | b[2] | b[3], 0);
	vmmio_write(&f->t, VIRTIO_MMIO_STATUS, (uint8_t *)&v, 1);
	vmmio_write(&f->t, VIRTIO_MMIO_STATUS, (uint8_t *)&v, 8);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	/* Through the bus ops, as the builder registers it. */
	vmmio_bus_ops.write(&f->t, VIRTIO_MMIO_STATUS, (uint8_t *)&v, 4);
	vmmio_bus_ops.read(&f->t, VIRTIO_MMIO_STATUS, b, 4);
	assert_int_equal(b[0], ACK);
}

/* The driver-visible status is always a state of the table (plus FAILED / NEEDS_RESET). */
static void assert_consistent(struct fx *f)
{
	uint32_t s = rd(f, VIRTIO_MMIO_STATUS) & ~(FAILED | NEEDS_RST);

	assert_true(s == 0 || s == ACK || s == (ACK | DRV) || s == (ACK | DRV | FEAT) ||
		    s == (ACK | DRV | FEAT | DOK));
	for (unsigned q = 0; q < VMMIO_MAX_QUEUES; q++) {
		if (f->t.queues[q].active) {
			assert_true(q < NQ);
			assert_true(s & DOK);
			assert_true(f->t.ready[q]);
		}
	}
	assert_int_equal(rd(f, VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
}

static void test_garbage_sweep(void **state)
{
	struct fx *f = *state;
	static const uint32_t vals[] = { 0,  1,	   2,	 3,	 4,	  8,	      11,
					 15, 0x80, 0xff, 0x1000, 0x10000, 0x7fffffff, 0xffffffff };
	static const unsigned sizes[] = { 1, 2, 4, 8 };
	uint64_t rng = 0x9e3779b97f4a7c15ull;

	/* Every offset, width and value, from each reachable state. */
	for (unsigned start = 0; start < 3; start++) {
		for (uint64_t off = 0; off < 0x110; off++) {
			for (size_t s = 0; s < 4; s++) {
				for (size_t v = 0; v < sizeof(vals) / sizeof(vals[0]); v++) {
					uint64_t val = vals[v] * 0x100000001ull;

					wr(f, VIRTIO_MMIO_STATUS, 0);
					if (start >= 1)
						to_features_ok(f, WANT | VQ_FEATURES);
					if (start >= 2)
						full_init(f);
					vmmio_write(&f->t, off, (uint8_t *)&val, sizes[s]);
					assert_consistent(f);
				}
			}
		}
	}
	/* Random streams of register writes, mostly to the interesting ones. */
	for (unsigned i = 0; i < 200000; i++) {
		uint64_t val;

		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		val = rng >> 40 & 0xf ? vals[(rng >> 20) % 14] : rng >> 16;
		vmmio_write(&f->t, (rng >> 33) % 0x40 * 4, (uint8_t *)&val, sizes[(rng >> 60) & 3]);
		if (i % 64 == 0)
			assert_consistent(f);
	}
	/* Whatever happened, a reset and a proper setup bring it up. */
	wr(f, VIRTIO_MMIO_STATUS, 0);
	full_init(f);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), ACK | DRV | FEAT | DOK);
}

static void test_init_refuses_bad_ops(void **state)
{
	struct fx *f = *state;
	static const uint16_t nq[] = { 0, VMMIO_MAX_QUEUES + 1, 1, 1 };
	static const uint16_t qmax[] = { QMAX, QMAX, 24, 2 * VQ_SIZE_MAX };
	struct vdev_ops ops = mock_ops;
	struct vdev dev = { .ops = &ops };
	struct vmmio t;

	for (int i = 0; i < 4; i++) {
		ops.num_queues = nq[i];
		ops.max_queue_size = qmax[i];
		assert_int_equal(vmmio_init(&t, &dev, f->gm, (struct vmmio_irq){ 0 }), -EINVAL);
	}
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_identity),
		T(test_status_happy_path),
		T(test_status_refused),
		T(test_features_refused),
		T(test_queue_sel_bounds),
		T(test_queue_regs_state),
		T(test_activation_bad_queue),
		T(test_activation_bad_ring_placement),
		T(test_activation_device_fails),
		T(test_queue_broken_and_used),
		T(test_reset_clears),
		T(test_config_space),
		T(test_register_width),
		T(test_garbage_sweep),
		T(test_init_refuses_bad_ops),
	};

	log_set_level(LOG_NONE); /* refused accesses log guest-triggered warnings */
	return cmocka_run_group_tests_name("vmmio", tests, NULL, NULL);
}
