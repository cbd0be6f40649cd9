/* jail: each instance's jail: its uid, its root with the VM's files linked in, ember-jailer's arguments, and cleanup; its cgroups are jail_cgroup.c's (see pool.h, vmm/jail/README.md). */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "api/pool/pool_priv.h"
#include "lib/util/log.h"

/* A copy made ahead (pool_prestage) leaves at least this much of the disk
 * free: it is an optimisation, and must never take the space that emberd's
 * queue of accepted events and its uploads need (a full disk there is an
 * error to a client). The first start that needs the file copies it anyway. */
#define PRESTAGE_RESERVE_MIB 256

static int stage(const struct pool_set *s, const char *src, char *out, size_t cap,
		 uint64_t keep_free_mib, bool exec);

/* <home>/jail/ember-vmm: the jails of this home's instances. */
static void jails_dir(const struct pool_set *s, char *out, size_t cap)
{
	snprintf(out, cap, "%.3000s/%s", s->jail_base, POOL_JAIL_EXEC);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT)
		log_warn("removing %s: %s", path, strerror(errno));
	return 0;
}

/* rm -rf, never following a link the VMM may have made in its root. */
static void remove_tree(const char *dir)
{
	if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
		log_warn("removing %s: %s", dir, strerror(errno));
}

/* The jails an earlier emberd of this home left behind. */
static void sweep(struct pool_set *s)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *e;
	DIR *d;

	jails_dir(s, dir, sizeof(dir));
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' ||
		    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
			continue;
		pool_cgroup_remove(s, e->d_name, true);
		remove_tree(path);
	}
	closedir(d);
}

