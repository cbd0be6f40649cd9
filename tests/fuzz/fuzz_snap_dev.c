/* fuzz_snap_dev: libFuzzer harness for the device snapshot sections (DMIO, DURT, DKBD, DBLK, DVSK).
 *
 * Input: one control byte, one version byte, then a section payload (after
 * the instance number, which the harness writes: 0).
 * - Control % 6 picks the section and the device it is restored into, fresh
 *   as the builder makes it: 0 DMIO over blk, 1 DMIO over vsock (both with
 *   guest memory), 2 DURT (serial), 3 DKBD (i8042), 4 DBLK (a 64-sector
 *   scratch drive), 5 DVSK (guest CID 3).
 * - The version byte % 4 is the section's version (newer than the device
 *   knows must be refused).
 * The section goes through the real file framing (snap_w_*, snap_file_parse)
 * and snap_dev_restore(). Whatever it holds, restore must not crash, read
 * past the section or leak; a refusal is -EBADMSG, -ENOENT or -EINVAL-like
 * (negative). After a restore that succeeds, the device must be usable: its
 * registers are read (and for DMIO the status is one of the transport's
 * table with every queue ready while it runs, and the device's loop work
 * goes idle), and saving it again and restoring that into another fresh
 * device must succeed (restore accepts what save writes). */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/snapfile/format.h"
#include "lib/util/log.h"
#include "vmm/core/gmem.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/serial.h"
#include "vmm/devices/virtio/blk.h"
#include "vmm/devices/virtio/mmio.h"
#include "vmm/devices/virtio/vsock/vsock.h"
#include "vmm/snapshot/dev.h"

#define FUZZ_MEM (1ull << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gmem *gm;
static char dir[] = "/tmp/fuzz-snapdev-XXXXXX";
static char disk[64], uds[64];

/* One device of the kind the control byte picks, with what it sits on. */
struct unit {
	unsigned kind;
	struct vmmio t;
	struct vblk blk;
	struct vsock_dev *vs;
	struct serial uart;
	struct i8042 kbd;
	int kicks;
};

static void no_irq(void *o)
{
	(void)o;
}

static void no_level(void *o, int level)
{
	(void)o, (void)level;
}

static void no_kbd_irq(void *o, enum i8042_irq line, int level)
{
	(void)o, (void)line, (void)level;
}

static void h_kick(void *o, unsigned q)
{
	(void)q;
	((struct unit *)o)->kicks++;
}

static void h_used(void *o, unsigned q)
{
	vmmio_used(&((struct unit *)o)->t, q);
}

static void h_broken(void *o)
{
	vmmio_queue_broken(&((struct unit *)o)->t);
}

static const struct snap_dev_ops *ops_of(unsigned kind)
{
	switch (kind) {
	case 0:
	case 1:
		return &vmmio_snap_ops;
	case 2:
		return &serial_snap_ops;
	case 3:
		return &i8042_snap_ops;
	case 4:
		return &vblk_snap_ops;
	default:
		return &vsock_snap_ops;
	}
}

static void *dev_of(struct unit *u)
{
	switch (u->kind) {
	case 0:
	case 1:
		return &u->t;
	case 2:
		return &u->uart;
	case 3:
		return &u->kbd;
	case 4:
		return &u->blk.vdev;
	default:
		return &u->vs->vdev;
	}
}

static void open_blk(struct unit *u)
{
	FILE *f = fopen(disk, "w");
	char err[128];

	if (f == NULL || ftruncate(fileno(f), 64 * 512) < 0)
		__builtin_trap();
	fclose(f);
	if (vblk_open(&u->blk, disk, false, "vda", err, sizeof(err)) < 0)
		__builtin_trap();
	u->blk.vdev.hooks = (struct vdev_hooks){ h_kick, h_used, h_broken, u };
}

static void open_vsock(struct unit *u)
{
	unlink(uds);
	if (vsock_create(3, uds, &u->vs) < 0)
		__builtin_trap();
	u->vs->vdev.hooks = (struct vdev_hooks){ h_kick, h_used, h_broken, u };
}

static void unit_open(struct unit *u, unsigned kind)
{
	memset(u, 0, sizeof(*u));
	u->kind = kind;
	gmem_fill(gm, 0, 0, FUZZ_MEM);
	switch (kind) {
	case 0:
	case 1:
		if (kind == 0)
			open_blk(u);
		else
			open_vsock(u);
		if (vmmio_init(&u->t, kind == 0 ? &u->blk.vdev : &u->vs->vdev, gm,
			       (struct vmmio_irq){ no_irq, NULL }) < 0)
			__builtin_trap();
		break;
	case 2:
		serial_init(&u->uart, (struct serial_irq){ .set = no_level });
		break;
	case 3:
		i8042_init(&u->kbd, no_irq, NULL, no_kbd_irq, NULL);
		break;
	case 4:
		open_blk(u);
		break;
	default:
		open_vsock(u);
		break;
	}
}

