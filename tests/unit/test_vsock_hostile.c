/* Unit tests for vmm/devices/virtio/vsock against hostile peers: a driver that skips queues, idle host clients.
 *
 * The guest is the mock driver, behind the real virtio-mmio transport where
 * the test is about activation: a driver that sets up only some of vsock's
 * three queues must get NEEDS_RESET, and the device must then go idle (it
 * used to wake itself forever). The host side is real Unix sockets: a client
 * that never sends its CONNECT line is closed once its deadline passes, and
 * the table slots it held serve new clients. Every wait is a poll() with a
 * deadline; the device runs on this thread (vsock_pump.h). */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/util/log.h"
#include "vmm/devices/virtio/mmio.h"
#include "vmm/devices/virtio/vsock/hybrid.h"
#include "vmm/devices/virtio/vsock/vsock.h"
#include "tests/unit/virtq_driver.h"
#include "tests/unit/vsock_pump.h"

#define MIB	    (1ull << 20)
#define GIB	    (1ull << 30)
#define QSIZE	    16u
#define RXLEN	    4096u
#define RXBUF	    (1 * MIB)
#define CID	    3u
#define TIMEOUT_MS  50u	  /* the CONNECT-line deadline these tests set */
#define DEADLINE_MS 5000u /* how long a test waits for an event */

struct fx {
	char dir[32], uds[64];
	struct gmem *gm;
	struct vqd d[VSOCK_NUM_QUEUES];
	struct vsock_dev *dev;
	struct vmmio t;
	bool t_ready;
	uint16_t rx_used;
};

static void no_irq(void *opaque)
{
	(void)opaque;
}

static void hook_used(void *opaque, unsigned q)
{
	vmmio_used(opaque, q);
}

static void hook_broken(void *opaque)
{
	vmmio_queue_broken(opaque);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vsock-hostile-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->uds, sizeof(f->uds), "%s/v.sock", f->dir);
	assert_int_equal(gmem_create(8 * MIB, 3 * GIB, 4 * GIB, &f->gm), 0);
	assert_int_equal(vsock_create(CID, f->uds, &f->dev), 0);
	assert_int_equal(vmmio_init(&f->t, &f->dev->vdev, f->gm,
				    (struct vmmio_irq){ .raise = no_irq, .opaque = f }),
			 0);
	f->t_ready = true;
	f->dev->vdev.hooks = (struct vdev_hooks){ NULL, hook_used, hook_broken, &f->t };
	for (unsigned q = 0; q < VSOCK_NUM_QUEUES; q++)
		vqd_init(&f->d[q], f->gm, QSIZE, 0x10000ull * (q + 1));
	f->dev->conns.line_timeout_ms = TIMEOUT_MS;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	if (f->t_ready)
		vmmio_destroy(&f->t);
	vsock_destroy(f->dev);
	gmem_destroy(f->gm);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
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

/* A Linux-like driver bring-up of the transport, with the queues in `mask`
 * set up, then DRIVER_OK. */
static void bring_up(struct fx *f, unsigned mask)
{
	uint64_t want = VIRTIO_BIT(VIRTIO_F_VERSION_1);

	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)want);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(want >> 32));
	wr(f, VIRTIO_MMIO_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < VSOCK_NUM_QUEUES; q++) {
		const struct vqd *d = &f->d[q];

		if (!(mask & (1u << q)))
			continue;
		wr(f, VIRTIO_MMIO_QUEUE_SEL, q);
		wr(f, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
		wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)d->desc);
		wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(d->desc >> 32));
		wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)d->avail);
		wr(f, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(d->avail >> 32));
		wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)d->used);
		wr(f, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(d->used >> 32));
		wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	wr(f, VIRTIO_MMIO_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		   VIRTIO_STATUS_DRIVER_OK);
}

