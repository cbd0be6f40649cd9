/* libs: the exec file's shared libraries, found on the host and bind-mounted read-only into the jail (see jail.h). */
#include "vmm/jail/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/jail/elf.h"

/* glibc's loader searches these when there is no ld.so.cache (and the jail
 * has none), in this order (x86_64, Debian's multiarch layout first). */
static const char *const search_dirs[] = {
	"/lib/x86_64-linux-gnu",
	"/usr/lib/x86_64-linux-gnu",
	"/lib64",
	"/usr/lib64",
	"/lib",
	"/usr/lib",
};

static bool known(const struct jail_libs *l, const char *path)
{
	for (unsigned i = 0; i < l->n; i++)
		if (strcmp(l->lib[i].path, path) == 0)
			return true;
	return false;
}

/* Reads path's dependencies (the exec file's, or a library's). */
static int deps_of(const char *path, struct elf_deps *d)
{
	struct stat st;
	void *map;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_size <= 0) {
		close(fd);
		return -ENOEXEC;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -errno;
	ret = elf_deps(map, (size_t)st.st_size, d);
	munmap(map, (size_t)st.st_size);
	return ret;
}

static int add(struct jail_libs *l, const char *path, char *err, size_t errlen)
{
	if (known(l, path))
		return 0;
	if (l->n == JAIL_MAX_LIBS) {
		snprintf(err, errlen, "--exec-file: needs more than %d shared libraries",
			 JAIL_MAX_LIBS);
		return -E2BIG;
	}
	if (realpath(path, l->lib[l->n].host) == NULL) {
		snprintf(err, errlen, "--exec-file: shared library %.200s: %s", path,
			 strerror(errno));
		return -errno;
	}
	snprintf(l->lib[l->n].path, sizeof(l->lib[l->n].path), "%s", path);
	l->n++;
	return 0;
}

/* Adds each of d's libraries, where the loader would find it. */
static int add_needed(struct jail_libs *l, const struct elf_deps *d, char *err, size_t errlen)
{
	for (unsigned i = 0; i < d->nneeded; i++) {
		char path[PATH_MAX] = "";
		int ret;

		for (unsigned j = 0; j < sizeof(search_dirs) / sizeof(search_dirs[0]); j++) {
			snprintf(path, sizeof(path), "%s/%s", search_dirs[j], d->needed[i]);
			if (access(path, R_OK) == 0)
				break;
			path[0] = '\0';
		}
		if (path[0] == '\0') {
			snprintf(err, errlen, "--exec-file: shared library %s not found",
				 d->needed[i]);
			return -ENOENT;
		}
		ret = add(l, path, err, errlen);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int jail_libs_find(const char *exec_file, struct jail_libs *l, char *err, size_t errlen)
{
	static struct elf_deps d; /* 70 KiB: not on the stack */
	int ret;

	l->n = 0;
	ret = deps_of(exec_file, &d);
	if (ret < 0) {
		snprintf(err, errlen, "--exec-file %.200s: not an ELF executable we can read (%s)",
			 exec_file, strerror(-ret));
		return ret;
	}
	if (d.has_runpath) {
		snprintf(err, errlen,
			 "--exec-file %.200s: has an RPATH/RUNPATH, which the jail "
			 "does not provide",
			 exec_file);
		return -ENOTSUP;
	}
	if (d.interp[0] != '\0' && (ret = add(l, d.interp, err, errlen)) < 0)
		return ret;
	ret = add_needed(l, &d, err, errlen);
	/* Breadth first: each library's own needs join the list once. */
	for (unsigned k = 0; ret == 0 && k < l->n; k++) {
		ret = deps_of(l->lib[k].host, &d);
		if (ret < 0) {
			snprintf(err, errlen, "shared library %.200s: %s", l->lib[k].host,
				 strerror(-ret));
			return ret;
		}
		ret = add_needed(l, &d, err, errlen);
	}
	return ret;
}

/* Creates the mount point (an empty file; its directories 0755) under root,
 * the first rootlen bytes of target, which exists: the directories from "/"
 * to it cost a path walk each, on every start. */
static int make_target(const char *target, size_t rootlen)
{
	char dir[PATH_MAX];
	int fd;

	snprintf(dir, sizeof(dir), "%s", target);
	for (char *p = dir + rootlen + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

int jail_libs_mount(const struct jail_libs *l, const char *root, char *err, size_t errlen)
{
	for (unsigned i = 0; i < l->n; i++) {
		char target[PATH_MAX];
		int ret;

		if (snprintf(target, sizeof(target), "%s%s", root, l->lib[i].path) >=
		    (int)sizeof(target)) {
			snprintf(err, errlen, "%.200s%s: path too long", root, l->lib[i].path);
			return -ENAMETOOLONG;
		}
		ret = make_target(target, strlen(root));
		if (ret == 0 && mount(l->lib[i].host, target, NULL, MS_BIND, NULL) < 0)
			ret = -errno;
		/* A bind mount takes its flags only from a remount. */
		if (ret == 0 &&
		    mount(NULL, target, NULL,
			  MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
			ret = -errno;
		if (ret < 0) {
			snprintf(err, errlen, "mounting %.200s at %.200s: %s", l->lib[i].host,
				 target, strerror(-ret));
			return ret;
		}
	}
	return 0;
}
