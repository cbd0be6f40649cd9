/* async: the event queue's life: accepting events (group commit), configs, recovery at start, replay, DeleteFunction and the stats (see async.h; running them: dispatch.c). */
#include "api/async/async_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/util/log.h"

static void on_commit(evutil_socket_t fd, short what, void *arg);

static void add(struct async *a, struct aev *ev, int64_t now)
{
	if (ev->row.next_ms <= now)
		async_add_ready(a, ev);
	else
		async_add_delayed(a, ev);
}

/* ---- configs ---- */

static const struct evconfig *config_find(const struct async *a, const char *name,
					  const char *qualifier)
{
	for (unsigned i = 0; i < a->nconfigs; i++) {
		if (strcmp(a->configs[i].name, name) == 0 &&
		    strcmp(a->configs[i].qualifier, qualifier) == 0)
			return &a->configs[i];
	}
	return NULL;
}

void async_limits(const struct async *a, const struct evrow *row, unsigned *retries,
		  unsigned *max_age_s)
{
	const struct evconfig *c = config_find(a, row->name, row->qualifier);

	*retries = c != NULL ? c->max_retries : ASYNC_DEFAULT_RETRIES;
	*max_age_s = c != NULL ? c->max_age_s : ASYNC_DEFAULT_MAX_AGE_S;
}

