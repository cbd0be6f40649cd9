/* blk_read: sequential read throughput of /dev/vda, for bench/blk_bench.py.
 * Reads the whole device in 1 MiB requests with O_DIRECT (the guest page
 * cache would otherwise measure memory, not the device) and prints
 * "blk_read: N bytes in T us". */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1u << 20)

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int main(void)
{
	int fd = open("/dev/vda", O_RDONLY | O_DIRECT);
	uint64_t total = 0, start;
	void *buf;
	ssize_t n;

	if (fd < 0 || posix_memalign(&buf, 4096, CHUNK) != 0) {
		perror("blk_read: /dev/vda");
		return 1;
	}
	start = now_us();
	while ((n = read(fd, buf, CHUNK)) > 0)
		total += (uint64_t)n;
	if (n < 0) {
		perror("blk_read: read");
		return 1;
	}
	printf("blk_read: %llu bytes in %llu us\n", (unsigned long long)total,
	       (unsigned long long)(now_us() - start));
	return 0;
}
