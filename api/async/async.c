/* async: the durable event queue in memory and on disk, its dispatcher, Lambda's retry rules and the failed record (see async.h). */
#include "api/async/async.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "api/async/failrec.h"
#include "api/invoke/invoke.h"
#include "api/store/store.h"
#include "lib/util/log.h"

#define THROTTLE_DELAY_MS 1000 /* a throttled or refused event waits this long (at most) */
#define CONFIGS_MAX	  4096

struct aev {
	struct evrow row;
	struct async *a;
	TAILQ_ENTRY(aev) link;
	bool running;
};

/* An event being accepted: committed with the others of its loop turn. */
struct pending {
	struct aev *ev;
	uint8_t *payload;
	size_t len;
	void (*done)(void *arg, int ret);
	void *arg;
	struct pending *next;
};

/* A function whose events wait: it was throttled until `until`. */
struct hold {
	char name[FN_NAME_MAX + 1];
	int64_t until;
};

TAILQ_HEAD(aev_list, aev);

struct async {
	struct event_base *base;
	struct store *store;
	struct invoker *inv;
	struct evdb *db;
	char home[PATH_MAX];
	int64_t retry_base_ms;
	unsigned concurrency;
	struct aev_list ready;	 /* due now, oldest first */
	struct aev_list delayed; /* waiting for next_ms, soonest first */
	struct aev_list running;
	uint64_t nready, ndelayed, nrunning;
	struct event *kick, *timer, *commit_ev;
	struct pending *batch, **batch_tail;
	struct hold *holds;
	unsigned nholds;
	bool stopping;
	struct evconfig *configs;
	unsigned nconfigs;
	struct async_stats st;
};

static void on_commit(evutil_socket_t fd, short what, void *arg);

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the lists ---- */

static void add_ready(struct async *a, struct aev *ev)
{
	TAILQ_INSERT_TAIL(&a->ready, ev, link);
	a->nready++;
}

/* Sorted by next_ms; retries of one delay arrive in order, so this walks
 * little from the tail. */
static void add_delayed(struct async *a, struct aev *ev)
{
	struct aev *it;

	TAILQ_FOREACH_REVERSE(it, &a->delayed, aev_list, link)
	{
		if (it->row.next_ms <= ev->row.next_ms)
			break;
	}
	if (it != NULL)
		TAILQ_INSERT_AFTER(&a->delayed, it, ev, link);
	else
		TAILQ_INSERT_HEAD(&a->delayed, ev, link);
	a->ndelayed++;
}

static void add(struct async *a, struct aev *ev, int64_t now)
{
	if (ev->row.next_ms <= now)
		add_ready(a, ev);
	else
		add_delayed(a, ev);
}

static void kick(struct async *a)
{
	if (!a->stopping)
		event_active(a->kick, EV_TIMEOUT, 0);
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

static void limits_of(const struct async *a, const struct evrow *row, unsigned *retries,
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

/* ---- throttled functions ---- */

static int64_t held_until(const struct async *a, const char *name, int64_t now)
{
	for (unsigned i = 0; i < a->nholds; i++) {
		if (strcmp(a->holds[i].name, name) == 0)
			return a->holds[i].until > now ? a->holds[i].until : 0;
	}
	return 0;
}

static void hold(struct async *a, const char *name, int64_t until)
{
	struct hold *h = NULL, *n;
	int64_t now = now_ms();

	for (unsigned i = 0; i < a->nholds && h == NULL; i++) {
		if (strcmp(a->holds[i].name, name) == 0)
			h = &a->holds[i];
	}
	for (unsigned i = 0; i < a->nholds && h == NULL; i++) {
		if (a->holds[i].until <= now)
			h = &a->holds[i]; /* an expired slot */
	}
	if (h == NULL) {
		n = realloc(a->holds, (a->nholds + 1) * sizeof(*n));
		if (n == NULL)
			return; /* then its events try again one by one */
		a->holds = n;
		h = &a->holds[a->nholds++];
	}
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->until = until;
}

/* ---- the failed record ---- */

static void append_record(void *arg, const struct evfailed *f)
{
	struct async *a = arg;

	failrec_append(a->home, f);
}

/* Moves ev to the failed record and frees it. */
static void to_failed(struct async *a, struct aev *ev, const char *condition, const char *type,
		      const char *msg)
{
	int64_t fid = 0;
	int ret = evdb_fail(a->db, &ev->row, condition, type, msg, now_ms(), &fid);

	if (ret == 0) {
		a->st.failed++;
		log_info("event %s (%s:%s): %s after %u attempts: failed", ev->row.request_id,
			 ev->row.name, ev->row.qualifier, condition, ev->row.attempts);
		evdb_failed_each(a->db, ev->row.name, fid, append_record, a);
	} else {
		log_err("event %s: recording its failure: %s (it runs again at the next start)",
			ev->row.request_id, strerror(-ret));
	}
	free(ev);
}

/* ---- running one event ---- */

/* errorType and errorMessage of a function error body (Lambda's JSON). */
static void error_fields(const struct invoke_result *res, char *type, size_t tcap, char *msg,
			 size_t mcap)
{
	cJSON *j = cJSON_ParseWithLength((const char *)res->body, res->body_len);
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "errorType");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "errorMessage");

	snprintf(type, tcap, "%s", cJSON_IsString(t) ? t->valuestring : "Unhandled");
	if (cJSON_IsString(m))
		snprintf(msg, mcap, "%s", m->valuestring);
	else
		snprintf(msg, mcap, "%.*s", (int)(res->body_len < mcap ? res->body_len : mcap - 1),
			 res->body != NULL ? (const char *)res->body : "");
	cJSON_Delete(j);
}

