/* Unit tests for a guest that corrupts a vsock queue (vmm/devices/virtio/vsock/vsock.c behind the real virtio-mmio transport).
 *
 * The documented outcome (vsock.h, mmio.h): a queue the queue layer finds
 * broken makes the device call hooks.broken; the transport then sets
 * DEVICE_NEEDS_RESET with a configuration-change interrupt, and no queue of
 * the device runs until the driver resets it. After a reset and a fresh
 * setup the device works again. Each queue (TX, RX, event) is corrupted in
 * turn; the host side is the hybrid Unix socket, as in ember-vmm. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/util/log.h"
#include "tests/unit/virtq_driver.h"
#include "tests/unit/vsock_pump.h"
#include "vmm/devices/virtio/vsock/packet.h"
#include "vmm/devices/virtio/vsock/vsock.h"

#define MIB    (1ull << 20)
#define GIB    (1ull << 30)
#define MEM    (4 * MIB)
#define QSIZE  16
#define RXBUF  (1 * MIB)
#define RXLEN  4096u
#define EVBUF  (3 * MIB)
#define CID    3u
#define WRITE  VIRTQ_DESC_F_WRITE
#define RING_Q 0x10000ull

struct fx {
	char dir[32], uds[64];
	struct gmem *gm;
	struct vmmio t;
	struct vsock_dev *dev;
	struct vqd d[VSOCK_NUM_QUEUES];
	int irqs, broken;
};

static void h_used(void *o, unsigned q)
{
	vmmio_used(&((struct fx *)o)->t, q);
}

static void h_broken(void *o)
{
	struct fx *f = o;

	f->broken++;
	vmmio_queue_broken(&f->t);
}

static void h_irq(void *o)
{
	((struct fx *)o)->irqs++;
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

/* The Linux driver's bring-up (4.2.3.1), rings at fixed places. */
static void driver_init(struct fx *f)
{
	uint64_t want = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VQ_FEATURES;
	uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE;

	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, s);
	wr(f, VIRTIO_MMIO_STATUS, s |= VIRTIO_STATUS_DRIVER);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)want);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(want >> 32));
	wr(f, VIRTIO_MMIO_STATUS, s |= VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < VSOCK_NUM_QUEUES; q++) {
		vqd_init(&f->d[q], f->gm, QSIZE, RING_Q * (q + 1));
		wr(f, VIRTIO_MMIO_QUEUE_SEL, q);
		wr(f, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
		wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)f->d[q].desc);
		wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)f->d[q].avail);
		wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)f->d[q].used);
		wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	wr(f, VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
}

static void rx_post(struct fx *f, uint16_t id)
{
	vqd_desc(&f->d[VSOCK_Q_RX], id, RXBUF + (gpa_t)id * RXLEN, RXLEN, WRITE, 0);
	vqd_make_avail(&f->d[VSOCK_Q_RX], id);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, VSOCK_Q_RX);
}

/* A host client asks for guest port `port`: the device owes the guest a REQUEST. */
static int host_connect(struct fx *f, unsigned port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char line[32];
	int n = snprintf(line, sizeof(line), "CONNECT %u\n", port);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->uds);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(send(fd, line, (size_t)n, 0), n);
	return fd;
}

