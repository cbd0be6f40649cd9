/* snapshot: SnapStart's files: where a version's snapshot lives, taking one on a worker thread, deleting one (loading one: load.c). */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/pool/pool_priv.h"
#include "lib/fcapi/client.h"
#include "lib/util/log.h"

/* A snapshot job carries copies of everything run() needs (pool_priv.h).
 * Phase 1 (the instance waits): pause, PUT /snapshot/create to temporary
 * names, a copy of its /tmp disk as it is at the pause, resume. Phase 2
 * (the instance serves meanwhile): fsync, rename to the final names, fsync
 * the folder; only then do restores use it. */
struct snap_job {
	struct work w;
	struct instance *inst; /* phase 1 */
	struct pool *pool;     /* phase 2 */
	bool stored;	       /* phase 2 ran */
	char api[PATH_MAX], dir[PATH_MAX], id[POOL_ID_LEN + 1];
	char tmp_state[PATH_MAX], tmp_mem[PATH_MAX], tmp_disk[PATH_MAX];
	char inst_disk[PATH_MAX];		       /* the instance's /tmp disk, from the host */
	char req_state[PATH_MAX], req_mem[PATH_MAX];   /* as the VMM names them */
	char jail_state[PATH_MAX], jail_mem[PATH_MAX]; /* jailed: where it writes them */
	const struct pool_set *set;
	uint64_t mem_max_mib; /* jailed: the template's limit while it writes the files */
	uint64_t t0_ns;
	int ret;
	bool running; /* the VM is not left paused */
	char err[256];
};

void snap_dir_for(const struct pool_set *s, const struct fn *fn, char *out, size_t cap)
{
	if (snprintf(out, cap, "%s/snapshots/%s/%s/%s", s->home, fn->name, fn->version,
		     fn->revision_id) >= (int)cap)
		out[0] = '\0';
}

void snap_state_path(const char *dir, char *out, size_t cap)
{
	if (snprintf(out, cap, "%s/state", dir) >= (int)cap)
		out[0] = '\0';
}

void snap_mem_path(const char *dir, char *out, size_t cap)
{
	if (snprintf(out, cap, "%s/mem", dir) >= (int)cap)
		out[0] = '\0';
}

void snap_scratch_path(const char *dir, char *out, size_t cap)
{
	if (snprintf(out, cap, "%s/" POOL_TMP_DISK, dir) >= (int)cap)
		out[0] = '\0';
}

/* A snapshot of an emberd without /tmp disks (no tmp.ext4) is not one. */
bool snap_exists(const char *dir)
{
	char state[PATH_MAX], mem[PATH_MAX], tmp[PATH_MAX];
	struct stat st;

	snap_state_path(dir, state, sizeof(state));
	snap_mem_path(dir, mem, sizeof(mem));
	snap_scratch_path(dir, tmp, sizeof(tmp));
	return stat(state, &st) == 0 && S_ISREG(st.st_mode) && stat(mem, &st) == 0 &&
	       S_ISREG(st.st_mode) && stat(tmp, &st) == 0 && S_ISREG(st.st_mode);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT)
		log_warn("removing %s: %s", path, strerror(errno));
	return 0;
}

/* Clones that restored it keep their private mapping of the memory file. */
void snap_delete(const char *dir)
{
	if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		log_warn("removing %s: %s", dir, strerror(errno));
}

void pool_forget_snapshot(struct pool *p, const char *why)
{
	p->has_snapshot = false;
	snap_delete(p->snap_dir);
	pool_standby_drop(p, why);
}

