/* blk_raw: a hostile guest's virtio-blk driver: raw requests that only ember-vmm's checks stop.
 *
 * The kernel's block layer refuses writes to a read-only disk and I/O past
 * its end before a request reaches the device, so tests through /dev/vdX
 * never exercise ember-vmm's own checks. This program takes a disk away from
 * the kernel (unbinds virtio_blk through sysfs), then drives the device's
 * virtio-mmio registers itself through /dev/mem, with rings and buffers in
 * its own locked pages (their guest-physical addresses from
 * /proc/self/pagemap), and sends requests a real driver never would.
 *
 * Parameters (from /proc/cmdline):
 *   blkraw.ro=vda   a read-only drive holding the blk_check pattern
 *                   ((i/512)*31 + (i%512)*7 + seed, mod 256) with blkraw.roseed
 *   blkraw.rw=vdb   a read-write drive with that pattern and blkraw.rwseed
 * For each request it prints "blkraw: DEV CASE status=N" (N: the status byte
 * the device wrote; 255 means it wrote none), plus " data=ok|bad" for reads
 * that succeeded. Before the requests: "blkraw: DEV window=ADDR ro_feature=B
 * capacity=SECTORS". It ends with "blkraw: done" and exits 0, or prints
 * "blkraw: error: ..." and exits 1 when the device could not be driven at
 * all (which is not what the test checks). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "tests/guests/guest_param.h"

/* virtio 1.x, 4.2.2 (MMIO registers) and 5.2 (block device). */
#define R_MAGIC		0x000
#define R_VERSION	0x004
#define R_DEVICE_ID	0x008
#define R_DEV_FEAT	0x010
#define R_DEV_FEAT_SEL	0x014
#define R_DRV_FEAT	0x020
#define R_DRV_FEAT_SEL	0x024
#define R_QUEUE_SEL	0x030
#define R_QUEUE_NUM_MAX 0x034
#define R_QUEUE_NUM	0x038
#define R_QUEUE_READY	0x044
#define R_QUEUE_NOTIFY	0x050
#define R_STATUS	0x070
#define R_DESC_LO	0x080
#define R_DESC_HI	0x084
#define R_AVAIL_LO	0x090
#define R_AVAIL_HI	0x094
#define R_USED_LO	0x0a0
#define R_USED_HI	0x0a4
#define R_CONFIG	0x100 /* capacity, le64 */

#define MAGIC	      0x74726976u
#define ID_BLOCK      2u
#define S_ACK	      1u
#define S_DRIVER      2u
#define S_DRIVER_OK   4u
#define S_FEATURES_OK 8u
#define F_RO	      5u /* VIRTIO_BLK_F_RO, in the low feature word */
#define F_VERSION_1   0u /* bit 32: bit 0 of the high feature word */

#define T_IN	 0u
#define T_OUT	 1u
#define T_BOGUS	 0x7fu
#define D_NEXT	 1u
#define D_WRITE	 2u
#define NO_IRQ	 1u /* VIRTQ_AVAIL_F_NO_INTERRUPT: we poll the used ring */
#define QSIZE	 8u
#define SECTOR	 512u
#define PAGE	 4096u
#define NO_STATE 0xffu /* the status byte before the device writes it */
#define WAIT_S	 30

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* One device taken from the kernel: its registers and our three pages. */
struct raw {
	const char *dev;
	volatile uint8_t *win;
	uint8_t *ring, *req, *data; /* page: descriptors+avail+used; header+status; data */
	uint64_t ring_pa, req_pa, data_pa;
	uint16_t avail_idx;
	uint64_t capacity;
};

__attribute__((format(printf, 1, 2), noreturn)) static void fail(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	printf("blkraw: error: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (errno %s)\n", strerror(err));
	exit(1);
}

static uint32_t rd(struct raw *r, unsigned off)
{
	return *(volatile uint32_t *)(r->win + off);
}

static void wr(struct raw *r, unsigned off, uint32_t v)
{
	*(volatile uint32_t *)(r->win + off) = v;
}

static uint8_t pattern(uint64_t i, unsigned seed)
{
	return (uint8_t)((i / 512) * 31 + (i % 512) * 7 + seed);
}

/* A locked page of our own and its guest-physical address. No swap,
 * compaction or THP in the guest kernel, so a locked page stays put. */
static uint8_t *page(uint64_t *pa)
{
	uint8_t *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_LOCKED, -1, 0);
	uint64_t entry = 0;
	int fd;

	if (p == MAP_FAILED)
		fail("mmap");
	memset(p, 0, PAGE);
	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0 || pread(fd, &entry, sizeof(entry), (off_t)((uintptr_t)p / PAGE * 8)) != 8)
		fail("/proc/self/pagemap");
	close(fd);
	if (!(entry >> 63) || (entry & ((1ull << 55) - 1)) == 0)
		fail("no frame for a locked page");
	*pa = (entry & ((1ull << 55) - 1)) * PAGE;
	return p;
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		fail("writing %s to %s", text, path);
	close(fd);
}

