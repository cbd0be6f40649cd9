/* Unit tests for the vsock snapshot hooks behind the real virtio-mmio transport.
 *
 * Device A is brought up by the mock driver and holds an RX chain (no packet
 * to send) when it is saved. Device B, fresh on the same Unix socket path,
 * restores from A's sections over a copy of A's guest memory: the guest
 * must get a TRANSPORT_RESET once it posts an event buffer, before any
 * packet of a new connection; the held RX chain must be served; the host can
 * CONNECT at once; no connection of A survives. */
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

#include "vmm/devices/virtio/vsock/packet.h"
#include "vmm/devices/virtio/vsock/vsock.h"
#include "vmm/snapshot/dev.h"
#include "lib/util/log.h"
#include "tests/unit/virtq_driver.h"
#include "tests/unit/vsock_pump.h"

#define MIB    (1ull << 20)
#define GIB    (1ull << 30)
#define MEM    (4 * MIB)
#define QSIZE  16
#define RXBUF  (1 * MIB)
#define RXLEN  4096u
#define TXBUF  (2 * MIB)
#define EVBUF  (3 * MIB)
#define CID    3u
#define WRITE  VIRTQ_DESC_F_WRITE
#define RING_Q 0x10000ull

struct machine {
	struct gmem *gm;
	struct vmmio t;
	struct vsock_dev *dev;
	struct vqd d[VSOCK_NUM_QUEUES];
	int irqs;
};

struct fx {
	char dir[32], uds[64];
	struct machine a, b;
	struct snap_writer w;
	struct snap_file f;
};

static void h_used(void *o, unsigned q)
{
	vmmio_used(&((struct machine *)o)->t, q);
}

static void h_broken(void *o)
{
	vmmio_queue_broken(&((struct machine *)o)->t);
}

static void h_irq(void *o)
{
	((struct machine *)o)->irqs++;
}

static void wr(struct machine *m, uint64_t off, uint32_t v)
{
	vmmio_write(&m->t, off, (const uint8_t *)&v, 4);
}

static void machine_open(struct fx *f, struct machine *m)
{
	assert_int_equal(gmem_create(MEM, 3 * GIB, 4 * GIB, &m->gm), 0);
	assert_int_equal(vsock_create(CID, f->uds, &m->dev), 0);
	m->dev->vdev.hooks = (struct vdev_hooks){ NULL, h_used, h_broken, m };
	assert_int_equal(vmmio_init(&m->t, &m->dev->vdev, m->gm, (struct vmmio_irq){ h_irq, m }),
			 0);
}

static void machine_close(struct machine *m)
{
	if (m->gm == NULL)
		return;
	vmmio_destroy(&m->t);
	vsock_destroy(m->dev);
	gmem_destroy(m->gm);
	m->gm = NULL;
}

static void driver_init(struct machine *m)
{
	uint64_t want = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VQ_FEATURES;

	wr(m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)want);
	wr(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(want >> 32));
	wr(m, VIRTIO_MMIO_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < VSOCK_NUM_QUEUES; q++) {
		vqd_init(&m->d[q], m->gm, QSIZE, RING_Q * (q + 1));
		wr(m, VIRTIO_MMIO_QUEUE_SEL, q);
		wr(m, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
		wr(m, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)m->d[q].desc);
		wr(m, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)m->d[q].avail);
		wr(m, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)m->d[q].used);
		wr(m, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	wr(m, VIRTIO_MMIO_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		   VIRTIO_STATUS_DRIVER_OK);
}

static void rx_post(struct machine *m, uint16_t id)
{
	vqd_desc(&m->d[VSOCK_Q_RX], id, RXBUF + (gpa_t)id * RXLEN, RXLEN, WRITE, 0);
	vqd_make_avail(&m->d[VSOCK_Q_RX], id);
	wr(m, VIRTIO_MMIO_QUEUE_NOTIFY, VSOCK_Q_RX);
}

