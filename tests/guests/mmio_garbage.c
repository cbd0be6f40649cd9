/* mmio_garbage: a hostile guest program. Through /dev/mem it writes garbage
 * to one virtio-mmio device's registers (every offset, random values, status
 * walks, rings placed outside memory, kicks), then reads a block from
 * /dev/vda to show that the VMM and its other devices still work.
 *
 * Parameters (from /proc/cmdline): mmiogarbage.addr=0x... the window to
 * attack; mmiogarbage.rounds=N (default 2000). Prints
 * "mmio_garbage: wrote N registers" and then
 * "mmio_garbage: vda sum=HEX" over the first 64 KiB of /dev/vda. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/guests/guest_param.h"

#define WINDOW	     0x1000
#define REG_SPAN     0x200 /* registers and the start of config space */
#define STATUS	     0x70
#define QUEUE_NOTIFY 0x50
#define VDA_BYTES    65536

/* xorshift64: deterministic garbage, so a failure can be replayed. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void scribble(volatile uint8_t *win, unsigned long long rounds, unsigned long long *n)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	for (unsigned long long r = 0; r < rounds; r++) {
		uint32_t off = (uint32_t)(rnd(&seed) % REG_SPAN) & ~3u;
		uint32_t val = (uint32_t)rnd(&seed);

		switch (rnd(&seed) % 4) {
		case 0: /* a status walk towards DRIVER_OK, then kicks */
			for (uint32_t st = 1; st <= 15; st = st * 2 + 1)
				*(volatile uint32_t *)(win + STATUS) = st;
			*(volatile uint32_t *)(win + QUEUE_NOTIFY) = val % 4;
			break;
		case 1: /* odd widths */
			*(volatile uint8_t *)(win + off + (val & 3)) = (uint8_t)val;
			break;
		default:
			*(volatile uint32_t *)(win + off) = val;
		}
		(void)*(volatile uint32_t *)(win + off); /* reads too */
		(*n)++;
	}
}

int main(void)
{
	unsigned long long n = 0, addr;
	int fd;
	static unsigned char buf[VDA_BYTES];
	uint32_t sum = 0;

	if (guest_param_load() < 0)
		return 1;
	addr = strtoull(guest_param("mmiogarbage.addr", "0"), NULL, 0);
	fd = open("/dev/mem", O_RDWR | O_SYNC);
	void *win =
		fd >= 0 ? mmap(NULL, WINDOW, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)addr)
			: MAP_FAILED;
	if (addr == 0 || win == MAP_FAILED) {
		perror("mmio_garbage: /dev/mem");
		return 1;
	}
	scribble(win, strtoull(guest_param("mmiogarbage.rounds", "2000"), NULL, 0), &n);
	printf("mmio_garbage: wrote %llu registers\n", n);
	fflush(stdout);

	fd = open("/dev/vda", O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
		perror("mmio_garbage: /dev/vda");
		return 1;
	}
	for (size_t i = 0; i < sizeof(buf); i++)
		sum = sum * 31 + buf[i];
	printf("mmio_garbage: vda sum=%08x\n", sum);
	return 0;
}
