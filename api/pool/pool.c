/* pool: instances per function version: dispatch of jobs, starts within the limits, SnapStart decisions, draining (see pool.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "api/pool/pool_priv.h"
#include "lib/util/log.h"

static unsigned hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h % POOL_HASH_BUCKETS;
}

static struct pool_name *name_get(struct pool_set *s, const char *name, bool create)
{
	struct pool_name **b = &s->names[hash(name)], *n;

	for (n = *b; n != NULL; n = n->next)
		if (strcmp(n->name, name) == 0)
			return n;
	if (!create || strlen(name) > FN_NAME_MAX)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->reserved = UINT32_MAX;
	n->next = *b;
	*b = n;
	return n;
}

static struct pool *pool_find(struct pool_set *s, const char *key)
{
	for (struct pool *p = s->pools[hash(key)]; p != NULL; p = p->next)
		if (strcmp(p->fn->key, key) == 0)
			return p;
	return NULL;
}

static struct pool *pool_get(struct pool_set *s, struct fn *fn)
{
	struct pool *p = pool_find(s, fn->key);
	struct pool **b;

	if (p != NULL)
		return p;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->pname = name_get(s, fn->name, true);
	if (p->pname == NULL) {
		free(p);
		return NULL;
	}
	p->set = s;
	p->fn = fn_ref(fn);
	p->wait_tail = &p->wait_head;
	snap_dir_for(s, fn, p->snap_dir, sizeof(p->snap_dir));
	p->has_snapshot = s->snapstart && snap_exists(p->snap_dir);
	b = &s->pools[hash(fn->key)];
	p->next = *b;
	*b = p;
	return p;
}

static unsigned starting(const struct pool *p)
{
	return p->n[INST_STARTING] + p->n[INST_INITIALIZING] + p->n[INST_RESTORING] +
	       p->n[INST_SNAPSHOTTING];
}

/* Instances that will take a waiting job: idle ones (the dispatch event
 * pairs them with jobs) and those still starting. */
static unsigned coming(const struct pool *p)
{
	return p->n[INST_IDLE] + starting(p);
}

static unsigned live(const struct pool *p)
{
	return starting(p) + p->n[INST_IDLE] + p->n[INST_BUSY] + p->n[INST_DRAINING];
}

/* A draining pool with nothing left in it goes away. */
static void maybe_free_pool(struct pool *p)
{
	struct pool **b;

	if (!p->draining || live(p) > 0 || p->nwaiting > 0 || p->insts != NULL || p->snap_busy ||
	    p->set->freeing)
		return;
	for (b = &p->set->pools[hash(p->fn->key)]; *b != NULL; b = &(*b)->next) {
		if (*b == p) {
			*b = p->next;
			break;
		}
	}
	if (p->dirty) { /* unlink it from the dispatch list too */
		struct pool **d = &p->set->dirty;

		while (*d != NULL && *d != p)
			d = &(*d)->dirty_next;
		if (*d == p)
			*d = p->dirty_next;
	}
	fn_unref(p->fn);
	free(p);
}

/* ---- bookkeeping on every state change ---- */

static void idle_unlink(struct pool_set *s, struct instance *inst)
{
	struct pool *p = inst->pool;

	for (struct instance **i = &p->idle; *i != NULL; i = &(*i)->idle_next) {
		if (*i == inst) {
			*i = inst->idle_next;
			break;
		}
	}
	if (inst->lru_prev != NULL)
		inst->lru_prev->lru_next = inst->lru_next;
	else
		s->lru_head = inst->lru_next;
	if (inst->lru_next != NULL)
		inst->lru_next->lru_prev = inst->lru_prev;
	else
		s->lru_tail = inst->lru_prev;
	inst->idle_next = inst->lru_next = inst->lru_prev = NULL;
}

