/* fuzz_vblk: libFuzzer harness for virtio-blk requests (vmm/devices/virtio/blk.c).
 *
 * Input: one control byte (bit 0: a read-only drive), then records, each one
 * request chain, at most FUZZ_QSIZE descriptors in all:
 *   u8   bits 0-1: number of segments - 1; bits 2-5: which segments are
 *        device-writable (segment s: bit 2 + s; every one after the first
 *        writable one is writable too, as the ring layout demands)
 *   per segment: u16 length (little-endian, mod FUZZ_SEG_MAX, 0 -> 1), then
 *        for a readable segment its bytes (the first one holds the header:
 *        type, reserved, sector, as the guest wrote them)
 * The chains go into the queue of a fresh, activated device over a 64-sector
 * scratch drive, and the device serves them until it no longer kicks itself.
 * Whatever the requests say, the device must answer every chain (the used
 * index reaches the number of chains; the rings are well-formed here,
 * fuzz_virtq_pop covers bad rings), write no more than a chain's writable
 * bytes, put a status of OK, IOERR or UNSUPP in the last writable byte,
 * never change a readable buffer, nor the drive when it is read-only. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util/log.h"
#include "tests/unit/virtq_driver.h"
#include "vmm/core/gmem.h"
#include "vmm/devices/virtio/blk.h"

#define FUZZ_MEM     (1ull << 20)
#define FUZZ_QSIZE   64u
#define FUZZ_SEG_MAX 4096u
#define SECTORS	     64u
#define BUF	     0x10000ull /* segments are laid out from here */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gmem *gm;
static char dir[] = "/tmp/fuzz-vblk-XXXXXX";
static char path[64];
static int kicks, broken;
static uint8_t disk[SECTORS * VBLK_SECTOR_SIZE], back[SECTORS * VBLK_SECTOR_SIZE];

struct chain {
	uint16_t head;
	uint32_t writable; /* bytes */
	gpa_t status;	   /* the last writable byte, if any */
};

static void h_kick(void *o, unsigned q)
{
	(void)o, (void)q;
	kicks++;
}

static void h_broken(void *o)
{
	(void)o;
	broken = 1;
}

static void cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

