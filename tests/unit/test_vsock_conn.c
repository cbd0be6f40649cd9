/* Unit tests for vmm/devices/virtio/vsock: the device, connections and the hybrid host side, end to end.
 *
 * The guest is the mock driver: RX buffers are posted and read back from the
 * used ring, TX packets are written into fake guest memory. The host side
 * is real Unix sockets in a temporary directory. Everything runs on this
 * thread: vsock_pump() (vsock_pump.h) calls vsock_run() while the device's epoll fd is ready. */
#include <errno.h>
#include <fcntl.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "vmm/devices/virtio/vsock/packet.h"
#include "vmm/devices/virtio/vsock/vsock.h"
#include "lib/util/log.h"
#include "tests/unit/virtq_driver.h"
#include "tests/unit/vsock_pump.h"

#define MIB	(1ull << 20)
#define GIB	(1ull << 30)
#define MEM	(8 * MIB)
#define QSIZE	256
#define EVQSIZE 8
#define RING(q) (0x10000ull * (q))
#define RXBUF	(1 * MIB) /* RX buffer i at RXBUF + i * RXLEN */
#define RXLEN	4096u
#define TXBUF	(2 * MIB) /* TX slot i at TXBUF + i * TXLEN */
#define TXLEN	8192u
#define EVBUF	(6 * MIB)
#define CID	3u
#define WRITE	VIRTQ_DESC_F_WRITE

struct fx {
	char dir[32], uds[64];
	struct gmem *gm;
	struct vqd d[VSOCK_NUM_QUEUES];
	struct vq q[VSOCK_NUM_QUEUES];
	struct vsock_dev *dev;
	uint16_t rx_used, tx_next;
	uint32_t rx_len; /* size of the RX buffers posted from now on */
	int used_calls, broken_calls;
};

struct pkt {
	struct vsock_hdr h;
	uint8_t data[RXLEN];
};

static void on_used(void *opaque, unsigned q)
{
	(void)q;
	((struct fx *)opaque)->used_calls++;
}

static void on_broken(void *opaque)
{
	((struct fx *)opaque)->broken_calls++;
}

static void rx_post(struct fx *f, uint16_t id)
{
	vqd_desc(&f->d[VSOCK_Q_RX], id, RXBUF + (gpa_t)id * RXLEN, f->rx_len, WRITE, 0);
	vqd_make_avail(&f->d[VSOCK_Q_RX], id);
}

static int setup_n(void **state, uint16_t nrx)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vsock-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->uds, sizeof(f->uds), "%s/v.sock", f->dir);
	assert_int_equal(gmem_create(MEM, 3 * GIB, 4 * GIB, &f->gm), 0);
	for (unsigned q = 0; q < VSOCK_NUM_QUEUES; q++) {
		vqd_init(&f->d[q], f->gm, q == VSOCK_Q_EVENT ? EVQSIZE : QSIZE, RING(q + 1));
		vqd_configure(&f->d[q], &f->q[q], 0);
		f->q[q].name = "vsock-test";
		assert_int_equal(vq_activate(&f->q[q], f->gm, QSIZE), 0);
	}
	assert_int_equal(vsock_create(CID, f->uds, &f->dev), 0);
	f->dev->vdev.hooks = (struct vdev_hooks){ NULL, on_used, on_broken, f };
	assert_int_equal(vsock_ops.activate(&f->dev->vdev, f->q, VIRTIO_BIT(VIRTIO_F_VERSION_1)),
			 0);
	f->rx_len = RXLEN;
	for (uint16_t i = 0; i < nrx; i++)
		rx_post(f, i);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_n(state, QSIZE);
}