void pool_inst_state(struct instance *inst, enum inst_state from, enum inst_state to)
{
	struct pool *p = inst->pool;
	struct pool_set *s = p->set;
	uint64_t mib = inst_memory_mib(p->fn);

	if (from < INST_GONE)
		p->n[from]--;
	if (to < INST_GONE)
		p->n[to]++;
	if (from == INST_NSTATES) { /* new */
		inst->next = p->insts;
		if (p->insts != NULL)
			p->insts->prev = inst;
		p->insts = inst;
		s->used_mib += mib;
		p->memory_mib += mib;
		inst->counted = true;
	}
	if (from == INST_IDLE)
		idle_unlink(s, inst);
	if (to == INST_IDLE) {
		inst->idle_next = p->idle; /* most recently used first */
		p->idle = inst;
		inst->lru_prev = s->lru_tail;
		if (s->lru_tail != NULL)
			s->lru_tail->lru_next = inst;
		else
			s->lru_head = inst;
		s->lru_tail = inst;
	}
	if ((to == INST_DRAINING || to == INST_GONE) && inst->counted) {
		s->used_mib -= mib;
		p->memory_mib -= mib;
		inst->counted = false;
	}
	if (to == INST_GONE) {
		if (inst->prev != NULL)
			inst->prev->next = inst->next;
		else
			p->insts = inst->next;
		if (inst->next != NULL)
			inst->next->prev = inst->prev;
		inst->next = inst->prev = NULL;
	}
}

/* ---- jobs ---- */

static struct pool_job *dequeue(struct pool *p)
{
	struct pool_job *job = p->wait_head;

	if (job == NULL)
		return NULL;
	p->wait_head = job->next;
	if (p->wait_head == NULL)
		p->wait_tail = &p->wait_head;
	p->nwaiting--;
	job->next = NULL;
	return job;
}

/* The pool lets go of a job that ends; the caller reports it next. */
static void job_end(struct pool_job *job)
{
	struct pool *p = job->pool;

	if (job->inst != NULL)
		job->inst->job = NULL;
	job->inst = NULL;
	p->pname->inflight--;
}

static void fail_job(struct pool_job *job, enum pool_fail why, const char *detail,
		     const uint8_t *body, size_t len)
{
	struct pool_set *s = job->pool->set;

	job_end(job);
	s->ops->fail(s->arg, job, why, detail, body, len);
}

static void run_job(struct instance *inst, struct pool_job *job)
{
	struct pool_set *s = inst->pool->set;
	enum pool_start how = POOL_START_WARM;
	double init_ms = 0;

	if (inst->fresh) {
		how = inst->restore ? POOL_START_RESTORE : POOL_START_COLD;
		init_ms = (double)(inst->t_ready_ns - inst->t_spawn_ns) / 1e6;
		inst->fresh = false;
	}
	inst_run(inst, job);
	s->ops->run(s->arg, job, how, init_ms);
}

/* An instance is ready for work: the oldest waiting job, else idle (or
 * stopped, for a version that was replaced). */
static void offer(struct instance *inst)
{
	struct pool *p = inst->pool;
	struct pool_job *job = dequeue(p);

	if (job != NULL)
		run_job(inst, job);
	else if (p->draining || p->set->freeing)
		inst_stop(inst, STOP_TERM, "its version was replaced");
	else
		inst_to_idle(inst);
}

/* Frees memory for `need` MiB by stopping idle instances, oldest first,
 * but none a waiting job counts on (its pool has no more idle than jobs). */
static bool make_room(struct pool_set *s, uint64_t need)
{
	while (s->used_mib + need > s->budget_mib) {
		struct instance *victim = s->lru_head;

		while (victim != NULL && victim->pool->n[INST_IDLE] <= victim->pool->nwaiting)
			victim = victim->lru_next;
		if (victim == NULL)
			return false;
		log_info("instance %s (%s) stopped to make room for another", victim->id,
			 victim->pool->fn->key);
		inst_stop(victim, STOP_TERM, "evicted: the memory budget is full");
	}
	return true;
}

/* 0, POOL_THROTTLED_MEMORY, or -errno. */
static int start_one(struct pool *p)
{
	struct pool_set *s = p->set;
	struct instance *inst;
	bool restore = s->snapstart && p->has_snapshot && !p->snap_failed;
	int ret;

	if (!make_room(s, inst_memory_mib(p->fn)))
		return POOL_THROTTLED_MEMORY;
	ret = inst_spawn(p, restore, &inst);
	if (ret < 0)
		log_err("%s: starting an instance: %s", p->fn->key, strerror(-ret));
	return ret;
}

/* Enough instances for the waiting jobs; what cannot start fails its job
 * unless a busy instance of this version will take it later. */
static void ensure_starts(struct pool *p)
{
	if (p->set->freeing)
		return;
	while (p->nwaiting > coming(p)) {
		int ret = start_one(p);

		if (ret == 0)
			continue;
		if (p->n[INST_BUSY] > 0)
			return;
		while (p->nwaiting > coming(p)) {
			struct pool_job *job = dequeue(p);

			fail_job(job, POOL_FAIL_START,
				 ret == POOL_THROTTLED_MEMORY
					 ? "no room for an instance in the memory budget"
					 : strerror(-ret),
				 NULL, 0);
		}
		return;
	}
}