static void unit_close(struct unit *u)
{
	if (u->kind <= 1)
		vmmio_destroy(&u->t);
	if (u->kind == 2)
		serial_destroy(&u->uart);
	if (u->kind == 3)
		i8042_destroy(&u->kbd);
	if (u->kind == 0 || u->kind == 4) {
		if (u->kind == 4)
			u->blk.ops.reset(&u->blk.vdev);
		vblk_close(&u->blk);
	}
	if (u->kind == 1 || u->kind == 5) {
		if (u->kind == 5)
			vsock_ops.reset(&u->vs->vdev);
		vsock_destroy(u->vs);
	}
}

/* The device's loop work until idle (the transport's restore kicks). */
static void run(struct unit *u)
{
	if (u->vs != NULL) {
		for (int i = 0; i < 1000; i++) {
			struct pollfd p = { .fd = vsock_fd(u->vs), .events = POLLIN };

			if (poll(&p, 1, 0) <= 0)
				return;
			vsock_run(u->vs);
		}
		__builtin_trap();
	}
	for (int i = 0; i < 1000 && u->kicks > 0; i++) {
		u->kicks = 0;
		u->blk.ops.process(&u->blk.vdev, 0);
	}
	if (u->kicks > 0)
		__builtin_trap();
}

static void check_mmio(struct unit *u)
{
	uint32_t s = vmmio_status(&u->t) & ~(uint32_t)VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	uint32_t base = s & ~(uint32_t)VIRTIO_STATUS_FAILED;
	const uint32_t a = VIRTIO_STATUS_ACKNOWLEDGE, d = VIRTIO_STATUS_DRIVER,
		       f = VIRTIO_STATUS_FEATURES_OK, k = VIRTIO_STATUS_DRIVER_OK;

	if (base != 0 && base != a && base != (a | d) && base != (a | d | f) &&
	    base != (a | d | f | k))
		__builtin_trap();
	if ((s & k) && !(s & VIRTIO_STATUS_FAILED) &&
	    !__atomic_load_n(&u->t.needs_reset, __ATOMIC_ACQUIRE))
		for (unsigned q = 0; q < u->t.dev->ops->num_queues; q++)
			if (!u->t.ready[q])
				__builtin_trap();
	run(u);
}

/* Reads every register of the restored device. */
static void exercise(struct unit *u)
{
	uint8_t b[8];

	if (u->kind <= 1) {
		check_mmio(u);
		for (uint64_t off = 0; off < 0x100; off += 4)
			vmmio_read(&u->t, off, b, 4);
		for (uint64_t off = 0x100; off < 0x110; off++)
			vmmio_read(&u->t, off, b, 1);
	} else if (u->kind == 2) {
		for (uint64_t off = 0; off < 8; off++)
			serial_ops.read(&u->uart, off, b, 1);
	} else if (u->kind == 3) {
		for (int i = 0; i < 4; i++) {
			i8042_cmd_ops.read(&u->kbd, 0, b, 1);
			i8042_data_ops.read(&u->kbd, 0, b, 1);
		}
	}
}

static int restore(struct unit *u, const struct snap_writer *w)
{
	static struct snap_file f;

	if (snap_file_parse(w->buf, w->len, &f) < 0)
		__builtin_trap(); /* the harness wrote a well-framed file */
	return snap_dev_restore(ops_of(u->kind), dev_of(u), 0, &f);
}

static void cleanup(void)
{
	unlink(disk);
	unlink(uds);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static struct unit a, b;
	struct snap_writer w = { 0 }, again = { 0 };
	const struct snap_dev_ops *ops;
	unsigned kind;
	uint32_t version;

	if (!ready) {
		log_set_level(LOG_NONE);
		if (mkdtemp(dir) == NULL || gmem_create(FUZZ_MEM, 1ull << 30, 2ull << 30, &gm) < 0)
			return 0;
		snprintf(disk, sizeof(disk), "%s/disk", dir);
		snprintf(uds, sizeof(uds), "%s/v", dir);
		atexit(cleanup);
		ready = 1;
	}
	if (size < 2)
		return 0;
	kind = data[0] % 6;
	version = data[1] % 4;
	ops = ops_of(kind);
	if (snap_w_init(&w) < 0)
		return 0;
	snap_w_section_begin(&w, ops->tag, version);
	snap_w_u32(&w, 0);
	snap_w_bytes(&w, data + 2, size - 2);
	snap_w_section_end(&w);
	if (snap_w_finish(&w) < 0) {
		snap_w_free(&w);
		return 0; /* over the writer's own bounds */
	}
	unit_open(&a, kind);
	if (restore(&a, &w) == 0) {
		if (version > ops->version)
			__builtin_trap(); /* a newer layout than this ember knows */
		exercise(&a);
		/* What save writes from here, restore takes. */
		if (snap_w_init(&again) < 0 || snap_dev_save(ops, dev_of(&a), 0, &again) < 0 ||
		    snap_w_finish(&again) < 0)
			__builtin_trap();
		unit_close(&a);
		unit_open(&b, kind);
		if (restore(&b, &again) != 0)
			__builtin_trap();
		exercise(&b);
		unit_close(&b);
		snap_w_free(&again);
	} else {
		exercise(&a);
		unit_close(&a);
	}
	snap_w_free(&w);
	return 0;
}
