/* blk_check: a guest test program for virtio-blk: pattern writes/reads, read-only and end-of-disk checks.
 *
 * Parameters come from /proc/cmdline (no argv under ember.run=):
 *   blkcheck.dev=vda     the disk (default vda)
 *   blkcheck.mode=M      write | read | ro | info (default info)
 *   blkcheck.len=N       bytes to write or verify from offset 0 (default 1 MiB)
 *   blkcheck.seed=N      pattern seed (default 1)
 * The pattern byte at offset i is (i/512)*31 + (i%512)*7 + seed, mod 256; the
 * host-side tests use the same formula. Every mode first prints
 * "blkcheck: size=<bytes> serial=<GET_ID string>", then one result line, and
 * exits 0 if the check held, 1 otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tests/guests/guest_param.h"

static uint8_t pattern(uint64_t i, unsigned seed)
{
	return (uint8_t)((i / 512) * 31 + (i % 512) * 7 + seed);
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = pwrite(fd, buf + done, len - done, (off_t)done);
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

static int read_all(int fd, uint8_t *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, off + (off_t)done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return (int)done;
}

int main(void)
{
	char path[64], serial[64] = "", spath[128];
	const char *dev, *mode;
	unsigned long long size = 0;
	unsigned seed;
	size_t len;
	uint8_t *buf;
	int fd, cfd;
	ssize_t n;

	if (guest_param_load() < 0) {
		printf("blkcheck: cannot read /proc/cmdline: %s\n", strerror(errno));
		return 1;
	}
	dev = guest_param("blkcheck.dev", "vda");
	snprintf(path, sizeof(path), "/dev/%s", dev);
	mode = guest_param("blkcheck.mode", "info");
	len = strtoul(guest_param("blkcheck.len", "1048576"), NULL, 0);
	seed = (unsigned)strtoul(guest_param("blkcheck.seed", "1"), NULL, 0);

	fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("blkcheck: open %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (ioctl(fd, BLKGETSIZE64, &size) < 0)
		size = 0;
	snprintf(spath, sizeof(spath), "/sys/block/%s/serial", dev);
	cfd = open(spath, O_RDONLY);
	if (cfd >= 0) {
		n = read(cfd, serial, sizeof(serial) - 1);
		serial[n > 0 ? n : 0] = '\0';
		serial[strcspn(serial, "\n")] = '\0';
		close(cfd);
	}
	printf("blkcheck: size=%llu serial=%s\n", size, serial);
	buf = malloc(len > 4096 ? len : 4096);
	if (buf == NULL)
		return 1;

	if (strcmp(mode, "write") == 0) {
		close(fd);
		fd = open(path, O_RDWR);
		if (fd < 0) {
			printf("blkcheck: write open: %s\n", strerror(errno));
			return 1;
		}
		for (size_t i = 0; i < len; i++)
			buf[i] = pattern(i, seed);
		if (write_all(fd, buf, len) < 0 || fsync(fd) < 0) {
			printf("blkcheck: write failed: %s\n", strerror(errno));
			return 1;
		}
		printf("blkcheck: wrote %zu\n", len);
		return 0;
	}
	if (strcmp(mode, "read") == 0) {
		if (read_all(fd, buf, len, 0) != (int)len) {
			printf("blkcheck: short read\n");
			return 1;
		}
		for (size_t i = 0; i < len; i++) {
			if (buf[i] != pattern(i, seed)) {
				printf("blkcheck: mismatch at %zu\n", i);
				return 1;
			}
		}
		printf("blkcheck: verified %zu\n", len);
		return 0;
	}
	if (strcmp(mode, "ro") == 0) {
		int wfd = open(path, O_RDWR);

		if (wfd >= 0) {
			/* Opened anyway: the write itself must fail. */
			memset(buf, 0xee, 512);
			if (pwrite(wfd, buf, 512, 0) == 512 && fsync(wfd) == 0) {
				printf("blkcheck: write to a read-only disk succeeded\n");
				return 1;
			}
			printf("blkcheck: ro write refused: %s\n", strerror(errno));
			return 0;
		}
		printf("blkcheck: ro open refused: %s\n", strerror(errno));
		return errno == EROFS || errno == EACCES ? 0 : 1;
	}
	/* info: the last sector reads, and reads at and past the end return 0 bytes. */
	if (size < 512) {
		printf("blkcheck: disk too small\n");
		return 1;
	}
	if (read_all(fd, buf, 512, (off_t)size - 512) != 512) {
		printf("blkcheck: last sector unreadable\n");
		return 1;
	}
	n = pread(fd, buf, 512, (off_t)size);
	errno = 0;
	ssize_t past = pread(fd, buf, 4096, (off_t)size + 4096);
	printf("blkcheck: at_end=%zd past_end=%zd errno=%d\n", n, past, errno);
	return n == 0 && past <= 0 ? 0 : 1;
}
