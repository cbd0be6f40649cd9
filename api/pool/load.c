/* load: a restore's slow steps on worker threads: the clone's /tmp disk (copied ahead for a standby) and PUT /snapshot/load. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/pool/pool_priv.h"
#include "lib/fcapi/client.h"
#include "lib/util/log.h"

/* Why a worker for the disk: a snapshot's /tmp disk holds what INIT left in
 * /tmp, possibly hundreds of MiB, and copying that on the loop would stall
 * every other invocation. A standby's disk is copied as soon as it is
 * spawned, so that the restore that takes it only loads; if the take comes
 * first, the load waits for that copy (load_waits). Any other restore copies
 * its disk in its load job, just before the PUT. */
struct load_job {
	struct work w;
	struct instance *inst;
	bool disk_only; /* a standby's copy ahead: no load */
	bool copy;	/* the disk is not in place yet */
	bool jailed;
	struct pool_scratch_copy disk;
	char api[PATH_MAX];
	struct schema_snapshot_load req;
	int ret;
	char err[256];
};

/* Worker thread. */
static void load_run(struct work *w)
{
	struct load_job *j = (struct load_job *)w;
	struct fcapi_client *c = NULL;

	if (j->copy) {
		j->ret = pool_scratch_copy(&j->disk);
		if (j->ret < 0) {
			snprintf(j->err, sizeof(j->err), "its /tmp disk from %s: %s", j->disk.from,
				 strerror(-j->ret));
			return;
		}
	}
	if (j->disk_only)
		return;
	/* j->err says what failed: the VMM's own fault message begins
	 * "loading the snapshot: ", so this side's do too. */
	j->ret = fcapi_client_new(j->api, POOL_RESTORE_TIMEOUT_S * 1000L, &c);
	if (j->ret < 0)
		snprintf(j->err, sizeof(j->err), "loading the snapshot: API client: %s",
			 strerror(-j->ret));
	else
		j->ret = fcapi_snapshot_load(c, &j->req, j->err, sizeof(j->err));
	fcapi_client_free(c);
}

/* An instance that went while a job held it is freed by the last job. Its
 * folders were removed at gone; a copy begun after that made the disk anew
 * (and kept its folder), which goes here. */
static bool free_if_gone(struct instance *inst, const struct load_job *j)
{
	char dir[PATH_MAX], *slash;

	if (!inst->free_after_job || inst->snap_job || inst->load_job || inst->disk_job)
		return false;
	if (j->copy) {
		unlink(j->disk.to);
		snprintf(dir, sizeof(dir), "%s", j->disk.to);
		/* Its folder; jailed, also the jail's <id> folder above the root. */
		for (int up = j->jailed ? 2 : 1; up > 0 && (slash = strrchr(dir, '/')) != NULL;
		     up--) {
			*slash = '\0';
			rmdir(dir);
		}
	}
	free(inst);
	return true;
}

static void load_done(struct work *w)
{
	struct load_job *j = (struct load_job *)w;
	struct instance *inst = j->inst;

	inst->load_job = false;
	if (!free_if_gone(inst, j) && !w->cancelled && j->ret < 0 && inst->state == INST_STARTING)
		inst_fail(inst, "%s", j->err);
	free(j);
}

static void disk_done(struct work *w)
{
	struct load_job *j = (struct load_job *)w;
	struct instance *inst = j->inst;
	int ret;

	inst->disk_job = false;
	if (free_if_gone(inst, j) || w->cancelled || inst->state == INST_DRAINING) {
		free(j);
		return;
	}
	if (j->ret < 0) {
		/* A standby stops (the next restore spawns its own); a restore
		 * that took it fails its start. */
		inst_fail(inst, "%s", j->err);
		free(j);
		return;
	}
	inst->disk_ready = true;
	free(j);
	if (inst->load_waits) {
		inst->load_waits = false;
		ret = snap_load(inst);
		if (ret < 0)
			inst_fail(inst, "loading the snapshot: %s", strerror(-ret));
	}
}

static void add_override(struct schema_load_overrides *o, const char *id, const char *path)
{
	struct schema_drive_override *d = &o->drives[o->ndrives++];

	snprintf(d->drive_id, sizeof(d->drive_id), "%s", id);
	snprintf(d->path_on_host, sizeof(d->path_on_host), "%s", path);
}

/* The load request: every host path named by emberd. */
static void load_request(const struct instance *inst, struct schema_snapshot_load *r)
{
	const struct fn *fn = inst->pool->fn;

	r->backend_type = SCHEMA_MEM_BACKEND_FILE;
	r->resume_vm = true;
	r->overrides.vsock = true;
	snprintf(r->overrides.vsock_uds_path, sizeof(r->overrides.vsock_uds_path), "%s",
		 POOL_VSOCK_SOCK);
	/* Jailed: the paths inside its root, the same for every clone. */
	if (inst->jailed) {
		snprintf(r->snapshot_path, sizeof(r->snapshot_path), "%s", POOL_IN_STATE);
		snprintf(r->backend_path, sizeof(r->backend_path), "%s", POOL_IN_MEM);
		add_override(&r->overrides, POOL_DRIVE_RUNTIME, POOL_IN_RUNTIME);
		add_override(&r->overrides, POOL_DRIVE_CODE, POOL_IN_CODE);
		add_override(&r->overrides, POOL_DRIVE_TMP, POOL_IN_TMP);
	} else {
		snap_state_path(inst->pool->snap_dir, r->snapshot_path, sizeof(r->snapshot_path));
		snap_mem_path(inst->pool->snap_dir, r->backend_path, sizeof(r->backend_path));
		add_override(&r->overrides, POOL_DRIVE_RUNTIME, fn->runtime_image);
		add_override(&r->overrides, POOL_DRIVE_CODE, fn->code_image);
		/* Relative: the VMM's working directory is the instance's folder. */
		add_override(&r->overrides, POOL_DRIVE_TMP, POOL_TMP_DISK);
	}
}

static int submit(struct instance *inst, bool disk_only)
{
	struct load_job *j = calloc(1, sizeof(*j));
	int ret;

	if (j == NULL)
		return -ENOMEM;
	j->w.run = load_run;
	j->w.done = disk_only ? disk_done : load_done;
	j->inst = inst;
	j->disk_only = disk_only;
	j->copy = !inst->disk_ready;
	j->jailed = inst->jailed;
	ret = pool_scratch_for(inst, &j->disk);
	if (ret < 0) {
		free(j);
		return ret;
	}
	snprintf(j->api, sizeof(j->api), "%s/%s", inst->root, POOL_API_SOCK);
	if (!disk_only)
		load_request(inst, &j->req);
	ret = work_submit(inst->pool->set->load_work, &j->w);
	if (ret < 0) {
		free(j);
		return ret;
	}
	if (disk_only)
		inst->disk_job = true;
	else
		inst->load_job = true;
	return 0;
}

int snap_load(struct instance *inst)
{
	if (inst->disk_job) { /* a standby's disk, still being copied */
		inst->load_waits = true;
		return 0;
	}
	return submit(inst, false);
}

int snap_disk_ahead(struct instance *inst)
{
	return submit(inst, true);
}