static int setup_one_rx(void **state)
{
	return setup_n(state, 1);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	vsock_destroy(f->dev);
	gmem_destroy(f->gm);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* The next packet the device put in the RX queue; re-posts its buffer. */
static bool rx_get(struct fx *f, struct pkt *p)
{
	uint32_t id, len;
	uint8_t raw[VSOCK_HDR_SIZE];

	vsock_pump(f->dev);
	if (vqd_used_idx(&f->d[VSOCK_Q_RX]) == f->rx_used)
		return false;
	vqd_used_elem(&f->d[VSOCK_Q_RX], f->rx_used++, &id, &len);
	assert_true(id < QSIZE);
	assert_true(len >= VSOCK_HDR_SIZE && len <= RXLEN);
	assert_int_equal(gmem_read(f->gm, raw, RXBUF + (gpa_t)id * RXLEN, sizeof(raw)), 0);
	vsock_hdr_decode(raw, &p->h);
	assert_int_equal(len, VSOCK_HDR_SIZE + p->h.len);
	if (p->h.len > 0)
		assert_int_equal(gmem_read(f->gm, p->data,
					   RXBUF + (gpa_t)id * RXLEN + VSOCK_HDR_SIZE, p->h.len),
				 0);
	assert_int_equal(p->h.src_cid, VSOCK_HOST_CID);
	assert_int_equal(p->h.dst_cid, CID);
	assert_int_equal(p->h.type, VSOCK_TYPE_STREAM);
	rx_post(f, (uint16_t)id);
	return true;
}

static void rx_expect(struct fx *f, struct pkt *p, uint16_t op)
{
	assert_true(rx_get(f, p));
	assert_int_equal(p->h.op, op);
}

static void tx_raw(struct fx *f, const struct vsock_hdr *h, const void *data, uint32_t len)
{
	uint16_t id = f->tx_next++ % QSIZE;
	gpa_t at = TXBUF + (gpa_t)id * TXLEN;
	uint8_t raw[VSOCK_HDR_SIZE];

	assert_true(VSOCK_HDR_SIZE + len <= TXLEN);
	vsock_hdr_encode(h, raw);
	assert_int_equal(gmem_write(f->gm, at, raw, sizeof(raw)), 0);
	if (len > 0)
		assert_int_equal(gmem_write(f->gm, at + VSOCK_HDR_SIZE, data, len), 0);
	vqd_desc(&f->d[VSOCK_Q_TX], id, at, VSOCK_HDR_SIZE + len, 0, 0);
	vqd_make_avail(&f->d[VSOCK_Q_TX], id);
	vsock_ops.notify(&f->dev->vdev, VSOCK_Q_TX);
	vsock_pump(f->dev);
}

/* A guest packet from guest port gp to host port hp. */
static void tx(struct fx *f, uint16_t op, uint32_t gp, uint32_t hp, const void *data, uint32_t len,
	       uint32_t flags, uint32_t buf_alloc, uint32_t fwd_cnt)
{
	struct vsock_hdr h = { .src_cid = CID,
			       .dst_cid = VSOCK_HOST_CID,
			       .src_port = gp,
			       .dst_port = hp,
			       .len = len,
			       .type = VSOCK_TYPE_STREAM,
			       .op = op,
			       .flags = flags,
			       .buf_alloc = buf_alloc,
			       .fwd_cnt = fwd_cnt };

	tx_raw(f, &h, data, len);
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

static int unix_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 16), 0);
	return fd;
}

static void set_nonblock(int fd)
{
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

/* Reads exactly n bytes from a host socket, with a deadline. */
static void host_read(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		assert_int_equal(poll(&p, 1, 2000), 1);
		r = recv(fd, (char *)buf + got, n - got, 0);
		assert_true(r > 0);
		got += (size_t)r;
	}
}

/* True if the host socket has reached EOF (or was reset). */
static bool host_eof(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, 2000) != 1)
		return false;
	return recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

static bool host_quiet(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 0;
}