static void on_dispatch(evutil_socket_t fd, short what, void *arg)
{
	struct pool_set *s = arg;

	(void)fd, (void)what;
	while (s->dirty != NULL) {
		struct pool *p = s->dirty;

		s->dirty = p->dirty_next;
		p->dirty = false;
		while (p->wait_head != NULL && p->idle != NULL)
			run_job(p->idle, dequeue(p));
	}
}

int pool_submit(struct pool_set *s, struct pool_job *job)
{
	struct pool_name *pn = name_get(s, job->fn->name, true);
	struct pool *p;
	int ret;

	if (pn == NULL)
		return -ENOMEM;
	if (pn->inflight >= pn->reserved)
		return POOL_THROTTLED_RESERVED;
	p = pool_get(s, job->fn);
	if (p == NULL)
		return -ENOMEM;
	/* Every job gets an instance of its own: an idle one, one starting for
	 * it, or a new one (Lambda scales out; it does not queue behind busy ones). */
	if (p->nwaiting + 1 > coming(p)) {
		ret = start_one(p);
		if (ret != 0)
			return ret;
	}
	job->pool = p;
	job->inst = NULL;
	job->next = NULL;
	*p->wait_tail = job;
	p->wait_tail = &job->next;
	p->nwaiting++;
	pn->inflight++;
	/* run() never from inside submit: the dispatch event runs it next. */
	if (p->idle != NULL && !p->dirty) {
		p->dirty = true;
		p->dirty_next = s->dirty;
		s->dirty = p;
		event_active(s->dispatch_ev, EV_TIMEOUT, 0);
	}
	return 0;
}

int pool_send(struct pool_job *job, struct gproto_msg *m)
{
	if (job->inst == NULL)
		return -ENOTCONN;
	m->req_id = job->inst->req_id;
	return inst_send(job->inst, m);
}

const char *pool_instance_id(const struct pool_job *job)
{
	return job->inst != NULL ? job->inst->id : "";
}

/* ---- what instances report ---- */

void pool_inst_ready(struct instance *inst)
{
	struct pool *p = inst->pool;
	int ret;

	if (!inst->restore && p->set->snapstart && !p->has_snapshot && !p->snap_busy &&
	    !p->snap_failed && !p->draining) {
		inst_to_snapshotting(inst);
		p->snap_busy = true;
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
	offer(inst);
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
		maybe_free_pool(p); /* it failed or stopped meanwhile */
		return;
	}
	if (!running) {
		inst_stop(inst, STOP_KILL, "left paused by a failed snapshot");
		ensure_starts(p);
		return;
	}
	offer(inst);
}

/* Phase 2: the files are durable and named; restores may use them now. */
void pool_snapshot_stored(struct pool *p, int ret, const char *err)
{
	p->snap_busy = false;
	if (ret == 0 && !p->draining) {
		p->has_snapshot = true;
		p->set->snapshots_taken++;
		log_info("SnapStart: %s: snapshot taken (%s)", p->fn->key, p->snap_dir);
	} else if (ret == 0) {
		snap_delete(p->snap_dir); /* its version was replaced meanwhile */
	} else {
		p->snap_failed = true;
		p->set->snapshot_fallbacks++;
		log_warn("SnapStart: %s: snapshot failed: %s; cold starts for this version",
			 p->fn->key, err);
	}
	maybe_free_pool(p);
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
		job_end(job);
	s->ops->frame(s->arg, job, m);
	if (!ends)
		return;
	if (retire) {
		inst_stop(inst, STOP_KILL, "its runtime exited");
		ensure_starts(inst->pool);
	} else {
		offer(inst);
	}
}

void pool_inst_deadline(struct instance *inst)
{
	struct pool_job *job = inst->job;

	inst_stop(inst, STOP_KILL, "the invocation timed out");
	fail_job(job, POOL_FAIL_TIMEOUT, "timed out", NULL, 0);
}