/* The guest got a REQUEST for `port` in RX used slot `slot`. */
static void expect_request(struct fx *f, uint16_t slot, unsigned port)
{
	uint8_t raw[VSOCK_HDR_SIZE];
	struct vsock_hdr h;
	uint32_t id, len;

	assert_true(vqd_used_idx(&f->d[VSOCK_Q_RX]) > slot);
	vqd_used_elem(&f->d[VSOCK_Q_RX], slot, &id, &len);
	assert_true(len >= VSOCK_HDR_SIZE);
	assert_int_equal(gmem_read(f->gm, raw, RXBUF + (gpa_t)id * RXLEN, sizeof(raw)), 0);
	vsock_hdr_decode(raw, &h);
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	assert_int_equal(h.dst_port, port);
	assert_int_equal(h.dst_cid, CID);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vsock-ring-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->uds, sizeof(f->uds), "%s/v.sock", f->dir);
	assert_int_equal(gmem_create(MEM, 3 * GIB, 4 * GIB, &f->gm), 0);
	assert_int_equal(vsock_create(CID, f->uds, &f->dev), 0);
	f->dev->vdev.hooks = (struct vdev_hooks){ NULL, h_used, h_broken, f };
	assert_int_equal(vmmio_init(&f->t, &f->dev->vdev, f->gm, (struct vmmio_irq){ h_irq, f }),
			 0);
	driver_init(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vmmio_destroy(&f->t);
	vsock_destroy(f->dev);
	gmem_destroy(f->gm);
	unlink(f->uds);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* The outcome: NEEDS_RESET, one config interrupt, and nothing more runs. */
static void expect_needs_reset(struct fx *f)
{
	uint16_t rx_used = vqd_used_idx(&f->d[VSOCK_Q_RX]);
	int fd;

	assert_int_equal(f->broken, 1);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_true(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	assert_true(f->irqs >= 1);
	/* Good buffers and a host connection change nothing: the queues are stopped. */
	rx_post(f, 7);
	fd = host_connect(f, 6000);
	vsock_pump(f->dev);
	assert_int_equal(vqd_used_idx(&f->d[VSOCK_Q_RX]), rx_used);
	assert_int_equal(f->broken, 1);
	close(fd);
}

/* The driver resets the device and sets it up again: it works again. */
static void expect_recovery(struct fx *f)
{
	int fd;

	driver_init(f);
	rx_post(f, 0);
	fd = host_connect(f, 7000);
	vsock_pump(f->dev);
	expect_request(f, 0, 7000);
	close(fd);
}

static void test_tx_ring_corrupt(void **state)
{
	struct fx *f = *state;

	/* The avail index runs more than a queue's worth ahead of the device. */
	vqd_set_avail_idx(&f->d[VSOCK_Q_TX], QSIZE + 5);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, VSOCK_Q_TX);
	vsock_pump(f->dev);
	assert_int_equal(vqd_used_idx(&f->d[VSOCK_Q_TX]), 0);
	expect_needs_reset(f);
	expect_recovery(f);
}

static void test_rx_ring_corrupt(void **state)
{
	struct fx *f = *state;
	int fd;

	/* A head past the table; the device pops RX for the host's CONNECT. */
	fd = host_connect(f, 5000);
	vqd_make_avail(&f->d[VSOCK_Q_RX], QSIZE + 3);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, VSOCK_Q_RX);
	vsock_pump(f->dev);
	assert_int_equal(vqd_used_idx(&f->d[VSOCK_Q_RX]), 0);
	close(fd);
	expect_needs_reset(f);
	expect_recovery(f);
}

static void test_rx_chain_loops(void **state)
{
	struct fx *f = *state;
	int fd;

	/* Two descriptors that chain to each other: a loop the queue layer must bound. */
	fd = host_connect(f, 5001);
	vqd_desc(&f->d[VSOCK_Q_RX], 0, RXBUF, 64, WRITE | VIRTQ_DESC_F_NEXT, 1);
	vqd_desc(&f->d[VSOCK_Q_RX], 1, RXBUF + 64, 64, WRITE | VIRTQ_DESC_F_NEXT, 0);
	vqd_make_avail(&f->d[VSOCK_Q_RX], 0);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, VSOCK_Q_RX);
	vsock_pump(f->dev);
	assert_int_equal(vqd_used_idx(&f->d[VSOCK_Q_RX]), 0);
	close(fd);
	expect_needs_reset(f);
	expect_recovery(f);
}

static void test_event_ring_corrupt(void **state)
{
	struct fx *f = *state;

	/* The device owes the guest a TRANSPORT_RESET (as after a restore); the
	 * event buffer it pops for it points outside guest memory. */
	vsock_transport_reset(f->dev);
	vqd_desc(&f->d[VSOCK_Q_EVENT], 0, 64 * GIB, 8, WRITE, 0);
	vqd_make_avail(&f->d[VSOCK_Q_EVENT], 0);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, VSOCK_Q_EVENT);
	vsock_pump(f->dev);
	assert_int_equal(vqd_used_idx(&f->d[VSOCK_Q_EVENT]), 0);
	expect_needs_reset(f);
	/* After the reset the driver is fresh: no event is owed any more. */
	expect_recovery(f);
	vqd_desc(&f->d[VSOCK_Q_EVENT], 0, EVBUF, 8, WRITE, 0);
	vqd_make_avail(&f->d[VSOCK_Q_EVENT], 0);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, VSOCK_Q_EVENT);
	vsock_pump(f->dev);
	assert_int_equal(vqd_used_idx(&f->d[VSOCK_Q_EVENT]), 0);
}

/* A TX chain that is well formed but not a packet is the packet layer's
 * (dropped or answered with RST), never a broken device. */
static void test_tx_garbage_is_not_a_broken_ring(void **state)
{
	struct fx *f = *state;

	vqd_desc(&f->d[VSOCK_Q_TX], 0, RXBUF, 8, 0, 0); /* shorter than a header */
	vqd_make_avail(&f->d[VSOCK_Q_TX], 0);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, VSOCK_Q_TX);
	vsock_pump(f->dev);
	assert_int_equal(vqd_used_idx(&f->d[VSOCK_Q_TX]), 1);
	assert_int_equal(f->broken, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tx_ring_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_ring_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_chain_loops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_ring_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_garbage_is_not_a_broken_ring, setup,
						teardown),
	};

	log_set_level(LOG_NONE); /* a broken ring is logged (rate-limited) */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