/* Host connects to U for guest port gp; the guest accepts with buf_alloc. */
static int host_open(struct fx *f, uint32_t gp, uint32_t buf_alloc, uint32_t *hp)
{
	int fd = unix_connect(f->uds);
	char line[32], want[32];
	struct pkt p;
	int n;

	n = snprintf(line, sizeof(line), "CONNECT %u\n", gp);
	assert_int_equal(send(fd, line, (size_t)n, 0), n);
	rx_expect(f, &p, VSOCK_OP_REQUEST);
	assert_int_equal(p.h.dst_port, gp);
	assert_true(p.h.src_port >= VSOCK_PORT_FIRST);
	assert_int_equal(p.h.buf_alloc, VSOCK_BUF_ALLOC);
	*hp = p.h.src_port;
	tx(f, VSOCK_OP_RESPONSE, gp, *hp, NULL, 0, 0, buf_alloc, 0);
	n = snprintf(want, sizeof(want), "OK %u\n", *hp);
	host_read(fd, line, (size_t)n);
	assert_memory_equal(line, want, (size_t)n);
	return fd;
}

static void test_config_and_ops(void **state)
{
	struct fx *f = *state;
	uint8_t cfg[8];

	assert_int_equal(vsock_ops.device_id, 19);
	assert_int_equal(vsock_ops.num_queues, 3);
	vsock_ops.config_read(&f->dev->vdev, 0, cfg, 8);
	assert_int_equal(cfg[0], CID);
	for (int i = 1; i < 8; i++)
		assert_int_equal(cfg[i], 0);
	vsock_ops.config_write(&f->dev->vdev, 0, (const uint8_t *)"\x09", 1);
	vsock_ops.config_read(&f->dev->vdev, 0, cfg, 4);
	assert_int_equal(cfg[0], CID);
}

static void test_host_handshake_and_relay(void **state)
{
	struct fx *f = *state;
	uint32_t hp;
	int fd = host_open(f, 1024, 65536, &hp);
	struct pkt p;
	char buf[16];

	assert_int_equal(send(fd, "hello", 5, 0), 5);
	rx_expect(f, &p, VSOCK_OP_RW);
	assert_int_equal(p.h.len, 5);
	assert_memory_equal(p.data, "hello", 5);
	assert_int_equal(p.h.src_port, hp);
	assert_int_equal(p.h.dst_port, 1024);

	tx(f, VSOCK_OP_RW, 1024, hp, "world!", 6, 0, 65536, 5);
	host_read(fd, buf, 6);
	assert_memory_equal(buf, "world!", 6);
	assert_false(rx_get(f, &p)); /* nothing else */
	close(fd);
	rx_expect(f, &p, VSOCK_OP_RST); /* host peer gone -> RST */
}

static void test_guest_refuses(void **state)
{
	struct fx *f = *state;
	int fd = unix_connect(f->uds);
	struct pkt p;

	assert_int_equal(send(fd, "CONNECT 99\n", 11, 0), 11);
	rx_expect(f, &p, VSOCK_OP_REQUEST);
	tx(f, VSOCK_OP_RST, 99, p.h.src_port, NULL, 0, 0, 0, 0);
	assert_true(host_eof(fd));
	close(fd);
}

static void test_bad_connect_lines(void **state)
{
	static const char *bad[] = {
		"CONNECT\n",
		"CONNECT x1\n",
		"connect 5\n",
		"CONNECT 4294967296\n",
		"CONNECT 12 \n",
		"CONNECT -1\n",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* over-long, no newline */
	};
	struct fx *f = *state;
	struct pkt p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = unix_connect(f->uds);

		assert_int_equal(send(fd, bad[i], strlen(bad[i]), 0), (ssize_t)strlen(bad[i]));
		vsock_pump(f->dev);
		assert_true(host_eof(fd));
		close(fd);
	}
	/* EOF before the newline */
	{
		int fd = unix_connect(f->uds);

		assert_int_equal(send(fd, "CONNECT 5", 9, 0), 9);
		shutdown(fd, SHUT_WR);
		vsock_pump(f->dev);
		assert_true(host_eof(fd));
		close(fd);
	}
	assert_false(rx_get(f, &p)); /* the guest never heard of them */
}

