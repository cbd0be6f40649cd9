/* fuzz_virtio_mmio: libFuzzer harness for the virtio-mmio register/status machine (vmm/devices/virtio/mmio.c).
 *
 * Input: one control byte (bit 0: the device behind the transport, 0 blk on
 * a scratch file, 1 vsock on a scratch Unix socket), then operations, each an
 * opcode byte and its arguments (a short input ends the operation early):
 *   0 write32 to register R:  u8 R (an index into the register list, or a raw
 *     offset when past it: then u16 offset), u32 value
 *   1 read32 of register R (as above)
 *   2 config space access:     u8 offset, u8 size (1..8), u8 write?, value
 *   3 any access:              u16 offset, u8 size (1..8), u8 write?, value
 *   4 the device's event-loop work (blk: process queue 0; vsock: vsock_run),
 *     until idle
 *   5 guest memory write in the ring area: u16 offset, u8 length, bytes
 *   6 a driver's setup: ACK, DRIVER, VERSION_1, FEATURES_OK, then for each
 *     queue whose bit is set in a u8 mask: its size (u8, as a shift) and
 *     well-placed rings, QueueReady; then DRIVER_OK
 *   7 reset (status 0)
 * After each operation the transport must be in a state of its table: the
 * status one of 0, ACK, +DRIVER, +FEATURES_OK, +DRIVER_OK, any of them with
 * FAILED, and a device running (DRIVER_OK, no NEEDS_RESET) must have every
 * queue ready (a device activated with a queue left unset would spin: issue
 * 19). MagicValue and Version always read back right; the device's loop
 * work always goes idle. Everything is fresh per input. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util/log.h"
#include "vmm/core/gmem.h"
#include "vmm/devices/virtio/blk.h"
#include "vmm/devices/virtio/mmio.h"
#include "vmm/devices/virtio/vsock/vsock.h"

#define FUZZ_MEM  (1ull << 20)
#define RING_BASE 0x10000ull /* rings of queue q at RING_BASE + 0x4000 * q */
#define RING_SPAN 0x10000u
#define S_ACK	  VIRTIO_STATUS_ACKNOWLEDGE
#define S_DRV	  VIRTIO_STATUS_DRIVER
#define S_FEAT	  VIRTIO_STATUS_FEATURES_OK
#define S_DOK	  VIRTIO_STATUS_DRIVER_OK
#define S_FAIL	  VIRTIO_STATUS_FAILED

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t regs[] = {
	VIRTIO_MMIO_MAGIC_VALUE,       VIRTIO_MMIO_VERSION,
	VIRTIO_MMIO_DEVICE_ID,	       VIRTIO_MMIO_VENDOR_ID,
	VIRTIO_MMIO_DEVICE_FEATURES,   VIRTIO_MMIO_DEVICE_FEATURES_SEL,
	VIRTIO_MMIO_DRIVER_FEATURES,   VIRTIO_MMIO_DRIVER_FEATURES_SEL,
	VIRTIO_MMIO_QUEUE_SEL,	       VIRTIO_MMIO_QUEUE_NUM_MAX,
	VIRTIO_MMIO_QUEUE_NUM,	       VIRTIO_MMIO_QUEUE_READY,
	VIRTIO_MMIO_QUEUE_NOTIFY,      VIRTIO_MMIO_INTERRUPT_STATUS,
	VIRTIO_MMIO_INTERRUPT_ACK,     VIRTIO_MMIO_STATUS,
	VIRTIO_MMIO_QUEUE_DESC_LOW,    VIRTIO_MMIO_QUEUE_DESC_HIGH,
	VIRTIO_MMIO_QUEUE_DRIVER_LOW,  VIRTIO_MMIO_QUEUE_DRIVER_HIGH,
	VIRTIO_MMIO_QUEUE_DEVICE_LOW,  VIRTIO_MMIO_QUEUE_DEVICE_HIGH,
	VIRTIO_MMIO_CONFIG_GENERATION,
};
#define NREGS (sizeof(regs) / sizeof(regs[0]))

static struct gmem *gm;
static char dir[] = "/tmp/fuzz-mmio-XXXXXX";
static char path[64];
static int kicks;

/* One input's machine. */
static struct vmmio t;
static struct vblk blk;
static struct vsock_dev *vs;
static struct vdev *dev;

struct in {
	const uint8_t *p;
	size_t n;
};

static int take(struct in *in, void *out, size_t len)
{
	if (in->n < len) {
		memset(out, 0, len);
		in->n = 0;
		return -1;
	}
	memcpy(out, in->p, len);
	in->p += len;
	in->n -= len;
	return 0;
}

static void h_kick(void *o, unsigned q)
{
	(void)o, (void)q;
	kicks++;
}

static void h_used(void *o, unsigned q)
{
	vmmio_used(&t, q);
	(void)o;
}

static void h_broken(void *o)
{
	(void)o;
	vmmio_queue_broken(&t);
}

static void raise_irq(void *o)
{
	(void)o;
}

static void wr32(uint64_t off, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	vmmio_write(&t, off, b, 4);
}