static void rx_post(struct fx *f, uint16_t id)
{
	vqd_desc(&f->d[VSOCK_Q_RX], id, RXBUF + (gpa_t)id * RXLEN, RXLEN, VIRTQ_DESC_F_WRITE, 0);
	vqd_make_avail(&f->d[VSOCK_Q_RX], id);
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

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Plays the event loop until host socket fd reaches EOF: true, or false
 * at the deadline. */
static bool run_until_eof(struct fx *f, int fd, unsigned ms)
{
	uint64_t end = now_ms() + ms;

	while (now_ms() < end) {
		struct pollfd p[2] = { { .fd = vsock_fd(f->dev), .events = POLLIN },
				       { .fd = fd, .events = POLLIN } };
		char c;

		assert_true(poll(p, 2, (int)(end - now_ms())) >= 0);
		if (p[1].revents && recv(fd, &c, 1, MSG_DONTWAIT) <= 0)
			return true;
		if (p[0].revents)
			vsock_run(f->dev);
	}
	return false;
}

/* The guest's next RX packet: true and its header, or false if none. */
static bool rx_get(struct fx *f, struct vsock_hdr *h)
{
	uint8_t raw[VSOCK_HDR_SIZE];
	uint32_t id, len;

	vsock_pump(f->dev);
	if (vqd_used_idx(&f->d[VSOCK_Q_RX]) == f->rx_used)
		return false;
	vqd_used_elem(&f->d[VSOCK_Q_RX], f->rx_used++, &id, &len);
	assert_true(id < QSIZE && len >= VSOCK_HDR_SIZE);
	assert_int_equal(gmem_read(f->gm, raw, RXBUF + (gpa_t)id * RXLEN, sizeof(raw)), 0);
	vsock_hdr_decode(raw, h);
	rx_post(f, (uint16_t)id);
	return true;
}

/* --- activation --- */

/* Each of the three queues missing, alone: refused with NEEDS_RESET, and the
 * device goes idle (vsock_pump fails the test if it keeps waking itself). */
static void test_activation_needs_all_queues(void **state)
{
	static const unsigned masks[] = { 0x6, 0x5, 0x3, 0x1, 0x0 };
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
		wr(f, VIRTIO_MMIO_STATUS, 0); /* reset */
		bring_up(f, masks[i]);
		assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
		assert_false(f->dev->active);
		vsock_ops.notify(&f->dev->vdev, VSOCK_Q_TX);
		vsock_pump(f->dev);
	}
	/* A whole set-up after the reset works. */
	wr(f, VIRTIO_MMIO_STATUS, 0);
	bring_up(f, 0x7);
	assert_false(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_true(f->dev->active);
	vsock_pump(f->dev);
}

/* The device's activate() itself, without a transport that might filter. */
static void test_activate_refuses_a_dead_queue(void **state)
{
	struct fx *f = *state;
	struct vq q[VSOCK_NUM_QUEUES];

	memset(q, 0, sizeof(q));
	for (unsigned i = 0; i < VSOCK_NUM_QUEUES; i++) {
		vqd_configure(&f->d[i], &q[i], 0);
		assert_int_equal(vq_activate(&q[i], f->gm, QSIZE), 0);
	}
	vq_set_broken(&q[VSOCK_Q_EVENT]);
	assert_int_equal(vsock_ops.activate(&f->dev->vdev, q, 0), -EINVAL);
	vq_reset(&q[VSOCK_Q_EVENT]);
	assert_int_equal(vsock_ops.activate(&f->dev->vdev, q, 0), -EINVAL);
	assert_false(f->dev->active);
	vsock_pump(f->dev);
}

/* A queue that dies under an active device stops the device, without spinning. */
static void test_queue_dying_under_an_active_device(void **state)
{
	struct fx *f = *state;

	bring_up(f, 0x7);
	assert_true(f->dev->active);
	vq_reset(&f->t.queues[VSOCK_Q_TX]);
	vsock_ops.notify(&f->dev->vdev, VSOCK_Q_TX);
	vsock_pump(f->dev);
	assert_false(f->dev->active);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

/* --- the CONNECT-line deadline --- */

static void test_silent_client_is_closed(void **state)
{
	struct fx *f = *state;
	int fd = unix_connect(f->uds);

	bring_up(f, 0x7);
	assert_true(run_until_eof(f, fd, DEADLINE_MS));
	assert_int_equal(f->dev->conns.nconns, 0);
	close(fd);
	vsock_pump(f->dev);
}

/* Half a line is as good as none. */
static void test_partial_line_is_closed(void **state)
{
	struct fx *f = *state;
	int fd = unix_connect(f->uds);

	assert_int_equal(send(fd, "CONNECT 12", 10, 0), 10);
	assert_true(run_until_eof(f, fd, DEADLINE_MS));
	assert_int_equal(f->dev->conns.nconns, 0);
	close(fd);
}

/* A client that sent its line in time is not touched by the timer. */
static void test_prompt_client_survives_the_deadline(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h;
	int late, fd;

	bring_up(f, 0x7);
	for (uint16_t i = 0; i < QSIZE; i++)
		rx_post(f, i);
	fd = unix_connect(f->uds);
	assert_int_equal(send(fd, "CONNECT 77\n", 11, 0), 11);
	assert_true(rx_get(f, &h));
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	/* A silent client next to it: once it is closed, the deadline has passed. */
	late = unix_connect(f->uds);
	assert_true(run_until_eof(f, late, DEADLINE_MS));
	close(late);
	assert_int_equal(f->dev->conns.nconns, 1);
	assert_int_equal(f->dev->conns.c[0].state, VSOCK_CONN_REQUESTED);
	close(fd);
}

/* A full table of silent clients refuses newcomers until their deadline,
 * then every slot is free again. */
static void test_silent_clients_release_the_table(void **state)
{
	struct fx *f = *state;
	int fds[VSOCK_MAX_CONNS], extra;

	f->dev->conns.line_timeout_ms = 1000;
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		fds[i] = unix_connect(f->uds);
		vsock_pump(f->dev);
	}
	assert_int_equal(f->dev->conns.nconns, VSOCK_MAX_CONNS);
	extra = unix_connect(f->uds);
	vsock_pump(f->dev);
	assert_true(run_until_eof(f, extra, DEADLINE_MS)); /* refused at once: no slot */
	close(extra);
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		assert_true(run_until_eof(f, fds[i], DEADLINE_MS));
	assert_int_equal(f->dev->conns.nconns, 0);
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		close(fds[i]);
	/* The timer is disarmed: the device is idle. */
	vsock_pump(f->dev);
	assert_false(f->dev->conns.timer_armed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_activation_needs_all_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activate_refuses_a_dead_queue, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_queue_dying_under_an_active_device, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_silent_client_is_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_line_is_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prompt_client_survives_the_deadline, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_silent_clients_release_the_table, setup,
						teardown),
	};

	log_set_level(LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