static void test_credit_limits_host_to_guest(void **state)
{
	struct fx *f = *state;
	uint32_t hp, got = 0;
	int fd = host_open(f, 2000, 4096, &hp);
	static uint8_t big[1 << 20];
	size_t sent = 0;
	struct pkt p;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	set_nonblock(fd);
	/* The guest stops reading after 4096 bytes: the host must end up blocked. */
	for (int round = 0; round < 64; round++) {
		ssize_t w = send(fd, big + sent, sizeof(big) - sent, MSG_DONTWAIT);

		if (w > 0)
			sent += (size_t)w;
		vsock_pump(f->dev);
		while (rx_get(f, &p)) {
			assert_int_equal(p.h.op, VSOCK_OP_RW);
			assert_memory_equal(p.data, big + got, p.h.len);
			got += p.h.len;
		}
	}
	assert_int_equal(got, 4096);
	assert_true(sent < sizeof(big));
	assert_true(send(fd, big, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN);

	/* Credit again: exactly 4096 more, in order. */
	tx(f, VSOCK_OP_CREDIT_UPDATE, 2000, hp, NULL, 0, 0, 4096, 4096);
	while (rx_get(f, &p)) {
		assert_int_equal(p.h.op, VSOCK_OP_RW);
		assert_memory_equal(p.data, big + got, p.h.len);
		got += p.h.len;
	}
	assert_int_equal(got, 8192);
	close(fd);
}

/* A guest that honours credit while the host does not read: it runs out of
 * credit and waits, the device holds at most VSOCK_BUF_ALLOC, nothing is reset;
 * once the host reads, credit comes back. */
static void test_credit_guest_to_host(void **state)
{
	struct fx *f = *state;
	uint32_t hp, peer_fwd = 0, sent = 0, got = 0;
	int fd = host_open(f, 2001, 65536, &hp);
	static uint8_t chunk[4096], back[8192];
	struct pkt p;

	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)i;
	for (int round = 0; round < 2000; round++) {
		bool progress = false;

		while (sent - peer_fwd + sizeof(chunk) <= VSOCK_BUF_ALLOC) {
			tx(f, VSOCK_OP_RW, 2001, hp, chunk, sizeof(chunk), 0, 65536, 0);
			sent += sizeof(chunk);
			progress = true;
		}
		while (rx_get(f, &p)) {
			assert_int_equal(p.h.op, VSOCK_OP_CREDIT_UPDATE);
			assert_int_equal(p.h.buf_alloc, VSOCK_BUF_ALLOC);
			progress |= p.h.fwd_cnt != peer_fwd;
			peer_fwd = p.h.fwd_cnt;
		}
		if (!progress)
			break;
	}
	/* Stalled: the guest has no credit left and nothing was reset. */
	assert_true(sent - peer_fwd + sizeof(chunk) > VSOCK_BUF_ALLOC);
	assert_true(sent > VSOCK_BUF_ALLOC);
	/* The host drains; the device flushes its ring and gives credit back. */
	set_nonblock(fd);
	for (int round = 0; round < 100000 && got < sent; round++) {
		ssize_t r = recv(fd, back, sizeof(back), MSG_DONTWAIT);

		if (r > 0) {
			for (ssize_t i = 0; i < r; i++)
				assert_int_equal(back[i],
						 (uint8_t)((got + (uint32_t)i) % sizeof(chunk)));
			got += (uint32_t)r;
		}
		vsock_pump(f->dev);
		while (rx_get(f, &p)) {
			assert_int_equal(p.h.op, VSOCK_OP_CREDIT_UPDATE);
			peer_fwd = p.h.fwd_cnt;
		}
	}
	assert_int_equal(got, sent);
	assert_int_equal(peer_fwd, sent);
	close(fd);
}

/* A guest that ignores credit and the host that does not read: once the
 * device's ring is full the connection is reset, memory stays bounded. */
