/* ticker: a guest test program that stays alive and shows whether it runs.
 * It first reads the start of /dev/vda when there is one (so the host sees
 * block activity), then prints "tick N" every TICK_MS of guest time,
 * forever, so a test can see a pause (no new ticks) and a resume (ticks
 * again), and end the VM from the host (SendCtrlAltDel). Whenever the size
 * of /dev/vda changes (a PATCH /drives), it prints "ticker: vda size N". */
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS 20

int main(void)
{
	struct timespec ts = { .tv_nsec = TICK_MS * 1000000L };
	static char buf[4096];
	int fd = open("/dev/vda", O_RDONLY);
	uint64_t size = 0, now;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (fd >= 0)
		printf("ticker: read %zd bytes from /dev/vda\n", read(fd, buf, sizeof(buf)));
	for (unsigned long n = 1;; n++) {
		if (fd >= 0 && ioctl(fd, BLKGETSIZE64, &now) == 0 && now != size) {
			size = now;
			printf("ticker: vda size %llu\n", (unsigned long long)size);
		}
		printf("tick %lu\n", n);
		nanosleep(&ts, NULL);
	}
}
