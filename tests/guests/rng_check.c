/* rng_check: a guest test program for virtio-rng: reads /dev/hwrng and checks the driver is virtio's.
 *
 * Prints "rngcheck: current=<rng_current> bytes=<n> distinct=<d>" and exits
 * 0 if the current hw_random source is virtio and 4096 bytes were read with
 * plausible variety (more than 200 distinct byte values), 1 otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define WANT 4096

int main(void)
{
	char current[128] = "";
	unsigned char buf[WANT];
	int seen[256] = { 0 }, distinct = 0;
	size_t got = 0;
	ssize_t n;
	int fd;

	fd = open("/sys/class/misc/hw_random/rng_current", O_RDONLY);
	if (fd >= 0) {
		n = read(fd, current, sizeof(current) - 1);
		current[n > 0 ? n : 0] = '\0';
		current[strcspn(current, "\n")] = '\0';
		close(fd);
	}
	fd = open("/dev/hwrng", O_RDONLY);
	if (fd < 0) {
		printf("rngcheck: open /dev/hwrng: %s\n", strerror(errno));
		return 1;
	}
	while (got < WANT) {
		n = read(fd, buf + got, WANT - got);
		if (n <= 0) {
			printf("rngcheck: read: %s\n", n < 0 ? strerror(errno) : "EOF");
			return 1;
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < got; i++)
		if (!seen[buf[i]]++)
			distinct++;
	printf("rngcheck: current=%s bytes=%zu distinct=%d\n", current, got, distinct);
	return strncmp(current, "virtio", 6) == 0 && distinct > 200 ? 0 : 1;
}