static void requeue(struct async *a, struct aev *ev, int64_t delay_ms, const char *type,
		    const char *msg)
{
	int ret;

	ev->row.next_ms = now_ms() + delay_ms;
	ret = evdb_retry(a->db, &ev->row, type, msg);
	if (ret < 0)
		log_err("event %s: rescheduling: %s", ev->row.request_id, strerror(-ret));
	add_delayed(a, ev);
}

static void on_done(void *arg, const struct invoke_result *res)
{
	struct aev *ev = arg;
	struct async *a = ev->a;
	char type[EVDB_ERROR_TYPE_MAX], msg[EVDB_ERROR_MSG_MAX];
	unsigned retries, max_age_s;
	int ret;

	TAILQ_REMOVE(&a->running, ev, link);
	a->nrunning--;
	ev->running = false;
	switch (res->outcome) {
	case INVOKE_OK:
		ret = evdb_done(a->db, ev->row.id);
		if (ret < 0)
			log_err("event %s: removing it: %s", ev->row.request_id, strerror(-ret));
		a->st.succeeded++;
		log_debug("event %s (%s): done", ev->row.request_id, ev->row.name);
		free(ev);
		break;
	case INVOKE_FUNCTION_ERROR:
		error_fields(res, type, sizeof(type), msg, sizeof(msg));
		ev->row.attempts++;
		limits_of(a, &ev->row, &retries, &max_age_s);
		if (ev->row.attempts > retries) {
			to_failed(a, ev, "RetriesExhausted", type, msg);
			break;
		}
		a->st.retries++;
		log_info("event %s (%s): attempt %u failed (%s): retrying", ev->row.request_id,
			 ev->row.name, ev->row.attempts, type);
		requeue(a, ev, a->retry_base_ms * ev->row.attempts, type, msg);
		break;
	case INVOKE_THROTTLED:
		/* Not an attempt, and nothing to write: the row still says queued
		 * (its running mark is cleared by the next start, or the next run). */
		a->st.throttled++;
		ev->row.next_ms =
			now_ms() + (a->retry_base_ms < THROTTLE_DELAY_MS ? a->retry_base_ms
									 : THROTTLE_DELAY_MS);
		hold(a, ev->row.name, ev->row.next_ms);
		evdb_set_running(a->db, ev->row.id, false);
		add_delayed(a, ev);
		break;
	case INVOKE_SERVICE_ERROR:
	default:
		/* Not the function's fault: not an attempt. */
		a->st.throttled++;
		snprintf(type, sizeof(type), "ServiceException");
		snprintf(msg, sizeof(msg), "%.*s",
			 (int)(res->body_len < sizeof(msg) ? res->body_len : sizeof(msg) - 1),
			 res->body != NULL ? (const char *)res->body
					   : (res->reason != NULL ? res->reason : ""));
		requeue(a, ev,
			a->retry_base_ms < THROTTLE_DELAY_MS ? a->retry_base_ms : THROTTLE_DELAY_MS,
			type, msg);
		break;
	}
	kick(a);
}