/* /sys/block/DEV/device is .../virtio-mmio.K/virtioN; /proc/iomem names
 * virtio-mmio.K's window. Unbinds virtioN from virtio_blk, maps the window. */
static void take_device(struct raw *r)
{
	char link[PATH_MAX], path[128], line[256], virtio[64], platform[64];
	unsigned long long start = 0, end;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/sys/block/%s/device", r->dev);
	if (realpath(path, link) == NULL)
		fail("%s", path);
	snprintf(virtio, sizeof(virtio), "%s", basename(link));
	snprintf(platform, sizeof(platform), "%s", basename(dirname(link)));
	f = fopen("/proc/iomem", "r");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		char *name = strstr(line, " : ");

		line[strcspn(line, "\n")] = '\0';
		if (name != NULL && strcmp(name + 3, platform) == 0 &&
		    sscanf(line, " %llx-%llx", &start, &end) == 2)
			break;
		start = 0;
	}
	if (f != NULL)
		fclose(f);
	if (start == 0)
		fail("no window for %s in /proc/iomem", platform);
	write_file("/sys/bus/virtio/drivers/virtio_blk/unbind", virtio);
	if (access(path, F_OK) == 0)
		fail("%s is still there after the unbind", path);
	fd = open("/dev/mem", O_RDWR | O_SYNC);
	r->win = fd < 0 ? MAP_FAILED
			: mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)start);
	if (r->win == MAP_FAILED)
		fail("/dev/mem at %s", platform);
	/* The kernel let go: it reset the device and acknowledged it again. */
	if (rd(r, R_MAGIC) != MAGIC || rd(r, R_VERSION) != 2 || rd(r, R_DEVICE_ID) != ID_BLOCK ||
	    rd(r, R_STATUS) != S_ACK)
		fail("%s at %s is not an unbound virtio-blk device", platform, virtio);
	printf("blkraw: %s window=%#llx ", r->dev, start);
}

