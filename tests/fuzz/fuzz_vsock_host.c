/* fuzz_vsock_host: libFuzzer harness for vsock's host side: CONNECT lines, RX and credit (vmm/devices/virtio/vsock/).
 *
 * Input: one control byte, then operations (opcode byte, then arguments; a
 * short input ends the operation early).
 * - Control bits 0-2: which of the RX, TX and event queues the driver set up
 *   (7: all; any other mask must be refused by activate, and the device must
 *   still go idle whatever the host does); bit 3: a CONNECT-line timeout of
 *   1 ms instead of 10 s, so that the expiry path runs.
 * - Operations:
 *   0 a host client connects to U and sends u8 n bytes (a CONNECT line, or not)
 *   1 host client u8 i sends u8 n more bytes
 *   2 host client u8 i shuts its write side (bit 7 of i: closes instead)
 *   3 the guest sends a raw packet: a 44-byte header as the input has it, and
 *     u8 n payload bytes
 *   4 the guest answers the last packet the device gave it (RX): the header
 *     with ports and CIDs swapped, op u8 % 8, buf_alloc and fwd_cnt u32 each,
 *     flags u8, and u8 n payload bytes (RESPONSE to a REQUEST, then RW and
 *     the credit packets reach live connections this way)
 *   5 the device's loop work until idle; then the host clients read what
 *     they were sent, and the guest takes the RX packets and gives the
 *     buffers back
 *   6 wait up to 3 ms for the device's fd (the line timer; MAX_WAITS per
 *     input), then 5
 * At most MAX_OPS operations per input, so that every input runs quickly.
 * Whatever happens, the device must go idle after each run, never break the
 * well-formed rings, and every packet it puts on RX must come from the host
 * CID to the guest's, type STREAM, with a known op and a payload that fits
 * the buffer (its len field matching what it wrote). */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/util/log.h"
#include "tests/unit/virtq_driver.h"
#include "vmm/core/gmem.h"
#include "vmm/devices/virtio/vsock/packet.h"
#include "vmm/devices/virtio/vsock/vsock.h"

#define FUZZ_MEM  (4ull << 20)
#define QSIZE	  32u
#define RXBUF	  0x100000ull
#define RXLEN	  (VSOCK_HDR_SIZE + 4096u)
#define TXBUF	  0x200000ull
#define CLIENTS	  8
#define GUEST_CID 3u
#define MAX_OPS	  512 /* operations per input */
#define MAX_WAITS 4   /* waits for the line timer per input */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct in {
	const uint8_t *p;
	size_t n;
};

static struct gmem *gm;
static struct vsock_dev *dev;
static struct vqd d[VSOCK_NUM_QUEUES];
static struct vq q[VSOCK_NUM_QUEUES];
static char dir[] = "/tmp/fuzz-vsockh-XXXXXX";
static char uds[64];
static int cli[CLIENTS], ncli, broken, active;
static uint16_t rx_seen, tx_next;
static unsigned waits;	      /* op 6s in this input (each may sleep 3 ms) */
static struct vsock_hdr last; /* the last packet the guest received */
static int have_last;

static uint8_t take8(struct in *in)
{
	uint8_t v = 0;

	if (in->n > 0) {
		v = *in->p++;
		in->n--;
	}
	return v;
}

static uint32_t take32(struct in *in)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t)take8(in) << (8 * i);
	return v;
}

/* Up to n bytes of the input (fewer when it ends). */
static size_t take_bytes(struct in *in, uint8_t n, const uint8_t **p)
{
	size_t k = n < in->n ? n : in->n;

	*p = in->p;
	in->p += k;
	in->n -= k;
	return k;
}

