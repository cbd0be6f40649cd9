/* set: the pool set's life (new, free: stopping every instance) and its controls: draining, forgetting, concurrency, status. */
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
	s->standby = opts->standby;
	if (snprintf(s->home, sizeof(s->home), "%s", opts->home) >= (int)sizeof(s->home) ||
	    snprintf(s->vmm, sizeof(s->vmm), "%s", opts->vmm_path) >= (int)sizeof(s->vmm) ||
	    snprintf(s->kernel, sizeof(s->kernel), "%s", opts->kernel_path) >=
		    (int)sizeof(s->kernel) ||
	    snprintf(s->initrd, sizeof(s->initrd), "%s", opts->initrd_path) >=
		    (int)sizeof(s->initrd) ||
	    snprintf(s->guest_args, sizeof(s->guest_args), "%s",
		     opts->guest_args ? opts->guest_args : "") >= (int)sizeof(s->guest_args))
		goto err;
	/* emberd connects to <home>/run/<id>/vsock.sock, or jailed to
	 * <home>/jail/ember-vmm/<id>/root/vsock.sock: it must fit a sun_path. */
	{
		size_t folder = opts->jail != NULL && opts->jail->off
					? strlen("/run/") + POOL_ID_LEN
					: strlen("/" POOL_JAIL_DIR "/" POOL_JAIL_EXEC "/") +
						  POOL_ID_LEN + strlen("/root");
		size_t fixed = folder + 1 + strlen(POOL_VSOCK_SOCK);

		if (strlen(s->home) + fixed >= 108) {
			log_err("EMBER_HOME %s is too long for the instances' socket paths (at "
				"most %zu bytes)",
				s->home, 107 - fixed);
			goto err;
		}
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
	ret = pool_jail_init(s, opts->jail);
	if (ret < 0)
		goto err;
	s->dispatch_ev = event_new(base, -1, 0, pool_on_dispatch, s);
	/* Snapshots (one per version at a time) and staged copies (one per
	 * function created or loaded) are bounded by the store: a refusal would
	 * turn a burst (the functions loaded at start) into a version that never
	 * gets a snapshot (snap_take's failure is for good). */
	ret = s->dispatch_ev == NULL ? -ENOMEM : work_pool_new(base, 1, UINT_MAX, &s->work);
	if (ret == 0)
		/* Loads and /tmp disk copies: at most one per instance at a time,
		 * so bounded by the instances; never refused for a burst. */
		ret = work_pool_new(base, POOL_LOAD_THREADS, UINT_MAX, &s->load_work);
	if (ret < 0)
		goto err;
	/* The empty /tmp disk each instance gets a copy of: once, here. */
	ret = pool_scratch_template(s);
	if (ret < 0)
		goto err;
	/* The VM's files outside <home> are copied for the jails once: now, off the loop. */
	pool_prestage(s, s->kernel);
	pool_prestage(s, s->initrd);
	*out = s;
	return 0;

err:
	if (s->work != NULL)
		work_pool_free(s->work);
	work_pool_free(s->load_work);
	if (s->dispatch_ev != NULL)
		event_free(s->dispatch_ev);
	pool_jail_free(s);
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
	work_pool_free(s->load_work);
	for (unsigned b = 0; b < POOL_HASH_BUCKETS; b++)
		for (struct pool *p = s->pools[b]; p != NULL; p = p->next) {
			struct pool_job *job;

			while ((job = pool_dequeue(p)) != NULL)
				pool_fail_job(job, POOL_FAIL_SHUTDOWN, "emberd is stopping", NULL,
					      0);
			for (struct instance *i = p->insts; i != NULL; i = i->next) {
				if (i->job != NULL)
					pool_fail_job(i->job, POOL_FAIL_SHUTDOWN,
						      "emberd is stopping", NULL, 0);
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
	pool_jail_free(s);
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
				if (s->snapstart)
					pool_forget_snapshot(p, "its version was replaced");
				while (p->idle != NULL)
					inst_stop(p->idle, STOP_TERM, "its version was replaced");
				pool_maybe_free(p);
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

unsigned pool_stop_idle(struct pool_set *s, const char *name, bool drop_snapshot)
{
	unsigned n = 0;

	for (unsigned b = 0; b < POOL_HASH_BUCKETS; b++)
		for (struct pool *p = s->pools[b]; p != NULL; p = p->next) {
			if (strcmp(p->fn->name, name) != 0)
				continue;
			/* One being stored now goes when it is (pool_snapshot_stored):
			 * the next start is cold either way. */
			if (drop_snapshot && s->snapstart && p->snap_busy)
				p->snap_drop = true;
			else if (drop_snapshot && s->snapstart && p->has_snapshot)
				pool_forget_snapshot(p, "its snapshot was deleted on request");
			for (; p->idle != NULL; n++)
				inst_stop(p->idle, STOP_TERM, "stopped on request");
		}
	return n;
}

void pool_set_concurrency(struct pool_set *s, const char *name, uint32_t reserved)
{
	struct pool_name *n = pool_name_get(s, name, true);

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
				.starting = pool_starting(p),
				.idle = p->n[INST_IDLE],
				.busy = p->n[INST_BUSY],
				.draining = p->n[INST_DRAINING],
				.standby = p->n[INST_STANDBY],
				.has_snapshot = p->has_snapshot,
				.memory_mib = p->memory_mib,
			};

			each(arg, &st);
		}
	*used_mib = s->used_mib;
	*budget_mib = s->budget_mib;
}