/* Fills the drive with a pattern; returns 0 or traps. */
static void fresh_disk(void)
{
	FILE *f = fopen(path, "w");

	for (size_t i = 0; i < sizeof(disk); i++)
		disk[i] = (uint8_t)(i * 13 + 7);
	if (f == NULL || fwrite(disk, 1, sizeof(disk), f) != sizeof(disk))
		__builtin_trap();
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static struct chain ch[FUZZ_QSIZE];
	static uint8_t mem[FUZZ_MEM];
	struct vblk b;
	struct vqd d;
	struct vq vq;
	size_t off = 1;
	uint16_t desc = 0, n = 0;
	gpa_t buf = BUF;
	char err[128];
	bool ro;

	if (!ready) {
		log_set_level(LOG_NONE);
		if (mkdtemp(dir) == NULL || gmem_create(FUZZ_MEM, 1ull << 30, 2ull << 30, &gm) < 0)
			return 0;
		snprintf(path, sizeof(path), "%s/disk", dir);
		atexit(cleanup);
		ready = 1;
	}
	if (size < 1)
		return 0;
	ro = data[0] & 1;
	fresh_disk();
	if (vblk_open(&b, path, ro, "fuzz-drive", err, sizeof(err)) < 0)
		__builtin_trap();
	b.vdev.hooks = (struct vdev_hooks){ h_kick, NULL, h_broken, NULL };
	gmem_fill(gm, 0, 0xa5, FUZZ_MEM);
	vqd_init(&d, gm, FUZZ_QSIZE, 0x1000);
	vq_reset(&vq);
	vqd_configure(&d, &vq, 0);
	if (vq_activate(&vq, gm, FUZZ_QSIZE) < 0 || b.ops.activate(&b.vdev, &vq, 0) < 0)
		__builtin_trap();

	while (off < size && desc < FUZZ_QSIZE) {
		unsigned nseg = (data[off] & 3u) + 1, wmask = data[off] >> 2;
		struct chain *c = &ch[n];

		off++;
		*c = (struct chain){ .head = desc };
		bool seen_w = false;

		for (unsigned s = 0; s < nseg && desc < FUZZ_QSIZE; s++) {
			/* Readable before writable (2.7.4.2): else the ring is malformed. */
			bool w = seen_w || (wmask & (1u << s));
			uint32_t len = 1;
			bool more = s + 1 < nseg && desc + 1u < FUZZ_QSIZE;

			if (off + 2 <= size) {
				len = (uint32_t)(data[off] | data[off + 1] << 8) % FUZZ_SEG_MAX;
				off += 2;
			}
			if (len == 0)
				len = 1;
			if (!w) {
				size_t have = off < size ? size - off : 0;
				size_t k = len < have ? len : have;

				gmem_write(gm, buf, data + off, k);
				off += k;
			} else {
				c->writable += len;
				c->status = buf + len - 1;
				seen_w = true;
			}
			vqd_desc(&d, desc, buf, len,
				 (uint16_t)((w ? VIRTQ_DESC_F_WRITE : 0) |
					    (more ? VIRTQ_DESC_F_NEXT : 0)),
				 (uint16_t)(desc + 1));
			buf += len;
			desc++;
		}
		vqd_make_avail(&d, c->head);
		n++;
	}
	/* What the guest's buffers hold before the device runs. */
	gmem_read(gm, mem, 0, FUZZ_MEM);

	broken = 0;
	kicks = 1;
	for (int i = 0; i < 100 && kicks > 0; i++) {
		kicks = 0;
		b.ops.process(&b.vdev, 0);
	}
	if (kicks > 0 || broken || vqd_used_idx(&d) != n)
		__builtin_trap(); /* every chain is answered, the device goes idle */
	for (uint16_t slot = 0; slot < n; slot++) {
		uint32_t id, len;
		const struct chain *c = NULL;

		vqd_used_elem(&d, slot, &id, &len);
		for (uint16_t k = 0; k < n; k++)
			if (ch[k].head == id)
				c = &ch[k];
		if (c == NULL || len > c->writable)
			__builtin_trap();
		if (c->writable > 0 && len > 0) {
			uint8_t st;

			gmem_read(gm, &st, c->status, 1);
			if (st != VIRTIO_BLK_S_OK && st != VIRTIO_BLK_S_IOERR &&
			    st != VIRTIO_BLK_S_UNSUPP)
				__builtin_trap();
		}
	}
	/* Readable buffers (the bytes before each chain's first writable one
	 * are among them) are the guest's: the device never writes them. A
	 * cheap whole check: everything outside writable segments is unchanged. */
	{
		static uint8_t after[FUZZ_MEM];
		gpa_t p = BUF;

		gmem_read(gm, after, 0, FUZZ_MEM);
		for (uint16_t i = 0; i < desc; i++) {
			uint64_t a;
			uint32_t l;
			uint16_t fl;
			uint8_t raw[16];

			gmem_read(gm, raw, d.desc + 16ull * i, 16);
			memcpy(&a, raw, 8);
			memcpy(&l, raw + 8, 4);
			memcpy(&fl, raw + 12, 2);
			if (fl & VIRTQ_DESC_F_WRITE)
				memcpy(after + a, mem + a, l); /* allowed to differ */
			p = a + l;
		}
		(void)p;
		if (memcmp(after + BUF, mem + BUF, FUZZ_MEM - BUF) != 0)
			__builtin_trap();
	}
	vblk_close(&b);
	if (ro) {
		FILE *f = fopen(path, "r");

		if (f == NULL || fread(back, 1, sizeof(back), f) != sizeof(back) ||
		    memcmp(back, disk, sizeof(disk)) != 0)
			__builtin_trap(); /* a read-only drive changed */
		fclose(f);
	}
	return 0;
}
