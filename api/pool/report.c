/* report: what instances report to their pool: ready, snapshot phases, job frames, deadlines, start failures, exits. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "api/pool/pool_priv.h"
#include "lib/util/log.h"

void pool_inst_ready(struct instance *inst)
{
	struct pool *p = inst->pool;
	int ret;

	if (!inst->restore && p->set->snapstart && !p->has_snapshot && !p->snap_busy &&
	    !p->snap_failed && !p->draining) {
		inst_to_snapshotting(inst);
		p->snap_busy = true;
		p->snap_drop = false; /* a drop asked for of an earlier one is done */
		ret = snap_take(inst);
		if (ret == 0)
			return;
		p->snap_busy = false;
		p->snap_failed = true;
		p->set->snapshot_fallbacks++;
		log_warn("SnapStart: %s: cannot take a snapshot (%s); cold starts for this "
			 "version",
			 p->fn->key, strerror(-ret));
	}
	pool_offer(inst);
}

/* Phase 1 of a snapshot is over: the instance serves (or, left paused, goes). */
void pool_inst_snapshot_taken(struct instance *inst, int ret, const char *err, bool running)
{
	struct pool *p = inst->pool;

	if (ret < 0) {
		p->snap_busy = false;
		p->snap_failed = true;
		p->set->snapshot_fallbacks++;
		log_warn("SnapStart: %s: snapshot failed: %s; cold starts for this version",
			 p->fn->key, err);
	}
	if (inst->state != INST_SNAPSHOTTING) {
		pool_maybe_free(p); /* it failed or stopped meanwhile */
		return;
	}
	if (!running) {
		inst_stop(inst, STOP_KILL, "left paused by a failed snapshot");
		pool_ensure_starts(p);
		return;
	}
	pool_offer(inst);
}

/* Phase 2: the files are durable and named; restores may use them now. */
void pool_snapshot_stored(struct pool *p, int ret, const char *err)
{
	p->snap_busy = false;
	if (ret == 0 && p->snap_drop) {
		snap_delete(p->snap_dir); /* dropped on request while it was stored */
	} else if (ret == 0 && !p->draining) {
		p->has_snapshot = true;
		p->set->snapshots_taken++;
		log_info("SnapStart: %s: snapshot taken (%s)", p->fn->key, p->snap_dir);
		pool_standby_fill(p);
	} else if (ret == 0) {
		snap_delete(p->snap_dir); /* its version was replaced meanwhile */
	} else {
		p->snap_failed = true;
		p->set->snapshot_fallbacks++;
		log_warn("SnapStart: %s: snapshot failed: %s; cold starts for this version",
			 p->fn->key, err);
	}
	pool_maybe_free(p);
}

void pool_snapshot_counts(struct pool_set *s, uint64_t *taken, uint64_t *fallbacks)
{
	*taken = s->snapshots_taken;
	*fallbacks = s->snapshot_fallbacks;
}

void pool_inst_job_frame(struct instance *inst, const struct gproto_msg *m)
{
	struct pool_set *s = inst->pool->set;
	struct pool_job *job = inst->job;
	bool ends = m->type == GPROTO_RESULT || m->type == GPROTO_ERROR;
	bool retire = false;

	if (m->type == GPROTO_ERROR) {
		const char *t = m->error.error_type.s;

		/* The runtime died (ember-init restarts it, but Lambda resets the
		 * environment), or the guest says we broke the protocol. */
		retire = strcmp(t, "Runtime.ExitError") == 0 || strncmp(t, "Ember.", 6) == 0;
	}
	if (ends)
		pool_job_end(job);
	s->ops->frame(s->arg, job, m);
	if (!ends)
		return;
	if (retire) {
		inst_stop(inst, STOP_KILL, "its runtime exited");
		pool_ensure_starts(inst->pool);
	} else {
		pool_offer(inst);
	}
}

void pool_inst_deadline(struct instance *inst)
{
	struct pool_job *job = inst->job;

	inst_stop(inst, STOP_KILL, "the invocation timed out");
	pool_fail_job(job, POOL_FAIL_TIMEOUT, "timed out", NULL, 0);
}

void pool_inst_start_failed(struct instance *inst, const char *detail, const char *etype,
			    const uint8_t *body, size_t len)
{
	struct pool *p = inst->pool;
	char tail[POOL_CONSOLE_TAIL], msg[1536];

	inst_console_tail(inst, tail, sizeof(tail));
	if (inst->state == INST_SNAPSHOTTING) {
		p->snap_failed = true; /* its jobs get another instance */
		p->set->snapshot_fallbacks++;
		log_warn("SnapStart: %s: instance %s failed while snapshotting: %s", p->fn->key,
			 inst->id, detail);
		return;
	}
	if (inst->restore && etype == NULL) {
		log_warn("SnapStart: %s: restoring instance %s failed: %s; deleting the snapshot, "
			 "cold starts for this version. Last output:\n%s",
			 p->fn->key, inst->id, detail, tail);
		p->snap_failed = true;
		p->set->snapshot_fallbacks++;
		pool_forget_snapshot(p, "its snapshot was deleted");
		return; /* its job waits for a cold start (ensure_starts at gone) */
	}
	if (etype == NULL)
		log_warn("%s: instance %s did not start: %s. Last output:\n%s", p->fn->key,
			 inst->id, detail, tail);
	/* pool_coming() still counts this instance: without it, is a job left
	 * with no instance on the way? That job fails with it. */
	if (p->nwaiting == 0 || p->nwaiting < pool_coming(p))
		return;
	if (etype != NULL) {
		pool_fail_job(pool_dequeue(p), POOL_FAIL_INIT_ERROR, etype, body, len);
	} else {
		snprintf(msg, sizeof(msg), "%s; last output: %s", detail, tail);
		pool_fail_job(pool_dequeue(p), POOL_FAIL_START, msg, NULL, 0);
	}
}

/* Lambda's wording for how a process ended: "exit status 1", "signal: killed". */
static void exit_text(const struct instance *inst, char *out, size_t cap)
{
	if (!inst->exited) {
		snprintf(out, cap, "unknown");
	} else if (WIFSIGNALED(inst->status)) {
		const char *n = strsignal(WTERMSIG(inst->status));

		snprintf(out, cap, "signal: %c%s", n[0] >= 'A' && n[0] <= 'Z' ? n[0] + 32 : n[0],
			 n + 1);
	} else {
		snprintf(out, cap, "exit status %d", WEXITSTATUS(inst->status));
	}
}

void pool_inst_gone(struct instance *inst)
{
	struct pool *p = inst->pool;
	char how[64], msg[512];

	exit_text(inst, how, sizeof(how));
	log_debug("instance %s gone (%s; %s)", inst->id, inst->why[0] ? inst->why : "?", how);
	if (inst->job != NULL) {
		char tail[POOL_CONSOLE_TAIL];

		snprintf(msg, sizeof(msg), "%s (the microVM ended: %s)", how,
			 inst->why[0] ? inst->why : "ember-vmm exited");
		inst_console_tail(inst, tail, sizeof(tail));
		log_warn("%s: instance %s ended during an invocation: %s. Last output:\n%s",
			 p->fn->key, inst->id, msg, tail);
		pool_fail_job(inst->job, POOL_FAIL_DIED, msg, NULL, 0);
	}
	pool_ensure_starts(p);
	pool_maybe_free(p);
}

void pool_inst_idle_expired(struct instance *inst)
{
	inst_stop(inst, STOP_TERM, "kept warm long enough");
}