static void on_broken(void *opaque)
{
	(void)opaque;
	broken = 1;
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

/* The guest's side of RX: check each new packet, keep the last, give the
 * buffer back. */
static void guest_rx(void)
{
	if (!active)
		return;
	while (rx_seen != vqd_used_idx(&d[VSOCK_Q_RX])) {
		uint16_t slot = rx_seen % QSIZE;
		uint32_t id, len;
		uint8_t raw[VSOCK_HDR_SIZE];
		struct vsock_hdr h;

		vqd_used_elem(&d[VSOCK_Q_RX], slot, &id, &len);
		if (id >= QSIZE || len > RXLEN)
			__builtin_trap();
		if (len >= VSOCK_HDR_SIZE) {
			gmem_read(gm, raw, RXBUF + (gpa_t)id * RXLEN, VSOCK_HDR_SIZE);
			vsock_hdr_decode(raw, &h);
			if (h.src_cid != VSOCK_HOST_CID || h.dst_cid != GUEST_CID ||
			    h.type != VSOCK_TYPE_STREAM || h.op == VSOCK_OP_INVALID ||
			    h.op > VSOCK_OP_MAX || h.len != len - VSOCK_HDR_SIZE)
				__builtin_trap();
			last = h;
			have_last = 1;
		}
		vqd_make_avail(&d[VSOCK_Q_RX], (uint16_t)id);
		rx_seen++;
	}
	vsock_ops.notify(&dev->vdev, VSOCK_Q_RX);
}

/* The host clients read whatever they were sent (so the device never waits
 * on a full socket because of us). */
static void host_read(void)
{
	static char buf[65536];

	for (int i = 0; i < ncli; i++)
		if (cli[i] >= 0)
			while (recv(cli[i], buf, sizeof(buf), MSG_DONTWAIT) > 0)
				;
}

static void settle(void)
{
	for (int i = 0; i < 4; i++) {
		run();
		host_read();
		guest_rx();
	}
	run();
	if (broken)
		__builtin_trap(); /* well-formed rings never break */
}

static void guest_tx(const struct vsock_hdr *h, const uint8_t *raw_hdr, const uint8_t *pay,
		     size_t n)
{
	uint8_t b[VSOCK_HDR_SIZE];
	gpa_t at = TXBUF + (gpa_t)(tx_next % QSIZE) * (VSOCK_HDR_SIZE + 256);
	uint16_t id = (uint16_t)(tx_next % QSIZE);

	if (!active)
		return;
	if (raw_hdr != NULL)
		memcpy(b, raw_hdr, VSOCK_HDR_SIZE);
	else
		vsock_hdr_encode(h, b);
	gmem_write(gm, at, b, VSOCK_HDR_SIZE);
	gmem_write(gm, at + VSOCK_HDR_SIZE, pay, n);
	vqd_desc(&d[VSOCK_Q_TX], id, at, (uint32_t)(VSOCK_HDR_SIZE + n), 0, 0);
	vqd_make_avail(&d[VSOCK_Q_TX], id);
	tx_next++;
	vsock_ops.notify(&dev->vdev, VSOCK_Q_TX);
	/* Serve it now: TX chains go back at once, so the ring never fills. */
	run();
}

static void step(struct in *in)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const uint8_t *p;
	size_t n;
	uint8_t op = take8(in), i;

	switch (op % 7) {
	case 0:
		n = take_bytes(in, take8(in), &p);
		if (ncli == CLIENTS)
			break;
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", uds);
		cli[ncli] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (cli[ncli] < 0 || connect(cli[ncli], (struct sockaddr *)&sa, sizeof(sa)) < 0)
			__builtin_trap();
		if (n > 0 && send(cli[ncli], p, n, MSG_NOSIGNAL) < 0 && errno != EAGAIN)
			__builtin_trap();
		ncli++;
		break;
	case 1:
		i = take8(in);
		n = take_bytes(in, take8(in), &p);
		if (ncli > 0 && cli[i % ncli] >= 0 && n > 0)
			(void)send(cli[i % ncli], p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		break;
	case 2:
		i = take8(in);
		if (ncli == 0 || cli[(i & 0x7f) % ncli] < 0)
			break;
		if (i & 0x80) {
			close(cli[(i & 0x7f) % ncli]);
			cli[(i & 0x7f) % ncli] = -1;
		} else {
			shutdown(cli[(i & 0x7f) % ncli], SHUT_WR);
		}
		break;
	case 3: {
		uint8_t raw[VSOCK_HDR_SIZE] = { 0 };

		n = take_bytes(in, VSOCK_HDR_SIZE, &p);
		memcpy(raw, p, n);
		n = take_bytes(in, take8(in), &p);
		guest_tx(NULL, raw, p, n);
		break;
	}
	case 4: {
		struct vsock_hdr h = last;

		h.src_cid = last.dst_cid;
		h.dst_cid = last.src_cid;
		h.src_port = last.dst_port;
		h.dst_port = last.src_port;
		h.op = take8(in) % 8;
		h.buf_alloc = take32(in);
		h.fwd_cnt = take32(in);
		h.flags = take8(in);
		n = take_bytes(in, take8(in), &p);
		h.len = (uint32_t)n;
		if (have_last)
			guest_tx(&h, NULL, p, n);
		break;
	}
	case 5:
		settle();
		break;
	default: {
		struct pollfd pf = { .fd = vsock_fd(dev), .events = POLLIN };

		if (waits++ < MAX_WAITS)
			poll(&pf, 1, 3);
		settle();
		break;
	}
	}
}

static void cleanup(void)
{
	unlink(uds);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct in in = { data, size };
	uint8_t control;

	if (!ready) {
		log_set_level(LOG_NONE);
		if (mkdtemp(dir) == NULL || gmem_create(FUZZ_MEM, 1ull << 30, 2ull << 30, &gm) < 0)
			return 0;
		snprintf(uds, sizeof(uds), "%s/v", dir);
		atexit(cleanup);
		ready = 1;
	}
	control = take8(&in);
	unlink(uds);
	if (vsock_create(GUEST_CID, uds, &dev) < 0)
		__builtin_trap();
	dev->vdev.hooks = (struct vdev_hooks){ NULL, NULL, on_broken, NULL };
	if (control & 8)
		dev->conns.line_timeout_ms = 1;
	gmem_fill(gm, 0, 0, FUZZ_MEM);
	for (unsigned k = 0; k < VSOCK_NUM_QUEUES; k++) {
		vqd_init(&d[k], gm, QSIZE, 0x10000ull * (k + 1));
		vq_reset(&q[k]);
		if (control & (1u << k)) {
			vqd_configure(&d[k], &q[k], 0);
			if (vq_activate(&q[k], gm, QSIZE) < 0)
				__builtin_trap();
		}
	}
	for (uint16_t k = 0; k < QSIZE; k++) {
		vqd_desc(&d[VSOCK_Q_RX], k, RXBUF + (gpa_t)k * RXLEN, RXLEN, VIRTQ_DESC_F_WRITE, 0);
		vqd_make_avail(&d[VSOCK_Q_RX], k);
		vqd_desc(&d[VSOCK_Q_EVENT], k, RXBUF - 0x1000 + 4u * k, VSOCK_EVENT_SIZE,
			 VIRTQ_DESC_F_WRITE, 0);
		vqd_make_avail(&d[VSOCK_Q_EVENT], k);
	}
	broken = 0;
	ncli = 0;
	rx_seen = 0;
	tx_next = 0;
	have_last = 0;
	active = vsock_ops.activate(&dev->vdev, q, VIRTIO_BIT(VIRTIO_F_VERSION_1)) == 0;
	if (active != ((control & 7) == 7))
		__builtin_trap(); /* activation needs all three queues, and only them */
	waits = 0;
	for (unsigned k = 0; in.n > 0 && k < MAX_OPS; k++)
		step(&in);
	settle();
	for (int i = 0; i < ncli; i++)
		if (cli[i] >= 0)
			close(cli[i]);
	if (active)
		vsock_ops.reset(&dev->vdev);
	vsock_destroy(dev);
	return 0;
}