/* mkdir -p for the folders below $EMBER_HOME/snapshots. */
static int make_dirs(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s", dir);
	for (char *p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(path, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

static int fsync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Worker thread, phase 1. */
static void snap_run(struct work *w)
{
	struct snap_job *j = (struct snap_job *)w;
	struct schema_snapshot_create req = { .snapshot_type = SCHEMA_SNAPSHOT_FULL };
	char err[256] = "";
	struct fcapi_client *c = NULL;
	int ret;

	j->running = true;
	snprintf(req.snapshot_path, sizeof(req.snapshot_path), "%s", j->req_state);
	snprintf(req.mem_file_path, sizeof(req.mem_file_path), "%s", j->req_mem);
	ret = make_dirs(j->dir);
	if (ret < 0) {
		snprintf(j->err, sizeof(j->err), "%.200s: %s", j->dir, strerror(-ret));
		goto out;
	}
	ret = fcapi_client_new(j->api, POOL_SNAPSHOT_TIMEOUT_S * 1000L, &c);
	if (ret < 0) {
		snprintf(j->err, sizeof(j->err), "API client: %s", strerror(-ret));
		goto out;
	}
	ret = fcapi_vm_state(c, SCHEMA_VM_PAUSED, j->err, sizeof(j->err));
	if (ret < 0)
		goto out;
	/* The memory file's pages are charged to the writer; they stay the
	 * template's for its life (so its limit is not lowered again). */
	if (j->mem_max_mib > 0 &&
	    (ret = pool_jail_raise_memory(j->set, j->id, j->mem_max_mib)) < 0) {
		snprintf(j->err, sizeof(j->err), "raising the memory limit: %s", strerror(-ret));
		goto resume;
	}
	j->running = false;
	ret = fcapi_snapshot_create(c, &req, j->err, sizeof(j->err));
	/* Paused: the disk matches the guest's memory (scratch.c). */
	if (ret == 0 && (ret = pool_scratch_save(j->inst_disk, j->tmp_disk)) < 0)
		snprintf(j->err, sizeof(j->err), "copying its /tmp disk: %s", strerror(-ret));
	/* A jailed VMM wrote them in its root: out of its reach at once, root's,
	 * before its jail can go (an instance may stop before phase 2). */
	if (ret == 0 && j->jail_state[0] != '\0' &&
	    ((ret = pool_jail_seal(j->set, j->jail_mem, j->tmp_mem)) < 0 ||
	     (ret = pool_jail_seal(j->set, j->jail_state, j->tmp_state)) < 0))
		snprintf(j->err, sizeof(j->err), "taking the files out of the jail: %s",
			 strerror(-ret));
	/* Resume even when the snapshot failed: the instance can still serve. */
resume:
	if (fcapi_vm_state(c, SCHEMA_VM_RESUMED, err, sizeof(err)) == 0)
		j->running = true;
	else if (ret == 0)
		snprintf(j->err, sizeof(j->err), "resume: %s", err);
out:
	if (ret < 0) {
		unlink(j->tmp_state);
		unlink(j->tmp_mem);
		unlink(j->tmp_disk);
		if (j->jail_state[0] != '\0') {
			unlink(j->jail_state);
			unlink(j->jail_mem);
		}
	}
	fcapi_client_free(c);
	j->ret = ret;
}

/* Worker thread, phase 2: the files become durable, then get their names
 * (state last: its presence marks a complete snapshot, snap_exists()). */
static void snap_store(struct work *w)
{
	struct snap_job *j = (struct snap_job *)w;
	char state[PATH_MAX], mem[PATH_MAX], disk[PATH_MAX];
	int ret;

	snap_state_path(j->dir, state, sizeof(state));
	snap_mem_path(j->dir, mem, sizeof(mem));
	snap_scratch_path(j->dir, disk, sizeof(disk));
	if ((ret = fsync_path(j->tmp_mem, O_RDONLY)) < 0 ||
	    (ret = fsync_path(j->tmp_state, O_RDONLY)) < 0 ||
	    (ret = fsync_path(j->tmp_disk, O_RDONLY)) < 0 ||
	    (ret = rename(j->tmp_disk, disk) < 0 ? -errno : 0) < 0 ||
	    (ret = pool_jail_seal(j->set, j->tmp_mem, mem)) < 0 ||
	    (ret = pool_jail_seal(j->set, j->tmp_state, state)) < 0 ||
	    (ret = fsync_path(j->dir, O_RDONLY | O_DIRECTORY)) < 0) {
		snprintf(j->err, sizeof(j->err), "writing %.200s: %s", j->dir, strerror(-ret));
		unlink(j->tmp_state);
		unlink(j->tmp_mem);
		unlink(j->tmp_disk);
	}
	j->ret = ret;
}

static void snap_done(struct work *w);

static void store_done(struct snap_job *j)
{
	if (j->w.cancelled) {
		unlink(j->tmp_state); /* emberd is stopping: no time to finish it */
		unlink(j->tmp_mem);
		unlink(j->tmp_disk);
		j->ret = -ECANCELED;
		snprintf(j->err, sizeof(j->err), "cancelled: emberd is stopping");
	}
	if (j->ret == 0)
		log_debug("snapshot %s stored %.1f ms after the pause", j->dir,
			  (double)(pool_now_ns() - j->t0_ns) / 1e6);
	pool_snapshot_stored(j->pool, j->ret, j->err);
	free(j);
}

static void snap_done(struct work *w)
{
	struct snap_job *j = (struct snap_job *)w;
	struct instance *inst = j->inst;
	int ret;

	if (j->stored) {
		store_done(j);
		return;
	}
	if (w->cancelled) {
		j->ret = -ECANCELED;
		j->running = true; /* never paused */
		snprintf(j->err, sizeof(j->err), "cancelled: emberd is stopping");
	}
	inst->snap_job = false;
	j->pool = inst->pool;
	if (j->ret == 0)
		log_debug("instance %s: paused for its snapshot for %.1f ms", inst->id,
			  (double)(pool_now_ns() - j->t0_ns) / 1e6);
	/* The instance serves now; the files are finished behind it. */
	pool_inst_snapshot_taken(inst, j->ret, j->err, j->running);
	if (inst->free_after_job && !inst->load_job && !inst->disk_job)
		free(inst);
	j->inst = NULL;
	if (j->ret < 0) {
		free(j);
		return;
	}
	j->stored = true;
	j->w.run = snap_store;
	ret = work_submit(j->pool->set->work, &j->w);
	if (ret < 0) {
		j->ret = ret;
		snprintf(j->err, sizeof(j->err), "queueing the store: %s", strerror(-ret));
		unlink(j->tmp_state);
		unlink(j->tmp_mem);
		unlink(j->tmp_disk);
		pool_snapshot_stored(j->pool, j->ret, j->err);
		free(j);
	}
}

int snap_take(struct instance *inst)
{
	struct snap_job *j = calloc(1, sizeof(*j));
	int ret;

	if (j == NULL)
		return -ENOMEM;
	j->w.run = snap_run;
	j->w.done = snap_done;
	j->inst = inst;
	j->t0_ns = pool_now_ns();
	j->set = inst->pool->set;
	snprintf(j->api, sizeof(j->api), "%s/%s", inst->root, POOL_API_SOCK);
	snprintf(j->dir, sizeof(j->dir), "%s", inst->pool->snap_dir);
	snprintf(j->id, sizeof(j->id), "%s", inst->id);
	if (snprintf(j->tmp_state, sizeof(j->tmp_state), "%s/state.%s.tmp", j->dir, j->id) >=
		    (int)sizeof(j->tmp_state) ||
	    snprintf(j->tmp_mem, sizeof(j->tmp_mem), "%s/mem.%s.tmp", j->dir, j->id) >=
		    (int)sizeof(j->tmp_mem) ||
	    snprintf(j->jail_state, sizeof(j->jail_state), "%s%s", inst->root,
		     POOL_IN_SNAP_STATE) >= (int)sizeof(j->jail_state) ||
	    snprintf(j->jail_mem, sizeof(j->jail_mem), "%s%s", inst->root, POOL_IN_SNAP_MEM) >=
		    (int)sizeof(j->jail_mem) ||
	    snprintf(j->tmp_disk, sizeof(j->tmp_disk), "%s/tmp.%s.tmp", j->dir, j->id) >=
		    (int)sizeof(j->tmp_disk) ||
	    snprintf(j->inst_disk, sizeof(j->inst_disk), "%s%s", inst->root, POOL_IN_TMP) >=
		    (int)sizeof(j->inst_disk)) {
		free(j);
		return -ENAMETOOLONG;
	}
	if (inst->jailed) {
		j->mem_max_mib = 2ull * inst->pool->fn->memory_mib + j->set->jail.mem_margin_mib;
		snprintf(j->req_state, sizeof(j->req_state), "%s", POOL_IN_SNAP_STATE);
		snprintf(j->req_mem, sizeof(j->req_mem), "%s", POOL_IN_SNAP_MEM);
	} else {
		snprintf(j->req_state, sizeof(j->req_state), "%s", j->tmp_state);
		snprintf(j->req_mem, sizeof(j->req_mem), "%s", j->tmp_mem);
		j->jail_state[0] = j->jail_mem[0] = '\0';
	}
	inst->snap_job = true;
	ret = work_submit(inst->pool->set->work, &j->w);
	if (ret < 0) {
		inst->snap_job = false;
		free(j);
	}
	return ret;
}