static int mkdir_root(const char *path)
{
	return mkdir(path, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

int pool_jail_init(struct pool_set *s, const struct pool_jail *opts)
{
	static const struct pool_jail defaults = {
		.uid_first = POOL_JAIL_UID_FIRST,
		.uid_count = POOL_JAIL_UID_COUNT,
		.gid = POOL_JAIL_GID,
		.mem_margin_mib = POOL_JAIL_MARGIN_MIB,
	};
	char path[PATH_MAX], vmm[PATH_MAX];
	int ret;

	s->jail = opts != NULL ? *opts : defaults;
	s->cgroup_v1 = pool_cgroup_v1();
	if (s->jail.off) {
		log_warn("--no-jail: every ember-vmm runs as emberd's user, with its "
			 "capabilities and no namespaces or cgroup");
		return 0;
	}
	if (s->jail.uid_first == 0 || s->jail.gid == 0 || s->jail.uid_count == 0 ||
	    s->jail.uid_first + (uint64_t)s->jail.uid_count > UINT32_MAX) {
		log_err("jail: uids %u..+%u and gid %u: neither may be 0", s->jail.uid_first,
			s->jail.uid_count, s->jail.gid);
		return -EINVAL;
	}
	snprintf(vmm, sizeof(vmm), "%s", s->vmm);
	if (s->jail.jailer != NULL)
		snprintf(s->jailer, sizeof(s->jailer), "%s", s->jail.jailer);
	else
		snprintf(s->jailer, sizeof(s->jailer), "%.4000s/ember-jailer", dirname(vmm));
	s->jail.jailer = s->jailer;
	/* As for a missing ember-vmm: instances fail to start, saying why; the
	 * API serves meanwhile. Never a silent start without the jail. */
	if (access(s->jailer, X_OK) < 0)
		log_warn("jail: %s: %s: no instance can start (or run with --no-jail)", s->jailer,
			 strerror(errno));
	s->uid_used = calloc((s->jail.uid_count + 7) / 8, 1);
	if (s->uid_used == NULL)
		return -ENOMEM;
	snprintf(s->jail_base, sizeof(s->jail_base), "%.3000s/%s", s->home, POOL_JAIL_DIR);
	ret = mkdir_root(s->jail_base);
	snprintf(path, sizeof(path), "%.3000s/%s", s->jail_base, POOL_JAIL_FILES);
	if (ret == 0)
		ret = mkdir_root(path);
	jails_dir(s, path, sizeof(path));
	if (ret == 0)
		ret = mkdir_root(path);
	if (ret < 0) {
		log_err("jail: %s: %s", path, strerror(-ret));
		return ret;
	}
	sweep(s);
	/* Without a staged ember-vmm, the jailer copies it into each jail. */
	ret = stage(s, s->vmm, s->vmm_exec, sizeof(s->vmm_exec), PRESTAGE_RESERVE_MIB, true);
	if (ret < 0) {
		log_warn("jail: staging %s: %s; each jail gets a copy of it", s->vmm,
			 strerror(-ret));
		snprintf(s->vmm_exec, sizeof(s->vmm_exec), "%s", s->vmm);
	}
	ret = pool_netns_new(&s->netns);
	if (ret < 0)
		log_warn("jail: no network namespaces made ahead (%s): the jailer makes each "
			 "VMM's own",
			 strerror(-ret));
	return 0;
}

void pool_jail_free(struct pool_set *s)
{
	pool_netns_free(s->netns);
	s->netns = NULL;
	if (!s->jail.off)
		pool_cgroups_free(s);
	free(s->uid_used);
	s->uid_used = NULL;
}

/* A file the VMs may read and none may write: root's, 0440, group gid.
 * fd-based, so a link swapped in by a VMM cannot redirect it. */
static int make_vm_readable(int fd, gid_t gid)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((st.st_uid != 0 || st.st_gid != gid) && fchown(fd, 0, gid) < 0)
		return -errno;
	if ((st.st_mode & 07777) != 0440 && fchmod(fd, 0440) < 0)
		return -errno;
	return 0;
}

static int copy_fd(int in, int out, off_t size)
{
	off_t done = 0;

	while (done < size) {
		ssize_t n = sendfile(out, in, NULL, (size_t)(size - done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += n;
	}
	return 0;
}

/* Whether bytes more in the jails' folder leave keep_free_mib free. */
static bool room_for(const struct pool_set *s, uint64_t bytes, uint64_t keep_free_mib)
{
	struct statvfs fs;

	return statvfs(s->jail_base, &fs) == 0 &&
	       (uint64_t)fs.f_bavail * fs.f_frsize >= bytes + (keep_free_mib << 20);
}

/* ember-vmm's staged copy: root's, 0755, writable by nobody else, so that
 * ember-jailer links it into each jail instead of copying it (every VMM then
 * shares one copy of its pages, and a start skips a 1.3 MB copy). */
static int make_root_exec(int fd)
{
	if (fchown(fd, 0, 0) < 0 || fchmod(fd, 0755) < 0)
		return -errno;
	return 0;
}

/* The file to link into jails for src: src itself if it lives in <home>
 * (code images, snapshots: one file system, and emberd's own), else a copy
 * in <home>/jail/files named after src's identity, made once and kept
 * across restarts (a snapshot records its drives' inodes). A copy that
 * would leave less than keep_free_mib free is not made (-ENOSPC). With
 * exec, src is ember-vmm: its copy is root's 0755 (make_root_exec), and
 * src inside <home> is left as it is. */
static int stage(const struct pool_set *s, const char *src, char *out, size_t cap,
		 uint64_t keep_free_mib, bool exec)
{
	size_t hl = strlen(s->home);
	char tmp[PATH_MAX];
	struct stat st;
	int in, fd, ret;

	in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0)
		return -errno;
	ret = fstat(in, &st) < 0 ? -errno : 0;
	if (strncmp(src, s->home, hl) == 0 && src[hl] == '/') {
		if (ret == 0 && !exec)
			ret = make_vm_readable(in, s->jail.gid);
		close(in);
		return ret < 0					   ? ret
		       : snprintf(out, cap, "%s", src) >= (int)cap ? -ENAMETOOLONG
								   : 0;
	}
	if (ret == 0 && snprintf(out, cap, "%s/%s/%llx-%llx-%llx-%lld.%09ld", s->jail_base,
				 POOL_JAIL_FILES, (unsigned long long)st.st_dev,
				 (unsigned long long)st.st_ino, (unsigned long long)st.st_size,
				 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec) >= (int)cap)
		ret = -ENAMETOOLONG;
	/* The jailer names jails after the exec file: it is <identity>/ember-vmm. */
	if (ret == 0 && exec) {
		ret = mkdir_root(out);
		if (ret == 0 && strlen(out) + sizeof("/" POOL_JAIL_EXEC) > cap)
			ret = -ENAMETOOLONG;
		if (ret == 0)
			strcat(out, "/" POOL_JAIL_EXEC);
	}
	if (ret == 0 && access(out, F_OK) == 0) {
		close(in);
		return 0;
	}
	/* A worker (pool_prestage) and the loop may stage one file at once. */
	if (ret == 0 &&
	    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", out, (int)gettid()) >= (int)sizeof(tmp))
		ret = -ENAMETOOLONG;
	if (ret == 0 && keep_free_mib > 0 && !room_for(s, (uint64_t)st.st_size, keep_free_mib))
		ret = -ENOSPC;
	if (ret < 0) {
		close(in);
		return ret;
	}
	log_info("jail: staging a copy of %s for the VMs (%lld MiB, once)", src,
		 (long long)(st.st_size >> 20));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0400);
	ret = fd < 0 ? -errno : copy_fd(in, fd, st.st_size);
	if (ret == 0)
		ret = exec ? make_root_exec(fd) : make_vm_readable(fd, s->jail.gid);
	/* link, not rename: a copy another thread placed first stays (its
	 * inode may be in a snapshot already); this one is then dropped. */
	if (ret == 0 && link(tmp, out) < 0 && errno != EEXIST)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	close(in);
	return ret;
}

struct prestage {
	struct work w;
	const struct pool_set *s; /* only its fixed fields are read */
	int ret;
	char src[PATH_MAX], out[PATH_MAX];
};

static void prestage_run(struct work *w)
{
	struct prestage *j = (struct prestage *)w;

	j->ret = stage(j->s, j->src, j->out, sizeof(j->out), PRESTAGE_RESERVE_MIB, false);
}

static void prestage_done(struct work *w)
{
	struct prestage *j = (struct prestage *)w;

	if (!w->cancelled && j->ret == -ENOSPC)
		log_warn("jail: not staging %s ahead: it would leave less than %d MiB of the disk "
			 "free (the first start that needs it copies it)",
			 j->src, PRESTAGE_RESERVE_MIB);
	else if (!w->cancelled && j->ret < 0)
		log_warn("jail: staging %s: %s (the first start that needs it tries again)", j->src,
			 strerror(-j->ret));
	else if (!w->cancelled)
		log_debug("jail: %s staged as %s", j->src, j->out);
	free(j);
}

void pool_prestage(struct pool_set *s, const char *path)
{
	struct prestage *j;

	if (s->jail.off || path == NULL || path[0] == '\0')
		return;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return;
	j->w.run = prestage_run;
	j->w.done = prestage_done;
	j->s = s;
	snprintf(j->src, sizeof(j->src), "%s", path);
	if (work_submit(s->work, &j->w) < 0)
		free(j); /* the first start stages it then */
}

/* Links `from` (staged) as <root>/<name>. */
static int link_in(const struct instance *inst, const char *src, const char *name)
{
	char staged[PATH_MAX], to[PATH_MAX];
	int ret = stage(inst->pool->set, src, staged, sizeof(staged), 0, false);

	if (ret == 0 && snprintf(to, sizeof(to), "%s%s", inst->root, name) >= (int)sizeof(to))
		ret = -ENAMETOOLONG;
	if (ret == 0 && link(staged, to) < 0)
		ret = -errno;
	if (ret < 0)
		log_err("instance %s: placing %s in its jail: %s", inst->id, src, strerror(-ret));
	return ret;
}

static int alloc_uid(struct pool_set *s, uint32_t *uid)
{
	for (uint32_t i = 0; i < s->jail.uid_count; i++) {
		if (s->uid_used[i / 8] & (1u << (i % 8)))
			continue;
		s->uid_used[i / 8] |= (uint8_t)(1u << (i % 8));
		*uid = s->jail.uid_first + i;
		return 0;
	}
	log_err("jail: every uid of %u..%u is in use", s->jail.uid_first,
		s->jail.uid_first + s->jail.uid_count - 1);
	return -EAGAIN;
}

static void free_uid(struct pool_set *s, uint32_t uid)
{
	uint32_t i = uid - s->jail.uid_first;

	if (uid >= s->jail.uid_first && i < s->jail.uid_count)
		s->uid_used[i / 8] &= (uint8_t) ~(1u << (i % 8));
}

int pool_jail_prepare(struct instance *inst)
{
	struct pool *p = inst->pool;
	struct pool_set *s = p->set;
	const struct fn *fn = p->fn;
	char dir[PATH_MAX], state[PATH_MAX], mem[PATH_MAX];
	int ret;

	jails_dir(s, dir, sizeof(dir));
	if (snprintf(inst->root, sizeof(inst->root), "%s/%s/root", dir, inst->id) >=
	    (int)sizeof(inst->root))
		return -ENAMETOOLONG; /* pool_set_new() checked it */
	ret = alloc_uid(s, &inst->uid);
	if (ret < 0)
		return ret;
	inst->jailed = true;
	snprintf(dir, sizeof(dir), "%s", inst->root);
	*strrchr(dir, '/') = '\0';
	if (mkdir(dir, 0700) < 0 || mkdir(inst->root, 0755) < 0) {
		ret = -errno;
		log_err("instance %s: creating its jail %s: %s", inst->id, inst->root,
			strerror(errno));
		return ret;
	}
	ret = link_in(inst, fn->runtime_image, POOL_IN_RUNTIME);
	if (ret == 0)
		ret = link_in(inst, fn->code_image, POOL_IN_CODE);
	if (ret == 0 && !inst->restore) {
		ret = link_in(inst, s->kernel, POOL_IN_KERNEL);
		if (ret == 0 && s->initrd[0] != '\0')
			ret = link_in(inst, s->initrd, POOL_IN_INITRD);
	} else if (ret == 0) {
		snap_state_path(p->snap_dir, state, sizeof(state));
		snap_mem_path(p->snap_dir, mem, sizeof(mem));
		ret = link_in(inst, state, POOL_IN_STATE);
		if (ret == 0)
			ret = link_in(inst, mem, POOL_IN_MEM);
	}
	return ret;
}

/* Appends one printf-formatted value to buf (cap bytes, *n used), NUL
 * included; NULL once buf is full, and from then on. */
static char *put(char *buf, size_t cap, size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static char *put(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
	char *at = buf + *n;
	va_list ap;
	int len;

	if (*n >= cap)
		return NULL;
	va_start(ap, fmt);
	len = vsnprintf(at, cap - *n, fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= cap - *n) {
		*n = cap;
		return NULL;
	}
	*n += (size_t)len + 1;
	return at;
}

int pool_jail_argv(struct instance *inst, char **argv, char *buf, size_t cap)
{
	const struct pool_set *s = inst->pool->set;
	uint64_t mem_max = ((uint64_t)inst->pool->fn->memory_mib + s->jail.mem_margin_mib) << 20;
	unsigned quota =
		pool_vcpus(inst->pool->fn) * POOL_JAIL_CPU_PERIOD_US + POOL_JAIL_CPU_MARGIN_US;
	char parent_rel[64], *uid, *gid, *parent, *mem, *cpu, *period = NULL, *netns = NULL;
	size_t n = 0;
	int argc = 0;

	/* The values live in buf, one after the other. v1 names the memory
	 * limit otherwise and keeps the CPU period in a file of its own. */
	pool_cgroup_parent(s, parent_rel, sizeof(parent_rel));
	uid = put(buf, cap, &n, "%u", inst->uid);
	gid = put(buf, cap, &n, "%u", s->jail.gid);
	parent = put(buf, cap, &n, "%s", parent_rel);
	mem = put(buf, cap, &n, "%s=%llu", s->cgroup_v1 ? "memory.limit_in_bytes" : "memory.max",
		  (unsigned long long)mem_max);
	if (s->cgroup_v1) {
		cpu = put(buf, cap, &n, "cpu.cfs_quota_us=%u", quota);
		period = put(buf, cap, &n, "cpu.cfs_period_us=%u", POOL_JAIL_CPU_PERIOD_US);
	} else {
		cpu = put(buf, cap, &n, "cpu.max=%u %u", quota, POOL_JAIL_CPU_PERIOD_US);
	}
	/* One made ahead (netns.c), by its path in emberd's descriptor table:
	 * the jailer opens it before anything else it does. */
	if (inst->netns_fd >= 0)
		netns = put(buf, cap, &n, "/proc/%d/fd/%d", (int)getpid(), inst->netns_fd);
	if (n >= cap)
		return -ENAMETOOLONG; /* (put() returned NULL) */
	argv[argc++] = (char *)s->jailer;
	argv[argc++] = "--id";
	argv[argc++] = inst->id;
	argv[argc++] = "--exec-file";
	argv[argc++] = (char *)s->vmm_exec;
	argv[argc++] = "--link-exec-file";
	argv[argc++] = "--uid";
	argv[argc++] = uid;
	argv[argc++] = "--gid";
	argv[argc++] = gid;
	argv[argc++] = "--chroot-base-dir";
	argv[argc++] = (char *)s->jail_base;
	argv[argc++] = "--parent-cgroup";
	argv[argc++] = parent;
	argv[argc++] = "--cgroup";
	argv[argc++] = mem;
	argv[argc++] = "--cgroup";
	argv[argc++] = cpu;
	if (period != NULL) {
		argv[argc++] = "--cgroup";
		argv[argc++] = period;
	}
	if (netns != NULL) {
		argv[argc++] = "--netns";
		argv[argc++] = netns;
	}
	argv[argc++] = "--";
	return argc;
}

void pool_jail_release(struct instance *inst)
{
	struct pool_set *s = inst->pool->set;
	char dir[PATH_MAX];

	if (!inst->jailed)
		return;
	snprintf(dir, sizeof(dir), "%s", inst->root);
	*strrchr(dir, '/') = '\0';
	remove_tree(dir);
	/* The VMM was reaped: its cgroup is empty. */
	pool_cgroup_remove(s, inst->id, false);
	free_uid(s, inst->uid);
	inst->jailed = false;
}

int pool_jail_seal(const struct pool_set *s, const char *from, const char *to)
{
	struct stat a, b;
	/* Non-blocking: a FIFO a VMM put there must not hang a worker. */
	int fd = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), ret = 0;

	if (fd < 0)
		return -errno;
	/* Root's before it has its name, and the name must still be this file
	 * afterwards: a VMM cannot swap another in between. */
	if (s->jail.off) {
		if (fstat(fd, &a) < 0 || fchmod(fd, 0400) < 0)
			ret = -errno;
		else if (!S_ISREG(a.st_mode))
			ret = -EINVAL;
	} else {
		ret = make_vm_readable(fd, s->jail.gid);
	}
	if (ret == 0 && fstat(fd, &a) < 0)
		ret = -errno;
	if (ret == 0 && rename(from, to) < 0)
		ret = -errno;
	if (ret == 0 && (lstat(to, &b) < 0 || b.st_ino != a.st_ino || b.st_dev != a.st_dev)) {
		unlink(to);
		ret = -EPERM;
	}
	close(fd);
	return ret;
}