void pool_inst_start_failed(struct instance *inst, const char *detail, const char *etype,
			    const uint8_t *body, size_t len)
{
	struct pool *p = inst->pool;
	char tail[1024], msg[1536];

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
		p->has_snapshot = false;
		snap_delete(p->snap_dir);
		return; /* its job waits for a cold start (ensure_starts at gone) */
	}
	if (etype == NULL)
		log_warn("%s: instance %s did not start: %s. Last output:\n%s", p->fn->key,
			 inst->id, detail, tail);
	/* coming() still counts this instance: without it, is a job left
	 * with no instance on the way? That job fails with it. */
	if (p->nwaiting == 0 || p->nwaiting < coming(p))
		return;
	if (etype != NULL) {
		fail_job(dequeue(p), POOL_FAIL_INIT_ERROR, etype, body, len);
	} else {
		snprintf(msg, sizeof(msg), "%s; last output: %s", detail, tail);
		fail_job(dequeue(p), POOL_FAIL_START, msg, NULL, 0);
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
		char tail[1024];

		snprintf(msg, sizeof(msg), "%s (the microVM ended: %s)", how,
			 inst->why[0] ? inst->why : "ember-vmm exited");
		inst_console_tail(inst, tail, sizeof(tail));
		log_warn("%s: instance %s ended during an invocation: %s. Last output:\n%s",
			 p->fn->key, inst->id, msg, tail);
		fail_job(inst->job, POOL_FAIL_DIED, msg, NULL, 0);
	}
	ensure_starts(p);
	maybe_free_pool(p);
}

void pool_inst_idle_expired(struct instance *inst)
{
	inst_stop(inst, STOP_TERM, "kept warm long enough");
}

/* ---- the set ---- */

int pool_set_new(struct event_base *base, const struct pool_opts *opts, const struct pool_ops *ops,
		 void *arg, struct pool_set **out)
{
	struct pool_set *s = calloc(1, sizeof(*s));
	char path[PATH_MAX];
	int ret = -ENAMETOOLONG;

	if (s == NULL)
		return -ENOMEM;
	s->base = base;
	s->ops = ops;
	s->arg = arg;
	s->budget_mib = opts->memory_budget_mib;
	s->keep_warm_s = opts->keep_warm_s;
	s->snapstart = opts->snapstart;
	if (snprintf(s->home, sizeof(s->home), "%s", opts->home) >= (int)sizeof(s->home) ||
	    snprintf(s->vmm, sizeof(s->vmm), "%s", opts->vmm_path) >= (int)sizeof(s->vmm) ||
	    snprintf(s->kernel, sizeof(s->kernel), "%s", opts->kernel_path) >=
		    (int)sizeof(s->kernel) ||
	    snprintf(s->initrd, sizeof(s->initrd), "%s", opts->initrd_path) >=
		    (int)sizeof(s->initrd) ||
	    snprintf(s->guest_args, sizeof(s->guest_args), "%s",
		     opts->guest_args ? opts->guest_args : "") >= (int)sizeof(s->guest_args))
		goto err;
	/* emberd connects to <home>/run/<id>/vsock.sock: it must fit a sun_path. */
	if (strlen(s->home) + strlen("/run/") + POOL_ID_LEN + 1 + strlen(POOL_VSOCK_SOCK) >= 108) {
		log_err("EMBER_HOME %s is too long for the instances' socket paths (at most %zu "
			"bytes)",
			s->home, 107 - strlen("/run/") - POOL_ID_LEN - 1 - strlen(POOL_VSOCK_SOCK));
		goto err;
	}
	for (unsigned i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", s->home, i == 0 ? "run" : "snapshots");
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			ret = -errno;
			log_err("%s: %s", path, strerror(errno));
			goto err;
		}
	}
	inst_sweep_leftovers(s->home);
	s->dispatch_ev = event_new(base, -1, 0, on_dispatch, s);
	ret = s->dispatch_ev == NULL ? -ENOMEM : work_pool_new(base, 1, &s->work);
	if (ret < 0)
		goto err;
	*out = s;
	return 0;

err:
	if (s->dispatch_ev != NULL)
		event_free(s->dispatch_ev);
	free(s);
	return ret;
}

