/* ember-init: PID 1 of an ember microVM guest.
 *
 * It records its own start time first (the guest's boot time as the guest
 * sees it), mounts the pseudo filesystems, brings up loopback and then does
 * what the kernel command line asks (cmdline.h): ember.lambda=1 hands over
 * to the Lambda environment (lambda.h), which runs until the VM ends. It ends the VM with
 * reboot(RB_AUTOBOOT): without ACPI a power-off only halts, while a reboot
 * through the i8042 (reboot=k) is what ember-vmm turns into a clean exit
 * (a triple fault, reboot=t, counts as a crash there). */
#include "lib/util/boot_timer.h"
#include "guest-init/cmdline.h"
#include "guest-init/lambda.h"
#include "lib/util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TAG "ember-init: "

/* Tells the VMM that init is running: ember-vmm logs "guest booted in N us"
 * from its own start. Under another VMM the port is unused and ignored.
 * The permission is dropped at once: fork() children inherit I/O port
 * permissions and keep them across execve() and setuid(), so every process
 * of the function (all children of PID 1) would otherwise own the port. */
static void report_boot(void)
{
	if (ioperm(BOOT_TIMER_PORT, 1, 1) < 0)
		return;
	outb(BOOT_TIMER_VALUE, BOOT_TIMER_PORT);
	if (ioperm(BOOT_TIMER_PORT, 1, 0) < 0)
		printf(TAG "ioperm: cannot drop port %#x: %s\n", BOOT_TIMER_PORT, strerror(errno));
}

static uint64_t uptime_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

struct mount_spec {
	const char *type, *dir, *opts;
	unsigned long flags;
};

static const struct mount_spec early_mounts[] = {
	{ "proc", "/proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC },
	{ "sysfs", "/sys", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC },
	{ "devtmpfs", "/dev", "mode=0755", MS_NOSUID },
	{ "tmpfs", "/tmp", "mode=1777", MS_NOSUID | MS_NODEV },
};

static void mount_early(void)
{
	for (size_t i = 0; i < sizeof(early_mounts) / sizeof(early_mounts[0]); i++) {
		const struct mount_spec *m = &early_mounts[i];

		mkdir(m->dir, 0755);
		if (mount(m->type, m->dir, m->type, m->flags, m->opts) < 0 && errno != EBUSY)
			printf(TAG "mount %s on %s: %s\n", m->type, m->dir, strerror(errno));
	}
}

/* Loopback gets 127.0.0.1/8 from the kernel as soon as it is up. */
static void loopback_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		printf(TAG "socket: %s\n", strerror(errno));
		return;
	}
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) < 0))
		printf(TAG "bring up lo: %s\n", strerror(errno));
	close(fd);
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static void probe(void)
{
	char meminfo[4096];
	struct utsname u;
	unsigned long mem_kb = 0;

	if (read_file("/proc/meminfo", meminfo, sizeof(meminfo)) == 0)
		sscanf(meminfo, "MemTotal: %lu kB", &mem_kb);
	uname(&u);
	printf("cpus=%ld\nmem_kb=%lu\nkernel=%s\n", sysconf(_SC_NPROCESSORS_ONLN), mem_kb,
	       u.release);
}

/* Runs `path` and waits for it, reaping any orphans it leaves to us as PID 1.
 * Returns its wait status. */
static int run(const char *path)
{
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		printf(TAG "fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		char *const argv[] = { (char *)path, NULL };
		char *const envp[] = { "PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/", NULL };

		execve(path, argv, envp);
		printf(TAG "exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	for (;;) {
		pid_t got = wait(&status);

		if (got == pid)
			return status;
		if (got < 0 && errno != EINTR)
			return -1;
	}
}

static void report(const char *path, int status)
{
	if (status == -1)
		printf(TAG "%s: could not run\n", path);
	else if (WIFEXITED(status))
		printf(TAG "%s exited with status %d\n", path, WEXITSTATUS(status));
	else
		printf(TAG "%s killed by signal %d\n", path, WTERMSIG(status));
}

static _Noreturn void power_off(void)
{
	fflush(stdout);
	sync();
	reboot(RB_AUTOBOOT);
	printf(TAG "reboot: %s\n", strerror(errno));
	fflush(stdout);
	for (;;)
		pause();
}

int main(void)
{
	uint64_t started = uptime_us();
	char line[4096], err[128];
	struct init_args args;

	report_boot();
	/* Line-buffer the console so that output survives an abrupt end. The
	 * "up" line marks init's start, as the boot timer does: benchmarks that
	 * time a VMM without the boot-timer port (QEMU) wait for this line. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf(TAG "up %" PRIu64 " us\n", started);

	mount_early();
	loopback_up();

	if (read_file("/proc/cmdline", line, sizeof(line)) < 0)
		line[0] = '\0';
	if (cmdline_parse(line, &args, err, sizeof(err)) < 0) {
		printf(TAG "bad command line: %s\n", err);
		power_off();
	}
	if (args.probe)
		probe();
	if (args.lambda) {
		log_init("ember-init", LOG_INFO);
		lambda_run(&args);
	}
	if (args.run[0] != '\0')
		report(args.run, run(args.run));
	power_off();
}