/* 3.1.1: reset, ACKNOWLEDGE, DRIVER, VERSION_1 only, FEATURES_OK, one queue, DRIVER_OK. */
static void start_device(struct raw *r)
{
	uint32_t low;

	r->ring = page(&r->ring_pa);
	r->req = page(&r->req_pa);
	r->data = page(&r->data_pa);
	wr(r, R_STATUS, 0);
	wr(r, R_STATUS, S_ACK);
	wr(r, R_STATUS, S_ACK | S_DRIVER);
	wr(r, R_DEV_FEAT_SEL, 0);
	low = rd(r, R_DEV_FEAT);
	wr(r, R_DRV_FEAT_SEL, 0);
	wr(r, R_DRV_FEAT, 0);
	wr(r, R_DRV_FEAT_SEL, 1);
	wr(r, R_DRV_FEAT, 1u << F_VERSION_1);
	wr(r, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	if (!(rd(r, R_STATUS) & S_FEATURES_OK))
		fail("%s refused VERSION_1", r->dev);
	wr(r, R_QUEUE_SEL, 0);
	if (rd(r, R_QUEUE_NUM_MAX) < QSIZE)
		fail("%s: queue too small", r->dev);
	wr(r, R_QUEUE_NUM, QSIZE);
	/* One page: descriptors at 0, available ring at 256, used ring at 512. */
	wr(r, R_DESC_LO, (uint32_t)r->ring_pa);
	wr(r, R_DESC_HI, (uint32_t)(r->ring_pa >> 32));
	wr(r, R_AVAIL_LO, (uint32_t)(r->ring_pa + 256));
	wr(r, R_AVAIL_HI, (uint32_t)((r->ring_pa + 256) >> 32));
	wr(r, R_USED_LO, (uint32_t)(r->ring_pa + 512));
	wr(r, R_USED_HI, (uint32_t)((r->ring_pa + 512) >> 32));
	*(volatile uint16_t *)(r->ring + 256) = NO_IRQ;
	wr(r, R_QUEUE_READY, 1);
	wr(r, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	if (rd(r, R_STATUS) != (S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK))
		fail("%s did not start", r->dev);
	r->capacity = (uint64_t)rd(r, R_CONFIG) | (uint64_t)rd(r, R_CONFIG + 4) << 32;
	printf("ro_feature=%u capacity=%llu\n", (low >> F_RO) & 1u,
	       (unsigned long long)r->capacity);
}

/* One request: header, data (len bytes, skipped if 0), status. Returns the
 * status byte the device wrote, or NO_STATE. */
static unsigned request(struct raw *r, uint32_t type, uint64_t sector, uint32_t len)
{
	struct desc *d = (struct desc *)r->ring;
	volatile uint16_t *avail_idx = (volatile uint16_t *)(r->ring + 256 + 2);
	volatile uint16_t *avail_ring = (volatile uint16_t *)(r->ring + 256 + 4);
	volatile uint16_t *used_idx = (volatile uint16_t *)(r->ring + 512 + 2);
	volatile uint8_t *status = r->req + 64;
	struct timespec now, until;
	unsigned n = 0;

	memcpy(r->req, &type, 4);
	memset(r->req + 4, 0, 4);
	memcpy(r->req + 8, &sector, 8);
	*status = NO_STATE;
	d[n] = (struct desc){ r->req_pa, 16, D_NEXT, (uint16_t)(n + 1) };
	n++;
	if (len > 0) {
		d[n] = (struct desc){ r->data_pa, len, D_NEXT | (type == T_OUT ? 0 : D_WRITE),
				      (uint16_t)(n + 1) };
		n++;
	}
	d[n] = (struct desc){ r->req_pa + 64, 1, D_WRITE, 0 };
	avail_ring[r->avail_idx % QSIZE] = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* the chain before the index */
	*avail_idx = ++r->avail_idx;
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* the index before the kick */
	wr(r, R_QUEUE_NOTIFY, 0);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += WAIT_S;
	while (*used_idx != r->avail_idx) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > until.tv_sec)
			fail("%s: no answer from the device in %d s", r->dev, WAIT_S);
		sched_yield();
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return *status;
}

static void report(struct raw *r, const char *what, unsigned status)
{
	printf("blkraw: %s %s status=%u\n", r->dev, what, status);
}

/* A read of len bytes at sector, checked against the drive's pattern. */
static void read_case(struct raw *r, const char *what, uint64_t sector, uint32_t len, unsigned seed)
{
	unsigned st;
	bool ok = true;

	memset(r->data, 0x5a, len);
	st = request(r, T_IN, sector, len);
	if (st != 0) {
		report(r, what, st);
		return;
	}
	for (uint32_t i = 0; i < len; i++)
		ok = ok && r->data[i] == pattern(sector * SECTOR + i, seed);
	printf("blkraw: %s %s status=%u data=%s\n", r->dev, what, st, ok ? "ok" : "bad");
}

static void write_case(struct raw *r, const char *what, uint64_t sector, uint32_t len, uint8_t fill)
{
	memset(r->data, fill, len);
	report(r, what, request(r, T_OUT, sector, len));
}

static void stop_device(struct raw *r)
{
	wr(r, R_STATUS, 0);
}

int main(void)
{
	struct raw ro = { 0 }, rw = { 0 };
	unsigned roseed, rwseed;
	uint64_t end;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (guest_param_load() < 0)
		fail("/proc/cmdline");
	ro.dev = guest_param("blkraw.ro", "vda");
	rw.dev = guest_param("blkraw.rw", "vdb");
	roseed = (unsigned)strtoul(guest_param("blkraw.roseed", "3"), NULL, 0);
	rwseed = (unsigned)strtoul(guest_param("blkraw.rwseed", "5"), NULL, 0);

	/* The read-only drive: a read works, a write is refused by the device. */
	take_device(&ro);
	start_device(&ro);
	read_case(&ro, "read-sector-0", 0, SECTOR, roseed);
	write_case(&ro, "write-sector-0", 0, SECTOR, 0xee);
	write_case(&ro, "write-last-sector", ro.capacity - 1, SECTOR, 0xee);
	report(&ro, "unknown-type", request(&ro, T_BOGUS, 0, SECTOR));
	read_case(&ro, "read-after-refusals", 0, SECTOR, roseed);
	stop_device(&ro);

	/* The read-write drive: the last sector works, anything past it does not. */
	take_device(&rw);
	start_device(&rw);
	end = rw.capacity;
	read_case(&rw, "read-last-sector", end - 1, SECTOR, rwseed);
	read_case(&rw, "read-at-end", end, SECTOR, rwseed);
	read_case(&rw, "read-across-end", end - 1, 2 * SECTOR, rwseed);
	read_case(&rw, "read-far-past-end", UINT64_MAX / SECTOR, SECTOR, rwseed);
	write_case(&rw, "write-at-end", end, SECTOR, 0xee);
	write_case(&rw, "write-across-end", end - 1, 2 * SECTOR, 0xee);
	write_case(&rw, "write-far-past-end", UINT64_MAX / SECTOR, SECTOR, 0xee);
	write_case(&rw, "write-half-sector", 1, SECTOR / 2, 0xee);
	write_case(&rw, "write-sector-1", 1, SECTOR, 0xab);
	stop_device(&rw);
	printf("blkraw: done\n");
	return 0;
}
