/* jail_cgroup: the instances' cgroups as emberd sees them: the parent per home, limits read and raised, OOM kills, removal (v2, or v1 per controller). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "api/pool/pool_priv.h"
#include "lib/util/log.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
/* Where a cgroup v1 host keeps the controllers ember-jailer uses. */
static const char *const cgroup_v1[] = { "memory", "pids", "cpu", "cpu,cpuacct", "cpuset" };
#define SWEEP_WAIT_MS 2000 /* for a leftover VMM to die after SIGKILL */

/* As ember-jailer decides it (vmm/jail/cgroup.c). */
bool pool_cgroup_v1(void)
{
	struct statfs fs;

	return !(statfs(CGROUP_ROOT, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC);
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

/* Kills what is left in a cgroup (a VMM of an earlier emberd), waits for
 * each to die, and removes the cgroup (each v1 controller's too). */
void pool_cgroup_remove(const struct pool_set *s, const char *id, bool kill_procs)
{
	char parent[64], path[PATH_MAX], procs[PATH_MAX];

	pool_cgroup_parent(s, parent, sizeof(parent));
	for (size_t i = 0; i <= sizeof(cgroup_v1) / sizeof(cgroup_v1[0]); i++) {
		const char *ctl = i == 0 ? "" : cgroup_v1[i - 1];

		snprintf(path, sizeof(path), "%s%s%s/%s/%s", CGROUP_ROOT, i == 0 ? "" : "/", ctl,
			 parent, id);
		if (kill_procs &&
		    snprintf(procs, sizeof(procs), "%s/cgroup.procs", path) < (int)sizeof(procs)) {
			FILE *f = fopen(procs, "re");
			int pid;

			while (f != NULL && fscanf(f, "%d", &pid) == 1) {
				int fd = pidfd_open(pid, 0);
				struct pollfd p = { .fd = fd, .events = POLLIN };

				log_warn("stopping ember-vmm %d, left in its jail by an earlier "
					 "emberd",
					 pid);
				if (fd >= 0 && pidfd_send_signal(fd, SIGKILL, NULL, 0) == 0)
					poll(&p, 1, SWEEP_WAIT_MS);
				if (fd >= 0)
					close(fd);
			}
			if (f != NULL)
				fclose(f);
		}
		if (rmdir(path) < 0 && errno != ENOENT)
			log_warn("removing the cgroup %s: %s", path, strerror(errno));
	}
}

void pool_cgroups_free(const struct pool_set *s)
{
	char parent[64], path[PATH_MAX];

	/* This home's parent cgroup, then ember-vmm/ if no other emberd uses it
	 * (v1: in each controller's hierarchy). */
	pool_cgroup_parent(s, parent, sizeof(parent));
	for (size_t i = 0; i <= sizeof(cgroup_v1) / sizeof(cgroup_v1[0]); i++) {
		const char *ctl = i == 0 ? "" : cgroup_v1[i - 1];

		snprintf(path, sizeof(path), "%s%s%s/%s", CGROUP_ROOT, i == 0 ? "" : "/", ctl,
			 parent);
		if (rmdir(path) == 0) {
			snprintf(path, sizeof(path), "%s%s%s/%s", CGROUP_ROOT, i == 0 ? "" : "/",
				 ctl, POOL_JAIL_CGROUP);
			rmdir(path);
		}
	}
}

uint64_t pool_jail_memory_max_mib(const struct instance *inst)
{
	char parent[64], path[PATH_MAX];
	unsigned long long v = 0;
	FILE *f;

	pool_cgroup_parent(inst->pool->set, parent, sizeof(parent));
	snprintf(path, sizeof(path), "%s%s/%s/%s/%s", CGROUP_ROOT,
		 inst->pool->set->cgroup_v1 ? "/memory" : "", parent, inst->id,
		 inst->pool->set->cgroup_v1 ? "memory.limit_in_bytes" : "memory.max");
	f = fopen(path, "re");
	if (f != NULL && fscanf(f, "%llu", &v) != 1)
		v = 0;
	if (f != NULL)
		fclose(f);
	return v >> 20;
}

bool pool_jail_oom_killed(const struct instance *inst)
{
	/* v2: memory.events; v1: the memory controller's memory.oom_control. */
	static const char *const where[][2] = { { "", "memory.events" },
						{ "/memory", "memory.oom_control" } };
	char parent[64], path[PATH_MAX], key[32];
	unsigned long long n;
	bool killed = false;

	if (!inst->jailed)
		return false;
	pool_cgroup_parent(inst->pool->set, parent, sizeof(parent));
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]) && !killed; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s%s/%s/%s/%s", CGROUP_ROOT, where[i][0], parent,
			 inst->id, where[i][1]);
		f = fopen(path, "re");
		while (f != NULL && fscanf(f, "%31s %llu", key, &n) == 2)
			if (strcmp(key, "oom_kill") == 0 && n > 0)
				killed = true;
		if (f != NULL)
			fclose(f);
	}
	return killed;
}

int pool_jail_raise_memory(const struct pool_set *s, const char *id, uint64_t mib)
{
	static const char *const where[][2] = { { "", "memory.max" },
						{ "/memory", "memory.limit_in_bytes" } };
	char parent[64], path[PATH_MAX];
	int ret = -ENOENT;

	pool_cgroup_parent(s, parent, sizeof(parent));
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]) && ret < 0; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s%s/%s/%s/%s", CGROUP_ROOT, where[i][0], parent, id,
			 where[i][1]);
		f = fopen(path, "we");
		if (f == NULL)
			continue;
		ret = fprintf(f, "%llu\n", (unsigned long long)(mib << 20)) < 0 ? -EIO : 0;
		if (fclose(f) != 0 && ret == 0)
			ret = -errno;
	}
	return ret;
}