/* The header of the RX packet in used slot `slot`. */
static void rx_hdr(struct machine *m, uint16_t slot, struct vsock_hdr *h)
{
	uint8_t raw[VSOCK_HDR_SIZE];
	uint32_t id, len;

	vqd_used_elem(&m->d[VSOCK_Q_RX], slot, &id, &len);
	assert_true(len >= VSOCK_HDR_SIZE);
	assert_int_equal(gmem_read(m->gm, raw, RXBUF + (gpa_t)id * RXLEN, sizeof(raw)), 0);
	vsock_hdr_decode(raw, h);
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vsock-snap-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->uds, sizeof(f->uds), "%s/v.sock", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	machine_close(&f->a);
	machine_close(&f->b);
	snap_w_free(&f->w);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* A: driver up, one RX buffer held by the device, no event buffer; saved,
 * then gone (its socket path freed, as a stale one is by the builder). B:
 * fresh on the same path over a copy of A's memory. Restores B if asked. */
static void save_a_open_b(struct fx *f, bool restore)
{
	machine_open(f, &f->a);
	driver_init(&f->a);
	rx_post(&f->a, 0);
	vsock_pump(f->a.dev);
	assert_true(f->a.dev->rx_held);
	assert_int_equal(snap_w_init(&f->w), 0);
	assert_int_equal(snap_dev_save(&vmmio_snap_ops, &f->a.t, 0, &f->w), 0);
	assert_int_equal(snap_dev_save(vsock_ops.snap, &f->a.dev->vdev, 0, &f->w), 0);
	assert_int_equal(snap_w_finish(&f->w), 0);
	assert_int_equal(snap_file_parse(f->w.buf, f->w.len, &f->f), 0);

	assert_int_equal(gmem_create(MEM, 3 * GIB, 4 * GIB, &f->b.gm), 0);
	memcpy(gmem_slice(f->b.gm, 0, MEM), gmem_slice(f->a.gm, 0, MEM), MEM);
	memcpy(f->b.d, f->a.d, sizeof(f->b.d));
	for (unsigned q = 0; q < VSOCK_NUM_QUEUES; q++)
		f->b.d[q].gm = f->b.gm;
	machine_close(&f->a);
	assert_int_equal(unlink(f->uds), 0);
	assert_int_equal(vsock_create(CID, f->uds, &f->b.dev), 0);
	f->b.dev->vdev.hooks = (struct vdev_hooks){ NULL, h_used, h_broken, &f->b };
	assert_int_equal(
		vmmio_init(&f->b.t, &f->b.dev->vdev, f->b.gm, (struct vmmio_irq){ h_irq, &f->b }),
		0);
	if (!restore)
		return;
	assert_int_equal(snap_dev_restore(&vmmio_snap_ops, &f->b.t, 0, &f->f), 0);
	assert_int_equal(snap_dev_restore(vsock_ops.snap, &f->b.dev->vdev, 0, &f->f), 0);
}

static void test_restore_resets_transport(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h;
	uint8_t ev[4] = { 0xff, 0xff, 0xff, 0xff };
	uint32_t id, len;
	int fd;

	save_a_open_b(f, true);
	assert_int_equal(f->b.irqs, 0);

	/* The host connects at once; nothing reaches the guest before the reset. */
	fd = unix_connect(f->uds);
	assert_int_equal(send(fd, "CONNECT 5000\n", 13, 0), 13);
	vsock_pump(f->b.dev);
	assert_int_equal(vqd_used_idx(&f->b.d[VSOCK_Q_EVENT]), 0);
	assert_int_equal(vqd_used_idx(&f->b.d[VSOCK_Q_RX]), 0);

	/* The guest posts an event buffer: the reset comes, then the REQUEST,
	 * in the RX chain A held (id 0). */
	vqd_desc(&f->b.d[VSOCK_Q_EVENT], 0, EVBUF, 8, WRITE, 0);
	vqd_make_avail(&f->b.d[VSOCK_Q_EVENT], 0);
	wr(&f->b, VIRTIO_MMIO_QUEUE_NOTIFY, VSOCK_Q_EVENT);
	vsock_pump(f->b.dev);
	assert_int_equal(vqd_used_idx(&f->b.d[VSOCK_Q_EVENT]), 1);
	vqd_used_elem(&f->b.d[VSOCK_Q_EVENT], 0, &id, &len);
	assert_int_equal(len, VSOCK_EVENT_SIZE);
	assert_int_equal(gmem_read(f->b.gm, ev, EVBUF, 4), 0);
	assert_int_equal(ev[0] | ev[1] | ev[2] | ev[3], VSOCK_EVENT_TRANSPORT_RESET);
	/* RX waits until the guest has handled the reset: it gives the event
	 * buffer back. Only one reset goes out. */
	assert_int_equal(vqd_used_idx(&f->b.d[VSOCK_Q_RX]), 0);
	vqd_desc(&f->b.d[VSOCK_Q_EVENT], 1, EVBUF + 8, 8, WRITE, 0);
	vqd_make_avail(&f->b.d[VSOCK_Q_EVENT], 1);
	wr(&f->b, VIRTIO_MMIO_QUEUE_NOTIFY, VSOCK_Q_EVENT);
	vsock_pump(f->b.dev);
	assert_int_equal(vqd_used_idx(&f->b.d[VSOCK_Q_EVENT]), 1);
	assert_int_equal(vqd_used_idx(&f->b.d[VSOCK_Q_RX]), 1);
	vqd_used_elem(&f->b.d[VSOCK_Q_RX], 0, &id, &len);
	assert_int_equal(id, 0);
	rx_hdr(&f->b, 0, &h);
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	assert_int_equal(h.dst_port, 5000);
	assert_true(f->b.irqs > 0);
	close(fd);
}

/* A guest socket that was connected before the snapshot gets RST. */
static void test_no_connection_survives(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h = { .src_cid = CID,
			       .dst_cid = VSOCK_HOST_CID,
			       .src_port = 1234,
			       .dst_port = 1u << 30,
			       .type = VSOCK_TYPE_STREAM,
			       .op = VSOCK_OP_RW,
			       .buf_alloc = 65536 };
	uint8_t raw[VSOCK_HDR_SIZE];
	struct vsock_hdr r;

	save_a_open_b(f, true);
	vqd_desc(&f->b.d[VSOCK_Q_EVENT], 0, EVBUF, 8, WRITE, 0);
	vqd_make_avail(&f->b.d[VSOCK_Q_EVENT], 0);
	vsock_hdr_encode(&h, raw);
	assert_int_equal(gmem_write(f->b.gm, TXBUF, raw, sizeof(raw)), 0);
	vqd_desc(&f->b.d[VSOCK_Q_TX], 0, TXBUF, VSOCK_HDR_SIZE, 0, 0);
	vqd_make_avail(&f->b.d[VSOCK_Q_TX], 0);
	wr(&f->b, VIRTIO_MMIO_QUEUE_NOTIFY, VSOCK_Q_TX);
	vsock_pump(f->b.dev);
	assert_int_equal(vqd_used_idx(&f->b.d[VSOCK_Q_TX]), 1);
	/* The guest handles the reset and gives the event buffer back: RX flows. */
	vqd_desc(&f->b.d[VSOCK_Q_EVENT], 1, EVBUF + 8, 8, WRITE, 0);
	vqd_make_avail(&f->b.d[VSOCK_Q_EVENT], 1);
	wr(&f->b, VIRTIO_MMIO_QUEUE_NOTIFY, VSOCK_Q_EVENT);
	vsock_pump(f->b.dev);
	assert_int_equal(vqd_used_idx(&f->b.d[VSOCK_Q_RX]), 1);
	rx_hdr(&f->b, 0, &r);
	assert_int_equal(r.op, VSOCK_OP_RST);
	assert_int_equal(r.dst_port, 1234);
}

static void test_refuses_other_cid_and_held_without_chain(void **state)
{
	struct fx *f = *state;
	uint8_t *p;

	save_a_open_b(f, false);
	/* Restored into a device whose driver is not up: no chain to give back. */
	assert_int_equal(snap_dev_restore(vsock_ops.snap, &f->b.dev->vdev, 0, &f->f), -EBADMSG);
	/* Another CID (the instance u32 comes first). */
	p = (uint8_t *)(uintptr_t)f->f.sections[1].data;
	p[4] = CID + 1;
	assert_int_equal(snap_dev_restore(vsock_ops.snap, &f->b.dev->vdev, 0, &f->f), -EBADMSG);
	f->f.sections[1].version = 2;
	assert_int_equal(snap_dev_restore(vsock_ops.snap, &f->b.dev->vdev, 0, &f->f), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_restore_resets_transport, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_connection_survives, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_other_cid_and_held_without_chain,
						setup, teardown),
	};

	log_set_level(LOG_NONE); /* refusals are logged */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
