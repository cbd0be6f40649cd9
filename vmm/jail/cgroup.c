/* cgroup: create the VM's cgroup (v2, or v1 per controller), write its limits, move in (see jail.h). */
#include "vmm/jail/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util/cgroup.h"

#define MOUNTINFO_MAX (256 * 1024)

static int write_file(const char *dir, const char *file, const char *value, char *err,
		      size_t errlen)
{
	char path[PATH_MAX];
	size_t len = strlen(value);
	int fd, ret = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path)) {
		snprintf(err, errlen, "cgroup %.200s/%s: path too long", dir, file);
		return -ENAMETOOLONG;
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, value, len) != (ssize_t)len)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	if (ret < 0)
		snprintf(err, errlen, "cgroup: writing '%s' to %.200s: %s", value, path,
			 strerror(-ret));
	return ret;
}

/* mkdir -p of rel under mount; existing directories are fine (a shared parent,
 * or a VM id reused after its cgroup was left behind). */
static int make_dirs(const char *mount, const char *rel, char *dir, size_t dirlen, char *err,
		     size_t errlen)
{
	size_t mlen = strlen(mount);

	if (snprintf(dir, dirlen, "%s/%s", mount, rel) >= (int)dirlen) {
		snprintf(err, errlen, "cgroup %.200s/%.200s: path too long", mount, rel);
		return -ENAMETOOLONG;
	}
	for (char *p = dir + mlen + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			int ret = -errno;

			snprintf(err, errlen, "cgroup: creating %.200s: %s", dir, strerror(errno));
			*p = c;
			return ret;
		}
		*p = c;
		if (c == '\0')
			return 0;
	}
}

static int read_mountinfo(char *buf, size_t len, char *err, size_t errlen)
{
	size_t got = 0;
	ssize_t n;
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "cgroup: /proc/self/mountinfo: %s", strerror(errno));
		return -errno;
	}
	while ((n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	return 0;
}

/* v2: one directory. Each controller the plan writes must be enabled in the
 * subtree_control of every ancestor, from the mount's root down. */
static int setup_v2(const struct jail_cgroup_plan *plan, const char *mount, const char *rel,
		    char *err, size_t errlen)
{
	char dir[PATH_MAX], pid[32];
	size_t mlen = strlen(mount);
	int ret;

	ret = make_dirs(mount, rel, dir, sizeof(dir), err, errlen);
	for (char *p = dir + mlen; ret == 0 && p != NULL; p = strchr(p + 1, '/')) {
		char c = *p;

		*p = '\0';
		for (unsigned i = 0; ret == 0 && i < plan->n; i++) {
			char on[JAIL_CGROUP_FILE_MAX + 1];
			bool seen = false;

			for (unsigned j = 0; j < i; j++)
				seen |= strcmp(plan->w[j].controller, plan->w[i].controller) == 0;
			snprintf(on, sizeof(on), "+%s", plan->w[i].controller);
			if (!seen)
				ret = write_file(dir, "cgroup.subtree_control", on, err, errlen);
		}
		*p = c;
	}
	for (unsigned i = 0; ret == 0 && i < plan->n; i++)
		ret = write_file(dir, plan->w[i].file, plan->w[i].value, err, errlen);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	return ret == 0 ? write_file(dir, "cgroup.procs", pid, err, errlen) : ret;
}

/* A new v1 cpuset has no CPUs and no memory nodes, and no task may join it
 * until it has both: give it its parent's unless the plan set them. */
static int cpuset_inherit(const char *dir, char *err, size_t errlen)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	char path[PATH_MAX + 32], val[JAIL_CGROUP_VALUE_MAX];
	int ret = 0;

	for (unsigned i = 0; ret == 0 && i < 2; i++) {
		ssize_t n = -1;
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			n = read(fd, val, sizeof(val) - 1);
			close(fd);
		}
		if (n > 1)
			continue; /* set already */
		snprintf(path, sizeof(path), "%s/../%s", dir, files[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		n = fd >= 0 ? read(fd, val, sizeof(val) - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n <= 0) {
			snprintf(err, errlen, "cgroup: reading %.200s failed", path);
			return -EIO;
		}
		val[n] = '\0';
		ret = write_file(dir, files[i], val, err, errlen);
	}
	return ret;
}

/* v1: a directory per controller, under that controller's own mount.
 * The jailer joins each by writing "0" to `tasks`, which moves only the
 * calling thread; the jailer has no other thread, so that is the whole
 * process. A whole-process move (`cgroup.procs`) takes the kernel's global
 * threadgroup lock for writing, and that waits out an RCU grace period
 * unless the hierarchy favours dynamic changes (README.md, "Cost"): a
 * median of 13-14 ms per join in the testbox's L1 against 0.2 ms through
 * `tasks`, in one run of bench/cgroup_join.py (bench/RESULTS.md). v2 has
 * no per-thread move outside threaded cgroups, so setup_v2 pays it. */
static int setup_v1(const struct jail_cgroup_plan *plan, const char *mountinfo, const char *rel,
		    char *err, size_t errlen)
{
	char mount[PATH_MAX], dir[PATH_MAX];
	int ret = 0;

	for (unsigned i = 0; ret == 0 && i < plan->n; i++) {
		const char *ctl = plan->w[i].controller;
		bool seen = false;

		for (unsigned j = 0; j < i; j++)
			seen |= strcmp(plan->w[j].controller, ctl) == 0;
		if (seen)
			continue;
		if (jail_cgroup_mount(mountinfo, ctl, mount, sizeof(mount)) < 0) {
			snprintf(err, errlen,
				 "cgroup v1: no '%s' controller is mounted on this host", ctl);
			return -ENOENT;
		}
		ret = make_dirs(mount, rel, dir, sizeof(dir), err, errlen);
		for (unsigned j = i; ret == 0 && j < plan->n; j++)
			if (strcmp(plan->w[j].controller, ctl) == 0)
				ret = write_file(dir, plan->w[j].file, plan->w[j].value, err,
						 errlen);
		if (ret == 0 && strcmp(ctl, "cpuset") == 0)
			ret = cpuset_inherit(dir, err, errlen);
		if (ret == 0)
			ret = write_file(dir, "tasks", "0", err, errlen);
	}
	return ret;
}

int jail_cgroup_setup(const struct jail_cgroup_plan *plan, int version, const char *cgroup_rel,
		      char *err, size_t errlen)
{
	static char mountinfo[MOUNTINFO_MAX];
	char mount[PATH_MAX];
	int ret;

	ret = read_mountinfo(mountinfo, sizeof(mountinfo), err, errlen);
	if (ret < 0)
		return ret;
	if (version == 1)
		return setup_v1(plan, mountinfo, cgroup_rel, err, errlen);
	if (jail_cgroup_mount(mountinfo, NULL, mount, sizeof(mount)) < 0) {
		snprintf(err, errlen, "cgroup v2: no cgroup2 file system is mounted on this host");
		return -ENOENT;
	}
	return setup_v2(plan, mount, cgroup_rel, err, errlen);
}
