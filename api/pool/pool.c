/* pool: instances per function version: the pools, state bookkeeping, and dispatch of jobs to instances within the limits (see pool.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct pool_name *pool_name_get(struct pool_set *s, const char *name, bool create)
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
	p->pname = pool_name_get(s, fn->name, true);
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

unsigned pool_starting(const struct pool *p)
{
	return p->n[INST_STARTING] + p->n[INST_INITIALIZING] + p->n[INST_RESTORING] +
	       p->n[INST_SNAPSHOTTING];
}

/* Instances that will take a waiting job: idle ones (the dispatch event
 * pairs them with jobs) and those still starting. */
unsigned pool_coming(const struct pool *p)
{
	return p->n[INST_IDLE] + pool_starting(p);
}

static unsigned live(const struct pool *p)
{
	return pool_starting(p) + p->n[INST_IDLE] + p->n[INST_BUSY] + p->n[INST_DRAINING];
}

/* A draining pool with nothing left in it goes away. */
void pool_maybe_free(struct pool *p)
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
	}
	/* A standby holds no guest memory yet: it counts once it is taken. */
	if (!inst->counted && to < INST_STANDBY) {
		s->used_mib += mib;
		p->memory_mib += mib;
		inst->counted = true;
	}
	if (from == INST_STANDBY && p->standby == inst)
		p->standby = NULL;
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

struct pool_job *pool_dequeue(struct pool *p)
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
void pool_job_end(struct pool_job *job)
{
	struct pool *p = job->pool;

	if (job->inst != NULL)
		job->inst->job = NULL;
	job->inst = NULL;
	p->pname->inflight--;
}

void pool_fail_job(struct pool_job *job, enum pool_fail why, const char *detail,
		   const uint8_t *body, size_t len)
{
	struct pool_set *s = job->pool->set;

	pool_job_end(job);
	s->ops->fail(s->arg, job, why, detail, body, len);
}

static void run_job(struct instance *inst, struct pool_job *job)
{
	struct pool_set *s = inst->pool->set;
	enum pool_start how = POOL_START_WARM;
	struct pool_phases ph;
	bool fresh = inst->fresh;

	if (fresh) {
		how = inst->restore ? POOL_START_RESTORE : POOL_START_COLD;
		pool_phases_of(inst, &ph);
		inst->fresh = false;
	}
	inst_run(inst, job);
	s->ops->run(s->arg, job, how, fresh ? &ph : NULL);
	if (inst->state == INST_BUSY && inst->job == job)
		inst_arm_deadline(inst);
}

/* An instance is ready for work: the oldest waiting job, else idle (or
 * stopped, for a version that was replaced). */
void pool_offer(struct instance *inst)
{
	struct pool *p = inst->pool;
	struct pool_job *job;

	if (inst->refill && !inst->fresh) { /* a restore that served its first job */
		inst->refill = false;
		pool_standby_fill(p);
	}
	job = pool_dequeue(p);

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
	if (restore && pool_standby_take(p) != NULL)
		return 0;
	ret = inst_spawn(p, restore, false, &inst);
	if (ret < 0 && restore) {
		/* The snapshot cannot be used (a file gone or unreadable, say, when
		 * linking it into a jail): cold starts for this version, never a
		 * failed invoke. */
		log_warn("SnapStart: %s: cannot start a restore (%s); deleting the snapshot, "
			 "cold starts for this version",
			 p->fn->key, strerror(-ret));
		p->snap_failed = true;
		p->set->snapshot_fallbacks++;
		pool_forget_snapshot(p, "its snapshot was deleted");
		ret = inst_spawn(p, false, false, &inst);
	}
	if (ret < 0)
		log_err("%s: starting an instance: %s", p->fn->key, strerror(-ret));
	else if (inst->restore)
		inst->refill = true; /* there was none (it died, say): one for the next */
	return ret;
}

/* The dispatch event pairs waiting jobs with idle instances on its next
 * turn (never from inside the caller). */
static void dispatch_soon(struct pool *p)
{
	struct pool_set *s = p->set;

	if (p->wait_head == NULL || p->idle == NULL || p->dirty)
		return;
	p->dirty = true;
	p->dirty_next = s->dirty;
	s->dirty = p;
	event_active(s->dispatch_ev, EV_TIMEOUT, 0);
}

/* Enough instances for the waiting jobs; what cannot start fails its job
 * unless a busy instance of this version will take it later. A job whose
 * instance failed to start may find an idle one instead: pool_coming()
 * counts those, so they must get it. */
void pool_ensure_starts(struct pool *p)
{
	if (p->set->freeing)
		return;
	dispatch_soon(p);
	while (p->nwaiting > pool_coming(p)) {
		int ret = start_one(p);

		if (ret == 0)
			continue;
		if (p->n[INST_BUSY] > 0)
			return;
		while (p->nwaiting > pool_coming(p)) {
			struct pool_job *job = pool_dequeue(p);

			pool_fail_job(job, POOL_FAIL_START,
				      ret == POOL_THROTTLED_MEMORY
					      ? "no room for an instance in the memory budget"
					      : strerror(-ret),
				      NULL, 0);
		}
		return;
	}
}

void pool_on_dispatch(int fd, short what, void *arg)
{
	struct pool_set *s = arg;

	(void)fd, (void)what;
	while (s->dirty != NULL) {
		struct pool *p = s->dirty;

		s->dirty = p->dirty_next;
		p->dirty = false;
		while (p->wait_head != NULL && p->idle != NULL)
			run_job(p->idle, pool_dequeue(p));
	}
}

int pool_submit(struct pool_set *s, struct pool_job *job)
{
	struct pool_name *pn = pool_name_get(s, job->fn->name, true);
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
	if (p->nwaiting + 1 > pool_coming(p)) {
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
	dispatch_soon(p);
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
