/* fuzz_vsock_pkt: libFuzzer harness for the vsock device's TX path (guest packets).
 *
 * Input: a sequence of records, each one TX chain, at most FUZZ_CHAINS:
 *   u8   number of readable segments - 1 (mod 4)
 *   then per segment: u16 length (little-endian, mod FUZZ_SEG_MAX), then the bytes
 *   (short input: the segment gets what is left).
 * The harness writes the chains into the TX ring of a fresh, activated device
 * (guest CID 3, Unix socket U in a temp dir, with a listener on U_1 so a guest
 * REQUEST to port 1 succeeds), gives the RX queue FUZZ_CHAINS buffers, and runs
 * the device until it is idle. Whatever the packets say, the device must not
 * crash, loop, leak, touch memory outside gmem, or break its queues (the
 * rings themselves are well-formed here; fuzz_virtq_pop covers bad rings). */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/core/gmem.h"
#include "vmm/devices/virtio/vsock/vsock.h"
#include "lib/util/log.h"

#define FUZZ_MEM     (1ull << 20)
#define FUZZ_QSIZE   64u
#define FUZZ_CHAINS  FUZZ_QSIZE
#define FUZZ_SEG_MAX 2048u
#define RING(q)	     (0x1000ull * (q))
#define TXBUF	     0x10000ull
#define RXBUF	     0x80000ull
#define RXLEN	     2048u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gmem *gm;
static struct vsock_dev *dev;
static struct vq q[VSOCK_NUM_QUEUES];
static int lfd = -1;
static int broken;

static void on_broken(void *opaque)
{
	(void)opaque;
	broken = 1;
}

static void put16(gpa_t at, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	gmem_write(gm, at, b, 2);
}

static void desc(unsigned qi, uint16_t i, gpa_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t b[16];

	for (int k = 0; k < 8; k++)
		b[k] = (uint8_t)(addr >> (8 * k));
	for (int k = 0; k < 4; k++)
		b[8 + k] = (uint8_t)(len >> (8 * k));
	b[12] = (uint8_t)flags;
	b[13] = (uint8_t)(flags >> 8);
	b[14] = (uint8_t)next;
	b[15] = (uint8_t)(next >> 8);
	gmem_write(gm, q[qi].desc_gpa + 16ull * i, b, sizeof(b));
}

static char dir[] = "/tmp/fuzz-vsock-XXXXXX";
static char uds[64], lpath[80];

/* The replayer runs once per `make test`: leave no sockets behind in /tmp. */
static void cleanup(void)
{
	vsock_destroy(dev);
	if (lfd >= 0)
		close(lfd);
	unlink(uds);
	unlink(lpath);
	rmdir(dir);
}

static int init(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	log_set_level(LOG_NONE);
	if (mkdtemp(dir) == NULL || gmem_create(FUZZ_MEM, 1ull << 30, 2ull << 30, &gm) < 0)
		return -1;
	atexit(cleanup);
	snprintf(uds, sizeof(uds), "%s/v", dir);
	snprintf(lpath, sizeof(lpath), "%s_1", uds);
	if (vsock_create(3, uds, &dev) < 0)
		return -1;
	dev->vdev.hooks = (struct vdev_hooks){ NULL, NULL, on_broken, NULL };
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", lpath);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 256) < 0)
		return -1;
	return 0;
}

static void run(void)
{
	for (int i = 0; i < 1000; i++) {
		struct pollfd p = { .fd = vsock_fd(dev), .events = POLLIN };

		if (poll(&p, 1, 0) <= 0)
			return;
		vsock_run(dev);
	}
	__builtin_trap(); /* the device must go idle */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	size_t off = 0;
	uint16_t n = 0, d = 0;
	gpa_t buf = TXBUF;
	int fd;

	if (!ready) {
		if (init() < 0)
			return 0;
		ready = 1;
	}
	gmem_fill(gm, 0, 0, FUZZ_MEM);
	for (unsigned i = 0; i < VSOCK_NUM_QUEUES; i++) {
		vq_reset(&q[i]);
		q[i].name = "fuzz";
		q[i].size = FUZZ_QSIZE;
		q[i].desc_gpa = RING(3 * i + 1);
		q[i].avail_gpa = RING(3 * i + 2);
		q[i].used_gpa = RING(3 * i + 3);
		if (vq_activate(&q[i], gm, FUZZ_QSIZE) < 0)
			__builtin_trap();
	}
	for (uint16_t i = 0; i < FUZZ_CHAINS; i++) {
		desc(VSOCK_Q_RX, i, RXBUF + (gpa_t)i * RXLEN, RXLEN, VIRTQ_DESC_F_WRITE, 0);
		put16(q[VSOCK_Q_RX].avail_gpa + VIRTQ_AVAIL_OFF_RING + 2u * i, i);
	}
	put16(q[VSOCK_Q_RX].avail_gpa + VIRTQ_AVAIL_OFF_IDX, FUZZ_CHAINS);

	while (off < size && n < FUZZ_CHAINS && d < FUZZ_QSIZE) {
		unsigned nseg = (data[off++] & 3u) + 1;
		uint16_t head = d;

		for (unsigned s = 0; s < nseg && d < FUZZ_QSIZE; s++) {
			uint32_t len = 0;

			if (off + 2 <= size) {
				len = (uint32_t)(data[off] | data[off + 1] << 8) % FUZZ_SEG_MAX;
				off += 2;
			}
			if (len > size - off)
				len = (uint32_t)(size - off);
			if (len == 0)
				len = 1; /* a zero-length descriptor would be skipped anyway */
			if (off < size)
				gmem_write(gm, buf, data + off,
					   len <= size - off ? len : size - off);
			off += len <= size - off ? len : size - off;
			desc(VSOCK_Q_TX, d, buf, len,
			     (s + 1 < nseg && d + 1u < FUZZ_QSIZE) ? VIRTQ_DESC_F_NEXT : 0,
			     (uint16_t)(d + 1));
			buf += len;
			d++;
		}
		put16(q[VSOCK_Q_TX].avail_gpa + VIRTQ_AVAIL_OFF_RING + 2u * n, head);
		n++;
	}
	put16(q[VSOCK_Q_TX].avail_gpa + VIRTQ_AVAIL_OFF_IDX, n);

	broken = 0;
	if (vsock_ops.activate(&dev->vdev, q, VIRTIO_BIT(VIRTIO_F_VERSION_1)) < 0)
		__builtin_trap();
	run();
	if (broken)
		__builtin_trap(); /* well-formed rings never break, whatever the packets */
	vsock_ops.reset(&dev->vdev);
	while ((fd = accept(lfd, NULL, NULL)) >= 0)
		close(fd);
	return 0;
}