static uint32_t rd32(uint64_t off)
{
	uint8_t b[4];

	vmmio_read(&t, off, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint16_t reg_of(struct in *in)
{
	uint8_t i = 0;
	uint16_t off = 0;

	take(in, &i, 1);
	if (i < NREGS)
		return regs[i];
	take(in, &off, 2);
	return off;
}

/* The device's event-loop work until it is idle. */
static void run_device(void)
{
	if (vs != NULL) {
		for (int i = 0; i < 1000; i++) {
			struct pollfd p = { .fd = vsock_fd(vs), .events = POLLIN };

			if (poll(&p, 1, 0) <= 0)
				return;
			vsock_run(vs);
		}
		__builtin_trap(); /* the device must go idle */
	}
	for (int i = 0; i < 1000 && kicks > 0; i++) {
		kicks = 0;
		dev->ops->process(dev, 0);
	}
	if (kicks > 0)
		__builtin_trap();
}

static void setup(struct in *in)
{
	uint8_t mask = 0;

	take(in, &mask, 1);
	wr32(VIRTIO_MMIO_STATUS, S_ACK);
	wr32(VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	wr32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr32(VIRTIO_MMIO_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
	wr32(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FEAT);
	for (unsigned q = 0; q < dev->ops->num_queues; q++) {
		gpa_t base = RING_BASE + 0x4000ull * q;
		uint8_t shift = 0;

		if (!(mask & (1u << q)))
			continue;
		take(in, &shift, 1);
		wr32(VIRTIO_MMIO_QUEUE_SEL, q);
		wr32(VIRTIO_MMIO_QUEUE_NUM, 1u << (shift % 10));
		wr32(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)base);
		wr32(VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)base + 0x2000);
		wr32(VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)base + 0x3000);
		wr32(VIRTIO_MMIO_QUEUE_READY, 1);
	}
	wr32(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FEAT | S_DOK);
}

static void check(void)
{
	uint32_t s = vmmio_status(&t) & ~(uint32_t)VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	uint32_t base = s & ~(uint32_t)S_FAIL;

	if (base != 0 && base != S_ACK && base != (S_ACK | S_DRV) &&
	    base != (S_ACK | S_DRV | S_FEAT) && base != (S_ACK | S_DRV | S_FEAT | S_DOK))
		__builtin_trap();
	if ((s & S_DOK) && !(s & S_FAIL) && !__atomic_load_n(&t.needs_reset, __ATOMIC_ACQUIRE))
		for (unsigned q = 0; q < dev->ops->num_queues; q++)
			if (!t.ready[q])
				__builtin_trap(); /* running with a queue left unset */
	if (rd32(VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC ||
	    rd32(VIRTIO_MMIO_VERSION) != VIRTIO_MMIO_VERSION_MODERN)
		__builtin_trap();
}

static void reg_access(struct in *in, uint64_t off)
{
	uint8_t size = 0, write = 0, val[8];

	take(in, &size, 1);
	take(in, &write, 1);
	size = (uint8_t)(size % 8 + 1);
	if (write & 1) {
		take(in, val, size);
		vmmio_write(&t, off, val, size);
	} else {
		vmmio_read(&t, off, val, size);
	}
}

static void step(struct in *in)
{
	uint8_t op = 0, len = 0, buf[256];
	uint16_t off = 0;
	uint32_t v = 0;

	take(in, &op, 1);
	switch (op % 8) {
	case 0:
		off = reg_of(in);
		take(in, &v, 4);
		wr32(off, v);
		break;
	case 1:
		(void)rd32(reg_of(in));
		break;
	case 2:
		take(in, &len, 1);
		reg_access(in, VIRTIO_MMIO_CONFIG + len % 32);
		break;
	case 3:
		take(in, &off, 2);
		reg_access(in, off);
		break;
	case 4:
		run_device();
		break;
	case 5:
		take(in, &off, 2);
		take(in, &len, 1);
		if (len > in->n)
			len = (uint8_t)in->n;
		take(in, buf, len);
		gmem_write(gm, RING_BASE + off % RING_SPAN, buf, len);
		break;
	case 6:
		setup(in);
		break;
	default:
		wr32(VIRTIO_MMIO_STATUS, 0);
		break;
	}
}

static void cleanup(void)
{
	snprintf(path, sizeof(path), "%s/disk", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/v", dir);
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct vmmio_irq irq = { raise_irq, NULL };
	struct in in = { data, size };
	uint8_t control = 0;
	char err[128];

	if (!ready) {
		log_set_level(LOG_NONE);
		if (mkdtemp(dir) == NULL || gmem_create(FUZZ_MEM, 1ull << 30, 2ull << 30, &gm) < 0)
			return 0;
		atexit(cleanup);
		ready = 1;
	}
	take(&in, &control, 1);
	gmem_fill(gm, 0, 0, FUZZ_MEM);
	kicks = 0;
	vs = NULL;
	if (control & 1) {
		snprintf(path, sizeof(path), "%s/v", dir);
		unlink(path);
		if (vsock_create(3, path, &vs) < 0)
			__builtin_trap();
		dev = &vs->vdev;
	} else {
		FILE *f;

		snprintf(path, sizeof(path), "%s/disk", dir);
		f = fopen(path, "w");
		if (f == NULL || ftruncate(fileno(f), 64 * 512) < 0)
			__builtin_trap();
		fclose(f);
		if (vblk_open(&blk, path, (control & 2) != 0, "vda", err, sizeof(err)) < 0)
			__builtin_trap();
		dev = &blk.vdev;
	}
	dev->hooks = (struct vdev_hooks){ h_kick, h_used, h_broken, NULL };
	if (vmmio_init(&t, dev, gm, irq) < 0)
		__builtin_trap();
	while (in.n > 0) {
		step(&in);
		check();
	}
	run_device();
	check();
	wr32(VIRTIO_MMIO_STATUS, 0);
	vmmio_destroy(&t);
	if (vs != NULL)
		vsock_destroy(vs);
	else
		vblk_close(&blk);
	return 0;
}
