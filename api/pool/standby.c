/* standby: one ember-vmm spawned ahead per snapshotted version, so that a restore start skips the exec (see pool.h). */
#include <errno.h>
#include <string.h>

#include "api/pool/pool_priv.h"
#include "lib/util/log.h"

/* Spawning a jailed VMM (exec of ember-jailer, its namespaces and cgroup,
 * exec of ember-vmm, its API socket) is the largest step of a restore that
 * does not depend on the snapshot. A standby does it ahead of time and then
 * waits, with no VM and no guest memory, until a restore takes it. The next
 * one is spawned once that restore has served its first job (pool_offer),
 * not while it runs: the two would compete for the CPU. */
void pool_standby_fill(struct pool *p)
{
	struct pool_set *s = p->set;
	struct instance *inst;
	int ret;

	/* keep_warm_s 0 asks for every start from nothing (a benchmark). */
	if (p->standby != NULL || !s->standby || !s->snapstart || !p->has_snapshot ||
	    p->snap_failed || p->draining || s->freeing || s->keep_warm_s == 0)
		return;
	ret = inst_spawn(p, true, true, &inst);
	if (ret < 0) {
		/* Only this head start is lost: the next restore spawns its own. */
		log_warn("%s: spawning a standby VMM: %s", p->fn->key, strerror(-ret));
		return;
	}
	p->standby = inst;
	/* Its /tmp disk too, off the loop; without it, its load copies it. */
	ret = snap_disk_ahead(inst);
	if (ret < 0)
		log_warn("%s: the standby's /tmp disk ahead: %s", p->fn->key, strerror(-ret));
}

struct instance *pool_standby_take(struct pool *p)
{
	struct instance *inst = p->standby;
	int ret;

	if (inst == NULL)
		return NULL;
	p->standby = NULL;
	inst->from_standby = true;
	/* The start is timed from now: its spawn phase is what it still waited
	 * for the VMM's API, 0 when that listened already. */
	inst->t_spawn_ns = pool_now_ns();
	inst_set_state(inst, INST_STARTING);
	inst_arm(inst, POOL_BOOT_TIMEOUT_S);
	if (inst->t_api_ns != 0) { /* its API listens: the load may go */
		inst->t_api_ns = inst->t_spawn_ns;
		inst->load_sent = true;
		ret = snap_load(inst);
		if (ret < 0)
			inst_fail(inst, "loading the snapshot: %s", strerror(-ret));
	} /* else the API's line sends the load (instance.c) */
	inst->refill = true;
	return inst;
}

void pool_standby_drop(struct pool *p, const char *why)
{
	if (p->standby != NULL)
		inst_stop(p->standby, STOP_TERM, why); /* clears p->standby */
}

void pool_standby_api_ready(struct instance *inst)
{
	inst->t_api_ns = pool_now_ns();
	log_debug("instance %s: on standby for %s's next restore", inst->id, inst->pool->fn->key);
	/* Kept as long as an idle instance is (the version's traffic may
	 * have ended); fill() spawns the next one after a take. */
	inst_arm(inst, inst->pool->set->keep_warm_s);
}

void pool_standby_expired(struct instance *inst)
{
	if (inst->t_api_ns != 0)
		inst_stop(inst, STOP_TERM, "kept on standby long enough");
	else
		inst_fail(inst, "the VMM's API did not listen within %d s", POOL_BOOT_TIMEOUT_S);
}
