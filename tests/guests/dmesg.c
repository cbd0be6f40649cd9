/* dmesg: a guest test program that prints the kernel log buffer. With
 * `quiet` the console carries almost nothing (each byte is a port exit), so
 * boot profiling (initcall_debug, printk times) reads the log from here. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/klog.h>

#define SYSLOG_ACTION_READ_ALL	  3
#define SYSLOG_ACTION_SIZE_BUFFER 10

int main(void)
{
	int size = klogctl(SYSLOG_ACTION_SIZE_BUFFER, NULL, 0);
	char *buf;

	if (size <= 0 || (buf = malloc((size_t)size)) == NULL) {
		perror("dmesg: klogctl");
		return 1;
	}
	size = klogctl(SYSLOG_ACTION_READ_ALL, buf, size);
	if (size < 0) {
		perror("dmesg: klogctl");
		return 1;
	}
	fwrite(buf, 1, (size_t)size, stdout);
	return 0;
}