static int config_cache(void *arg, const struct evconfig *c)
{
	struct async *a = arg;
	struct evconfig *slot = (struct evconfig *)config_find(a, c->name, c->qualifier);

	if (slot == NULL) {
		struct evconfig *n;

		if (a->nconfigs == CONFIGS_MAX)
			return -ENOSPC;
		n = realloc(a->configs, (a->nconfigs + 1) * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		a->configs = n;
		slot = &a->configs[a->nconfigs++];
	}
	*slot = *c;
	return 0;
}

int async_config_get(struct async *a, const char *name, const char *qualifier, struct evconfig *out)
{
	const struct evconfig *c = config_find(a, name, qualifier);

	if (c == NULL)
		return -ENOENT;
	*out = *c;
	return 0;
}

int async_config_put(struct async *a, struct evconfig *c)
{
	struct timespec ts;
	int ret;

	clock_gettime(CLOCK_REALTIME, &ts);
	c->last_modified = (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1e3;
	if (config_find(a, c->name, c->qualifier) == NULL && a->nconfigs == CONFIGS_MAX)
		return -ENOSPC;
	ret = evdb_config_put(a->db, c);
	return ret < 0 ? ret : config_cache(a, c);
}

static void config_drop(struct async *a, const char *name, const char *qualifier)
{
	for (unsigned i = 0; i < a->nconfigs;) {
		if (strcmp(a->configs[i].name, name) == 0 &&
		    (qualifier == NULL || strcmp(a->configs[i].qualifier, qualifier) == 0))
			a->configs[i] = a->configs[--a->nconfigs];
		else
			i++;
	}
}

int async_config_delete(struct async *a, const char *name, const char *qualifier)
{
	int ret = evdb_config_delete(a->db, name, qualifier);

	if (ret == 0)
		config_drop(a, name, qualifier);
	return ret;
}

/* ---- the queue's life ---- */

static int load_row(void *arg, const struct evrow *row)
{
	struct async *a = arg;
	struct aev *ev = calloc(1, sizeof(*ev));

	if (ev == NULL)
		return -ENOMEM;
	ev->row = *row;
	ev->a = a;
	add(a, ev, async_now_ms());
	return 0;
}

int async_new(const struct async_opts *o, struct async **out)
{
	struct async *a = calloc(1, sizeof(*a));
	unsigned requeued = 0;
	int ret = -ENOMEM;

	if (a == NULL)
		return -ENOMEM;
	TAILQ_INIT(&a->ready);
	TAILQ_INIT(&a->delayed);
	TAILQ_INIT(&a->running);
	a->base = o->base;
	a->store = o->store;
	a->inv = o->invoker;
	a->retry_base_ms = (int64_t)(o->retry_base_s * 1000);
	if (a->retry_base_ms < 1)
		a->retry_base_ms = 1;
	a->concurrency = o->concurrency > 0 ? o->concurrency : 1;
	if (snprintf(a->home, sizeof(a->home), "%s", o->home) >= (int)sizeof(a->home)) {
		ret = -ENAMETOOLONG;
		goto err;
	}
	a->batch_tail = &a->batch;
	a->kick = event_new(o->base, -1, 0, async_on_kick, a);
	a->timer = evtimer_new(o->base, async_on_kick, a);
	a->commit_ev = event_new(o->base, -1, 0, on_commit, a);
	if (a->kick == NULL || a->timer == NULL || a->commit_ev == NULL)
		goto err;
	ret = evdb_open(o->db, &a->db);
	if (ret == 0)
		ret = evdb_config_load(a->db, config_cache, a);
	if (ret == 0)
		ret = evdb_load(a->db, &requeued, load_row, a);
	if (ret < 0)
		goto err;
	log_info("async: %llu events queued (%u were running when emberd stopped: queued again), "
		 "%u event invoke configs",
		 (unsigned long long)(a->nready + a->ndelayed), requeued, a->nconfigs);
	async_kick(a);
	*out = a;
	return 0;

err:
	async_free(a);
	return ret;
}

void async_stop(struct async *a)
{
	if (a == NULL)
		return;
	a->stopping = true;
	evtimer_del(a->timer);
	event_del(a->kick);
}

unsigned async_running(const struct async *a)
{
	return a != NULL ? (unsigned)a->nrunning : 0;
}

static void free_list(struct aev_list *l)
{
	struct aev *ev;

	while ((ev = TAILQ_FIRST(l)) != NULL) {
		TAILQ_REMOVE(l, ev, link);
		free(ev);
	}
}

void async_free(struct async *a)
{
	if (a == NULL)
		return;
	/* Events accepted and not yet committed are committed now. */
	while (a->batch != NULL && a->db != NULL)
		on_commit(-1, 0, a);
	/* Running events belong to the invoker until their done(): the caller
	 * frees the invoker first, which ends them (async_stop: rows kept). */
	free_list(&a->ready);
	free_list(&a->delayed);
	free_list(&a->running);
	if (a->kick != NULL)
		event_free(a->kick);
	if (a->timer != NULL)
		event_free(a->timer);
	if (a->commit_ev != NULL)
		event_free(a->commit_ev);
	free(a->holds);
	evdb_close(a->db);
	free(a->configs);
	free(a);
}

/* Commits the events accepted in this turn of the loop (one sync), then
 * answers each. */
static void on_commit(evutil_socket_t fd, short what, void *arg)
{
	struct async *a = arg;
	struct pending *list = a->batch, *p, *next, **cut = &a->batch;
	unsigned n = 0;
	int ret;

	(void)fd, (void)what;
	while (*cut != NULL && n < ASYNC_BATCH_MAX) {
		cut = &(*cut)->next;
		n++;
	}
	a->batch = *cut;
	*cut = NULL;
	if (a->batch == NULL)
		a->batch_tail = &a->batch;
	else
		event_active(a->commit_ev, EV_TIMEOUT, 0);
	if (list == NULL)
		return;
	ret = evdb_begin(a->db);
	for (p = list; ret == 0 && p != NULL; p = p->next)
		ret = evdb_enqueue(a->db, &p->ev->row, p->payload, p->len);
	if (ret == 0)
		ret = evdb_commit(a->db);
	else
		evdb_rollback(a->db);
	for (p = list; p != NULL; p = next) {
		next = p->next;
		if (ret == 0) {
			a->st.accepted++;
			async_add_ready(a, p->ev);
		} else {
			free(p->ev);
		}
		p->done(p->arg, ret);
		free(p->payload);
		free(p);
	}
	if (ret < 0)
		log_err("async: %u events could not be queued: %s", n, strerror(-ret));
	async_kick(a);
}

int async_accept(struct async *a, const struct async_accept *acc)
{
	struct pending *p;
	struct aev *ev;

	if (acc->len > ASYNC_PAYLOAD_MAX || strlen(acc->name) > FN_NAME_MAX ||
	    strlen(acc->qualifier) > FN_VERSION_MAX || strlen(acc->request_id) > UUID_STR_LEN) {
		free(acc->payload);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	ev = calloc(1, sizeof(*ev));
	if (p == NULL || ev == NULL) {
		free(p);
		free(ev);
		free(acc->payload);
		return -ENOMEM;
	}
	ev->a = a;
	snprintf(ev->row.request_id, sizeof(ev->row.request_id), "%s", acc->request_id);
	snprintf(ev->row.name, sizeof(ev->row.name), "%s", acc->name);
	snprintf(ev->row.qualifier, sizeof(ev->row.qualifier), "%s", acc->qualifier);
	ev->row.enqueued_ms = ev->row.next_ms = async_now_ms();
	*p = (struct pending){ ev, acc->payload, acc->len, acc->done, acc->arg, NULL };
	*a->batch_tail = p;
	a->batch_tail = &p->next;
	/* After the other requests of this turn: they join the same commit. */
	event_active(a->commit_ev, EV_TIMEOUT, 0);
	return 0;
}

static void drop_named(struct async *a, struct aev_list *l, uint64_t *n, const char *name)
{
	struct aev *ev, *next;

	for (ev = TAILQ_FIRST(l); ev != NULL; ev = next) {
		next = TAILQ_NEXT(ev, link);
		if (strcmp(ev->row.name, name) == 0) {
			TAILQ_REMOVE(l, ev, link);
			(*n)--;
			free(ev);
		}
	}
	(void)a;
}

int async_forget(struct async *a, const char *name)
{
	int ret = evdb_forget(a->db, name);

	if (ret < 0)
		return ret;
	/* Running ones finish; their rows are gone, so their ends change nothing. */
	drop_named(a, &a->ready, &a->nready, name);
	drop_named(a, &a->delayed, &a->ndelayed, name);
	config_drop(a, name, NULL);
	return 0;
}

int async_failed_each(struct async *a, const char *name, int64_t id,
		      void (*cb)(void *arg, const struct evfailed *f), void *arg)
{
	return evdb_failed_each(a->db, name, id, cb, arg);
}

int async_replay(struct async *a, const char *name, int64_t id, char request_id[UUID_STR_LEN + 1])
{
	struct aev *ev = calloc(1, sizeof(*ev));
	int ret;

	if (ev == NULL)
		return -ENOMEM;
	ev->a = a;
	ret = evdb_replay(a->db, name, id, async_now_ms(), &ev->row);
	if (ret < 0) {
		free(ev);
		return ret;
	}
	snprintf(request_id, UUID_STR_LEN + 1, "%s", ev->row.request_id);
	log_info("event %s (%s): replayed", ev->row.request_id, name);
	async_add_ready(a, ev);
	async_kick(a);
	return 0;
}

static void oldest(const struct aev_list *l, int64_t *min)
{
	const struct aev *ev;

	TAILQ_FOREACH(ev, l, link)
	{
		if (*min == 0 || ev->row.enqueued_ms < *min)
			*min = ev->row.enqueued_ms;
	}
}

void async_get_stats(const struct async *a, struct async_stats *out)
{
	int64_t min = 0;

	*out = a->st;
	out->queued = a->nready + a->ndelayed;
	out->running = a->nrunning;
	/* The ready list is in acceptance order: its head is its oldest. */
	if (!TAILQ_EMPTY(&a->ready))
		min = TAILQ_FIRST(&a->ready)->row.enqueued_ms;
	oldest(&a->delayed, &min);
	oldest(&a->running, &min);
	out->oldest_age_s = min > 0 ? (double)(async_now_ms() - min) / 1e3 : 0;
}