/* Waits up to the grace period for every stopped instance's exit. */
static void wait_for_exits(struct pool_set *s)
{
	struct pollfd fds[256];
	uint64_t deadline = pool_now_ns() + POOL_STOP_GRACE_S * 1000000000ull;

	for (;;) {
		unsigned n = 0;
		uint64_t now = pool_now_ns();

		for (unsigned b = 0; b < POOL_HASH_BUCKETS; b++)
			for (struct pool *p = s->pools[b]; p != NULL; p = p->next)
				for (struct instance *i = p->insts; i != NULL; i = i->next)
					if (!i->exited && n < sizeof(fds) / sizeof(fds[0]))
						fds[n++] = (struct pollfd){ .fd = i->pidfd,
									    .events = POLLIN };
		if (n == 0 || now >= deadline)
			return;
		if (poll(fds, n, (int)((deadline - now) / 1000000u) + 1) <= 0)
			return;
		for (unsigned b = 0; b < POOL_HASH_BUCKETS; b++)
			for (struct pool *p = s->pools[b]; p != NULL; p = p->next)
				for (struct instance *i = p->insts; i != NULL; i = i->next) {
					int st;

					if (!i->exited && waitpid(i->pid, &st, WNOHANG) > 0) {
						i->exited = true;
						i->status = st;
					}
				}
	}
}

void pool_set_free(struct pool_set *s)
{
	if (s == NULL)
		return;
	s->freeing = true;
	/* First the snapshot jobs: their done() still finds their instances. */
	work_pool_free(s->work);
	for (unsigned b = 0; b < POOL_HASH_BUCKETS; b++)
		for (struct pool *p = s->pools[b]; p != NULL; p = p->next) {
			struct pool_job *job;

			while ((job = dequeue(p)) != NULL)
				fail_job(job, POOL_FAIL_SHUTDOWN, "emberd is stopping", NULL, 0);
			for (struct instance *i = p->insts; i != NULL; i = i->next) {
				if (i->job != NULL)
					fail_job(i->job, POOL_FAIL_SHUTDOWN, "emberd is stopping",
						 NULL, 0);
				inst_stop(i, STOP_TERM, "emberd is stopping");
			}
		}
	wait_for_exits(s);
	for (unsigned b = 0; b < POOL_HASH_BUCKETS; b++) {
		while (s->pools[b] != NULL) {
			struct pool *p = s->pools[b];

			while (p->insts != NULL)
				inst_finish(p->insts);
			s->pools[b] = p->next;
			fn_unref(p->fn);
			free(p);
		}
		while (s->names[b] != NULL) {
			struct pool_name *n = s->names[b];

			s->names[b] = n->next;
			free(n);
		}
	}
	event_free(s->dispatch_ev);
	free(s);
}

/* ---- control ---- */

void pool_drain(struct pool_set *s, const char *name, const char *version, const char *current_key)
{
	for (unsigned b = 0; b < POOL_HASH_BUCKETS; b++) {
		struct pool *p = s->pools[b];

		while (p != NULL) {
			struct pool *next = p->next;

			if (strcmp(p->fn->name, name) == 0 &&
			    (version == NULL || strcmp(p->fn->version, version) == 0) &&
			    (current_key == NULL || strcmp(p->fn->key, current_key) != 0) &&
			    !p->draining) {
				p->draining = true;
				if (s->snapstart) {
					snap_delete(p->snap_dir);
					p->has_snapshot = false;
				}
				while (p->idle != NULL)
					inst_stop(p->idle, STOP_TERM, "its version was replaced");
				maybe_free_pool(p);
			}
			p = next;
		}
	}
}

void pool_forget(struct pool_set *s, const char *name)
{
	char dir[PATH_MAX];

	pool_drain(s, name, NULL, NULL);
	if (snprintf(dir, sizeof(dir), "%s/snapshots/%s", s->home, name) < (int)sizeof(dir) &&
	    name[0] != '\0' && strchr(name, '/') == NULL && strcmp(name, "..") != 0)
		snap_delete(dir);
}

void pool_set_concurrency(struct pool_set *s, const char *name, uint32_t reserved)
{
	struct pool_name *n = name_get(s, name, true);

	if (n != NULL)
		n->reserved = reserved;
}

void pool_status(struct pool_set *s, void (*each)(void *arg, const struct pool_status *st),
		 void *arg, uint64_t *used_mib, uint64_t *budget_mib)
{
	for (unsigned b = 0; b < POOL_HASH_BUCKETS && each != NULL; b++)
		for (struct pool *p = s->pools[b]; p != NULL; p = p->next) {
			struct pool_status st = {
				.name = p->fn->name,
				.version = p->fn->version,
				.key = p->fn->key,
				.starting = starting(p),
				.idle = p->n[INST_IDLE],
				.busy = p->n[INST_BUSY],
				.draining = p->n[INST_DRAINING],
				.has_snapshot = p->has_snapshot,
				.memory_mib = p->memory_mib,
			};

			each(arg, &st);
		}
	*used_mib = s->used_mib;
	*budget_mib = s->budget_mib;
}