/* Starts ev (taken off the ready list); false if it did not start. */
static void start(struct async *a, struct aev *ev, int64_t now)
{
	const struct store_func *sf = store_find(a->store, ev->row.name);
	struct fn *f = store_version(sf, ev->row.qualifier);
	char arn[FN_ARN_MAX + FN_VERSION_MAX + 2];
	unsigned retries, max_age_s;
	struct invoke_req req;
	uint8_t *payload = NULL;
	size_t len = 0;
	int ret;

	if (f == NULL) {
		log_warn("event %s: %s:%s no longer exists: dropped", ev->row.request_id,
			 ev->row.name, ev->row.qualifier);
		evdb_done(a->db, ev->row.id);
		free(ev);
		return;
	}
	limits_of(a, &ev->row, &retries, &max_age_s);
	if (now - ev->row.enqueued_ms > (int64_t)max_age_s * 1000) {
		to_failed(a, ev, "EventAgeExceeded", NULL, NULL);
		return;
	}
	ev->row.next_ms = held_until(a, ev->row.name, now);
	if (ev->row.next_ms > 0) { /* its function is throttled: wait with it */
		add_delayed(a, ev);
		return;
	}
	ret = evdb_payload(a->db, ev->row.id, &payload, &len);
	if (ret == 0)
		ret = evdb_set_running(a->db, ev->row.id, true);
	if (ret < 0) {
		free(payload);
		log_err("event %s: %s: it waits", ev->row.request_id, strerror(-ret));
		requeue(a, ev, THROTTLE_DELAY_MS, NULL, NULL);
		return;
	}
	if (strcmp(ev->row.qualifier, FN_LATEST) == 0)
		snprintf(arn, sizeof(arn), "%s", f->arn);
	else
		snprintf(arn, sizeof(arn), "%s:%s", f->arn, ev->row.qualifier);
	req = (struct invoke_req){
		.fn = f,
		.request_id = ev->row.request_id,
		.invoked_arn = arn,
		.payload = payload,
		.payload_len = len,
		.done = on_done,
		.arg = ev,
	};
	ev->running = true;
	TAILQ_INSERT_TAIL(&a->running, ev, link);
	a->nrunning++;
	ret = invoker_submit(a->inv, &req);
	free(payload); /* the invoker keeps its own copy */
	if (ret < 0) {
		TAILQ_REMOVE(&a->running, ev, link);
		a->nrunning--;
		ev->running = false;
		log_err("event %s: the invocation could not start: %s", ev->row.request_id,
			strerror(-ret));
		requeue(a, ev, THROTTLE_DELAY_MS, "ServiceException", strerror(-ret));
	}
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct async *a = arg;
	int64_t now = now_ms();
	struct aev *ev;

	(void)fd, (void)what;
	if (a->stopping)
		return;
	while ((ev = TAILQ_FIRST(&a->delayed)) != NULL && ev->row.next_ms <= now) {
		TAILQ_REMOVE(&a->delayed, ev, link);
		a->ndelayed--;
		add_ready(a, ev);
	}
	while (a->nrunning < a->concurrency && (ev = TAILQ_FIRST(&a->ready)) != NULL) {
		TAILQ_REMOVE(&a->ready, ev, link);
		a->nready--;
		start(a, ev, now);
	}
	ev = TAILQ_FIRST(&a->delayed);
	if (ev != NULL) {
		int64_t d = ev->row.next_ms - now_ms();
		struct timeval tv = { d > 0 ? d / 1000 : 0, d > 0 ? (d % 1000) * 1000 : 0 };

		evtimer_add(a->timer, &tv);
	}
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
	add(a, ev, now_ms());
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
	a->kick = event_new(o->base, -1, 0, on_kick, a);
	a->timer = evtimer_new(o->base, on_kick, a);
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
	kick(a);
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
			add_ready(a, p->ev);
		} else {
			free(p->ev);
		}
		p->done(p->arg, ret);
		free(p->payload);
		free(p);
	}
	if (ret < 0)
		log_err("async: %u events could not be queued: %s", n, strerror(-ret));
	kick(a);
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
	ev->row.enqueued_ms = ev->row.next_ms = now_ms();
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
	ret = evdb_replay(a->db, name, id, now_ms(), &ev->row);
	if (ret < 0) {
		free(ev);
		return ret;
	}
	snprintf(request_id, UUID_STR_LEN + 1, "%s", ev->row.request_id);
	log_info("event %s (%s): replayed", ev->row.request_id, name);
	add_ready(a, ev);
	kick(a);
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
	out->oldest_age_s = min > 0 ? (double)(now_ms() - min) / 1e3 : 0;
}