static void test_credit_overrun_resets(void **state)
{
	struct fx *f = *state;
	uint32_t hp, sent = 0;
	int fd = host_open(f, 2003, 65536, &hp);
	static uint8_t chunk[4096];
	struct pkt p;
	bool rst = false;

	memset(chunk, 0x5a, sizeof(chunk));
	for (int i = 0; i < 4096 && !rst; i++) {
		tx(f, VSOCK_OP_RW, 2003, hp, chunk, sizeof(chunk), 0, 65536, 0);
		sent += sizeof(chunk);
		while (rx_get(f, &p))
			rst |= p.h.op == VSOCK_OP_RST;
	}
	assert_true(rst);
	assert_true(sent > VSOCK_BUF_ALLOC);
	close(fd);
}

static void test_credit_update_after_drain(void **state)
{
	struct fx *f = *state;
	uint32_t hp;
	int fd = host_open(f, 2002, 65536, &hp);
	static uint8_t chunk[4096], back[65536];
	struct pkt p;
	bool update = false;

	memset(chunk, 0x33, sizeof(chunk));
	for (unsigned i = 0; i < 12; i++)
		tx(f, VSOCK_OP_RW, 2002, hp, chunk, sizeof(chunk), 0, 65536, 0);
	host_read(fd, back, 12 * sizeof(chunk));
	vsock_pump(f->dev);
	/* The guest's view of our free space fell below VSOCK_CREDIT_LOW: update. */
	while (rx_get(f, &p))
		if (p.h.op == VSOCK_OP_CREDIT_UPDATE &&
		    p.h.fwd_cnt >= VSOCK_BUF_ALLOC - VSOCK_CREDIT_LOW)
			update = true;
	assert_true(update);
	/* CREDIT_REQUEST is always answered. */
	tx(f, VSOCK_OP_CREDIT_REQUEST, 2002, hp, NULL, 0, 0, 65536, 0);
	rx_expect(f, &p, VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(p.h.buf_alloc, VSOCK_BUF_ALLOC);
	assert_int_equal(p.h.fwd_cnt, 12 * sizeof(chunk));
	close(fd);
}

static void test_shutdown_and_rst(void **state)
{
	struct fx *f = *state;
	uint32_t hp1, hp2;
	int fd1 = host_open(f, 3000, 65536, &hp1);
	int fd2 = host_open(f, 3001, 65536, &hp2);
	struct pkt p;
	char buf[4];

	/* SHUTDOWN(SEND): host sees EOF for reading but can still send. */
	tx(f, VSOCK_OP_RW, 3000, hp1, "bye", 3, 0, 65536, 0);
	tx(f, VSOCK_OP_SHUTDOWN, 3000, hp1, NULL, 0, VSOCK_SHUTDOWN_SEND, 65536, 0);
	host_read(fd1, buf, 3);
	assert_memory_equal(buf, "bye", 3);
	assert_true(host_eof(fd1));
	assert_int_equal(send(fd1, "x", 1, 0), 1);
	rx_expect(f, &p, VSOCK_OP_RW);
	/* Full shutdown -> RST from the device, host closed. */
	tx(f, VSOCK_OP_SHUTDOWN, 3000, hp1, NULL, 0, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND,
	   65536, 0);
	rx_expect(f, &p, VSOCK_OP_RST);
	assert_int_equal(p.h.dst_port, 3000);
	/* Guest RST: the host socket is closed, no reply. */
	tx(f, VSOCK_OP_RST, 3001, hp2, NULL, 0, 0, 0, 0);
	assert_true(host_eof(fd2));
	assert_false(rx_get(f, &p));
	/* A packet for a connection that no longer exists gets RST. */
	tx(f, VSOCK_OP_RW, 3001, hp2, "z", 1, 0, 65536, 0);
	rx_expect(f, &p, VSOCK_OP_RST);
	close(fd1);
	close(fd2);
}

static void test_guest_connect(void **state)
{
	struct fx *f = *state;
	char path[100], buf[8];
	struct pkt p;
	int lfd, fd;

	snprintf(path, sizeof(path), "%s_5000", f->uds);
	lfd = unix_listen(path);
	tx(f, VSOCK_OP_REQUEST, 777, 5000, NULL, 0, 0, 65536, 0);
	rx_expect(f, &p, VSOCK_OP_RESPONSE);
	assert_int_equal(p.h.src_port, 5000);
	assert_int_equal(p.h.dst_port, 777);
	fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	tx(f, VSOCK_OP_RW, 777, 5000, "ping", 4, 0, 65536, 0);
	host_read(fd, buf, 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(send(fd, "pong", 4, 0), 4);
	rx_expect(f, &p, VSOCK_OP_RW);
	assert_memory_equal(p.data, "pong", 4);
	/* A duplicate REQUEST on a live connection is a protocol error: RST. */
	tx(f, VSOCK_OP_REQUEST, 777, 5000, NULL, 0, 0, 65536, 0);
	rx_expect(f, &p, VSOCK_OP_RST);
	assert_true(host_eof(fd));
	close(fd);

	/* Nobody listens on U_5001: RST. */
	tx(f, VSOCK_OP_REQUEST, 778, 5001, NULL, 0, 0, 65536, 0);
	rx_expect(f, &p, VSOCK_OP_RST);
	assert_int_equal(p.h.src_port, 5001);
	assert_int_equal(p.h.dst_port, 778);
	close(lfd);
}

static void test_host_close_mid_stream(void **state)
{
	struct fx *f = *state;
	uint32_t hp, hp2;
	int fd = host_open(f, 4000, 65536, &hp);
	int other = host_open(f, 4001, 65536, &hp2);
	struct pkt p;
	char buf[2];

	assert_int_equal(send(fd, "abc", 3, 0), 3);
	close(fd);
	rx_expect(f, &p, VSOCK_OP_RW);
	assert_memory_equal(p.data, "abc", 3);
	rx_expect(f, &p, VSOCK_OP_RST);
	assert_int_equal(p.h.dst_port, 4000);
	/* The guest keeps writing into the dead connection: RST, nothing breaks. */
	tx(f, VSOCK_OP_RW, 4000, hp, "x", 1, 0, 65536, 0);
	rx_expect(f, &p, VSOCK_OP_RST);
	/* The other connection still works. */
	tx(f, VSOCK_OP_RW, 4001, hp2, "ok", 2, 0, 65536, 0);
	host_read(other, buf, 2);
	assert_memory_equal(buf, "ok", 2);
	close(other);
}

#define NCONN 100
static void test_many_connections(void **state)
{
	struct fx *f = *state;
	int fd[NCONN];
	uint32_t hp[NCONN];
	bool seen[NCONN] = { false };
	struct pkt p;

	for (int i = 0; i < NCONN; i++)
		fd[i] = host_open(f, 10000 + (uint32_t)i, 65536, &hp[i]);
	for (int i = 0; i < NCONN; i++) {
		char msg[16];
		int n = snprintf(msg, sizeof(msg), "conn-%d", i);

		assert_int_equal(send(fd[i], msg, (size_t)n, 0), n);
	}
	for (int k = 0; k < NCONN; k++) {
		char msg[16];
		int i, n;

		rx_expect(f, &p, VSOCK_OP_RW);
		i = (int)p.h.dst_port - 10000;
		assert_true(i >= 0 && i < NCONN && !seen[i]);
		assert_int_equal(p.h.src_port, hp[i]);
		n = snprintf(msg, sizeof(msg), "conn-%d", i);
		assert_int_equal(p.h.len, n);
		assert_memory_equal(p.data, msg, (size_t)n);
		seen[i] = true;
	}
	for (int i = 0; i < NCONN; i++) {
		uint32_t v = 0xabc00000u + (uint32_t)i, back;

		tx(f, VSOCK_OP_RW, 10000 + (uint32_t)i, hp[i], &v, 4, 0, 65536, 0);
		host_read(fd[i], &back, 4);
		assert_int_equal(back, v);
	}
	/* Closing every other one leaves the rest alone. */
	for (int i = 0; i < NCONN; i += 2)
		close(fd[i]);
	for (int i = 0; i < NCONN / 2; i++) {
		rx_expect(f, &p, VSOCK_OP_RST);
		assert_int_equal((p.h.dst_port - 10000) % 2, 0);
	}
	for (int i = 1; i < NCONN; i += 2) {
		uint8_t b = (uint8_t)i, back;

		tx(f, VSOCK_OP_RW, 10000 + (uint32_t)i, hp[i], &b, 1, 0, 65536, 0);
		host_read(fd[i], &back, 1);
		assert_int_equal(back, b);
		close(fd[i]);
	}
}

static void test_malformed_guest_packets(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h = { .src_cid = CID + 1,
			       .dst_cid = 2,
			       .src_port = 1,
			       .dst_port = 2,
			       .type = VSOCK_TYPE_STREAM,
			       .op = VSOCK_OP_REQUEST };
	struct pkt p;
	uint32_t hp;
	int fd;

	tx_raw(f, &h, NULL, 0); /* spoofed source: dropped silently */
	assert_false(rx_get(f, &p));
	h.src_cid = CID;
	h.dst_cid = 7; /* nobody there: RST */
	tx_raw(f, &h, NULL, 0);
	rx_expect(f, &p, VSOCK_OP_RST);
	h.dst_cid = 2;
	h.op = 42;
	tx_raw(f, &h, NULL, 0);
	assert_false(rx_get(f, &p));
	/* Short header, as a lone 10-byte descriptor. */
	vqd_desc(&f->d[VSOCK_Q_TX], 5, TXBUF, 10, 0, 0);
	vqd_make_avail(&f->d[VSOCK_Q_TX], 5);
	f->tx_next = 6;
	vsock_ops.notify(&f->dev->vdev, VSOCK_Q_TX);
	vsock_pump(f->dev);
	assert_false(rx_get(f, &p));
	assert_int_equal(f->broken_calls, 0);
	/* Everything still works. */
	fd = host_open(f, 6000, 65536, &hp);
	close(fd);
}

static void test_transport_reset_event(void **state)
{
	struct fx *f = *state;
	uint32_t hp, id, len;
	uint8_t ev[4];
	int fd = host_open(f, 7000, 65536, &hp);

	vsock_transport_reset(f->dev);
	assert_true(host_eof(fd)); /* connections are forgotten */
	vsock_pump(f->dev);
	assert_int_equal(vqd_used_idx(&f->d[VSOCK_Q_EVENT]), 0); /* no buffer yet */
	vqd_desc(&f->d[VSOCK_Q_EVENT], 0, EVBUF, 8, WRITE, 0);
	vqd_make_avail(&f->d[VSOCK_Q_EVENT], 0);
	vsock_ops.notify(&f->dev->vdev, VSOCK_Q_EVENT);
	vsock_pump(f->dev);
	assert_int_equal(vqd_used_idx(&f->d[VSOCK_Q_EVENT]), 1);
	vqd_used_elem(&f->d[VSOCK_Q_EVENT], 0, &id, &len);
	assert_int_equal(len, 4);
	assert_int_equal(gmem_read(f->gm, ev, EVBUF, 4), 0);
	assert_int_equal(ev[0] | ev[1] | ev[2] | ev[3], VSOCK_EVENT_TRANSPORT_RESET);
	close(fd);
	/* RX waits until the guest has handled the reset, which it shows by giving
	 * an event buffer back; then the host connects again (the listening
	 * socket survives), and there is no second reset. */
	vqd_desc(&f->d[VSOCK_Q_EVENT], 1, EVBUF + 8, 8, WRITE, 0);
	vqd_make_avail(&f->d[VSOCK_Q_EVENT], 1);
	vsock_ops.notify(&f->dev->vdev, VSOCK_Q_EVENT);
	fd = host_open(f, 7000, 65536, &hp);
	close(fd);
	assert_int_equal(vqd_used_idx(&f->d[VSOCK_Q_EVENT]), 1);
}

/* Until the guest gives an event buffer back, a new connection's REQUEST
 * waits: the guest's reset work would otherwise reset it too. */
static void test_rx_waits_for_the_reset_to_be_handled(void **state)
{
	struct fx *f = *state;
	struct pkt p;
	int fd;

	vqd_desc(&f->d[VSOCK_Q_EVENT], 0, EVBUF, 8, WRITE, 0);
	vqd_make_avail(&f->d[VSOCK_Q_EVENT], 0);
	vsock_transport_reset(f->dev);
	vsock_pump(f->dev);
	assert_int_equal(vqd_used_idx(&f->d[VSOCK_Q_EVENT]), 1);
	fd = unix_connect(f->uds);
	assert_int_equal(send(fd, "CONNECT 7100\n", 13, 0), 13);
	assert_false(rx_get(f, &p));
	vqd_desc(&f->d[VSOCK_Q_EVENT], 1, EVBUF + 8, 8, WRITE, 0);
	vqd_make_avail(&f->d[VSOCK_Q_EVENT], 1);
	vsock_ops.notify(&f->dev->vdev, VSOCK_Q_EVENT);
	rx_expect(f, &p, VSOCK_OP_REQUEST);
	assert_int_equal(p.h.dst_port, 7100);
	close(fd);
}

static void test_device_reset_closes(void **state)
{
	struct fx *f = *state;
	uint32_t hp;
	int fd = host_open(f, 8000, 65536, &hp);

	vsock_ops.reset(&f->dev->vdev);
	assert_true(host_eof(fd));
	close(fd);
	/* Host connections wait while the driver is away. */
	fd = unix_connect(f->uds);
	assert_int_equal(send(fd, "CONNECT 8001\n", 13, 0), 13);
	vsock_pump(f->dev);
	assert_true(host_quiet(fd));
	close(fd);
	vsock_pump(f->dev);
}

/* A header-only RX buffer: data waits (no spinning on the host fd), control
 * packets still use it. */
static void test_header_only_rx_buffer(void **state)
{
	struct fx *f = *state;
	struct pkt p;
	uint32_t hp;
	int fd;

	f->rx_len = VSOCK_HDR_SIZE; /* the REQUEST's buffer comes back header-sized */
	fd = host_open(f, 9000, 65536, &hp);
	assert_int_equal(send(fd, "data", 4, 0), 4);
	assert_false(rx_get(f, &p)); /* pump() proves the device went idle */
	tx(f, VSOCK_OP_CREDIT_REQUEST, 9000, hp, NULL, 0, 0, 65536, 0);
	rx_expect(f, &p, VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(p.h.len, 0);
	close(fd);
}

/* The guest will not receive (SHUTDOWN RCV) and the host peer hangs up: RST. */
static void test_hup_after_guest_shut_rcv(void **state)
{
	struct fx *f = *state;
	struct pkt p;
	uint32_t hp;
	int fd = host_open(f, 9100, 65536, &hp);

	tx(f, VSOCK_OP_SHUTDOWN, 9100, hp, NULL, 0, VSOCK_SHUTDOWN_RCV, 65536, 0);
	assert_false(rx_get(f, &p));
	close(fd);
	rx_expect(f, &p, VSOCK_OP_RST);
	assert_int_equal(p.h.dst_port, 9100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_and_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_handshake_and_relay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_connect_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credit_limits_host_to_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credit_guest_to_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credit_overrun_resets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credit_update_after_drain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_and_rst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_close_mid_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_guest_packets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_waits_for_the_reset_to_be_handled, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_transport_reset_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_reset_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_only_rx_buffer, setup_one_rx, teardown),
		cmocka_unit_test_setup_teardown(test_hup_after_guest_shut_rcv, setup, teardown),
	};

	log_set_level(LOG_NONE);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
