/* jail_cgroup: the instances' cgroups as emberd sees them: the parent per home, limits read and raised, OOM kills, removal (v2, or v1 per controller). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "api/pool/pool_priv.h"
#include "lib/util/cgroup.h"
#include "lib/util/log.h"

/* Where a cgroup v1 host keeps the controllers ember-jailer uses (cpu and
 * cpuacct mounted apart, or together). */
static const char *const v1_controllers[] = { "memory", "pids", "cpu", "cpu,cpuacct", "cpuset" };
#define NV1	      (sizeof(v1_controllers) / sizeof(v1_controllers[0]))
#define SWEEP_WAIT_MS 2000 /* for a leftover VMM to die after SIGKILL */

bool pool_cgroup_v1(void)
{
	return cgroup_host_version() == 1; /* as ember-jailer decides it */
}

/* The parent cgroup of this home's VMs, ember-vmm/<hash of home>: a sweep of
 * one emberd's leftovers never touches another's VMs. */
void pool_cgroup_parent(const struct pool_set *s, char *out, size_t cap)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *p = s->home; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	snprintf(out, cap, "%s/%08x", POOL_JAIL_CGROUP, h);
}

/* The hierarchies the VMs' cgroups live in: one (v2), or one per v1
 * controller; in_hierarchy() names rel's folder in the i-th. */
static unsigned hierarchies(const struct pool_set *s)
{
	return s->cgroup_v1 ? NV1 : 1;
}

static void in_hierarchy(const struct pool_set *s, unsigned i, const char *rel, char *out,
			 size_t cap)
{
	if (s->cgroup_v1)
		snprintf(out, cap, "%s/%s/%s", CGROUP_ROOT, v1_controllers[i], rel);
	else
		snprintf(out, cap, "%s/%s", CGROUP_ROOT, rel);
}

/* A file of instance id's memory cgroup, by v2's name or v1's. */
static void memory_file(const struct pool_set *s, const char *id, const char *v2, const char *v1,
			char *out, size_t cap)
{
	char parent[64];

	pool_cgroup_parent(s, parent, sizeof(parent));
	snprintf(out, cap, "%s%s/%s/%s/%s", CGROUP_ROOT, s->cgroup_v1 ? "/memory" : "", parent, id,
		 s->cgroup_v1 ? v1 : v2);
}

/* SIGKILLs each process in the cgroup dir and waits for it to die. */
static void kill_all(const char *dir)
{
	char procs[PATH_MAX];
	FILE *f;
	int pid;

	if (snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir) >= (int)sizeof(procs))
		return;
	f = fopen(procs, "re");
	while (f != NULL && fscanf(f, "%d", &pid) == 1) {
		int fd = pidfd_open(pid, 0);
		struct pollfd p = { .fd = fd, .events = POLLIN };

		log_warn("stopping ember-vmm %d, left in its jail by an earlier emberd", pid);
		if (fd >= 0 && pidfd_send_signal(fd, SIGKILL, NULL, 0) == 0)
			poll(&p, 1, SWEEP_WAIT_MS);
		if (fd >= 0)
			close(fd);
	}
	if (f != NULL)
		fclose(f);
}

void pool_cgroup_remove(const struct pool_set *s, const char *id, bool kill_procs)
{
	char parent[64], rel[128], path[PATH_MAX];

	pool_cgroup_parent(s, parent, sizeof(parent));
	snprintf(rel, sizeof(rel), "%s/%s", parent, id);
	for (unsigned i = 0; i < hierarchies(s); i++) {
		in_hierarchy(s, i, rel, path, sizeof(path));
		if (kill_procs)
			kill_all(path);
		if (rmdir(path) < 0 && errno != ENOENT)
			log_warn("removing the cgroup %s: %s", path, strerror(errno));
	}
}

void pool_cgroups_free(const struct pool_set *s)
{
	char parent[64], path[PATH_MAX];

	/* This home's parent cgroup, then ember-vmm/ if no other emberd uses it. */
	pool_cgroup_parent(s, parent, sizeof(parent));
	for (unsigned i = 0; i < hierarchies(s); i++) {
		in_hierarchy(s, i, parent, path, sizeof(path));
		if (rmdir(path) == 0) {
			in_hierarchy(s, i, POOL_JAIL_CGROUP, path, sizeof(path));
			rmdir(path);
		}
	}
}

uint64_t pool_jail_memory_max_mib(const struct instance *inst)
{
	char path[PATH_MAX];
	unsigned long long v = 0;
	FILE *f;

	memory_file(inst->pool->set, inst->id, "memory.max", "memory.limit_in_bytes", path,
		    sizeof(path));
	f = fopen(path, "re");
	if (f != NULL && fscanf(f, "%llu", &v) != 1)
		v = 0;
	if (f != NULL)
		fclose(f);
	return v >> 20;
}

bool pool_jail_oom_killed(const struct instance *inst)
{
	char path[PATH_MAX], key[32];
	unsigned long long n;
	bool killed = false;
	FILE *f;

	if (!inst->jailed)
		return false;
	/* Both count the kernel's kills as "oom_kill N". */
	memory_file(inst->pool->set, inst->id, "memory.events", "memory.oom_control", path,
		    sizeof(path));
	f = fopen(path, "re");
	while (f != NULL && fscanf(f, "%31s %llu", key, &n) == 2)
		if (strcmp(key, "oom_kill") == 0 && n > 0)
			killed = true;
	if (f != NULL)
		fclose(f);
	return killed;
}

int pool_jail_raise_memory(const struct pool_set *s, const char *id, uint64_t mib)
{
	char path[PATH_MAX];
	int ret;
	FILE *f;

	memory_file(s, id, "memory.max", "memory.limit_in_bytes", path, sizeof(path));
	f = fopen(path, "we");
	if (f == NULL)
		return -errno;
	ret = fprintf(f, "%llu\n", (unsigned long long)(mib << 20)) < 0 ? -EIO : 0;
	if (fclose(f) != 0 && ret == 0)
		ret = -errno;
	return ret;
}
