/* dispatch: running queued events through the invoker, Lambda's retry rules, throttled functions, and the failed record (see async.h). */
#include "api/async/async_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "api/async/failrec.h"
#include "api/invoke/invoke.h"
#include "api/store/store.h"
#include "lib/util/log.h"

int64_t async_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the lists ---- */

void async_add_ready(struct async *a, struct aev *ev)
{
	TAILQ_INSERT_TAIL(&a->ready, ev, link);
	a->nready++;
}

/* Sorted by next_ms; retries of one delay arrive in order, so this walks
 * little from the tail. */
void async_add_delayed(struct async *a, struct aev *ev)
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

void async_kick(struct async *a)
{
	if (!a->stopping)
		event_active(a->kick, EV_TIMEOUT, 0);
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
	int64_t now = async_now_ms();

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
	int ret = evdb_fail(a->db, &ev->row, condition, type, msg, async_now_ms(), &fid);

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

	ev->row.next_ms = async_now_ms() + delay_ms;
	ret = evdb_retry(a->db, &ev->row, type, msg);
	if (ret < 0)
		log_err("event %s: rescheduling: %s", ev->row.request_id, strerror(-ret));
	async_add_delayed(a, ev);
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
		ev->svc_failures = 0;
		ev->row.attempts++;
		async_limits(a, &ev->row, &retries, &max_age_s);
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
			async_now_ms() + (a->retry_base_ms < THROTTLE_DELAY_MS ? a->retry_base_ms
									       : THROTTLE_DELAY_MS);
		hold(a, ev->row.name, ev->row.next_ms);
		evdb_set_running(a->db, ev->row.id, false);
		async_add_delayed(a, ev);
		break;
	case INVOKE_SERVICE_ERROR:
	default:
		/* Not the function's fault: not an attempt. It waits longer each
		 * time (a VM that cannot start must not be retried every second). */
		a->st.throttled++;
		if (ev->svc_failures < SERVICE_BACKOFF_MAX)
			ev->svc_failures++;
		snprintf(type, sizeof(type), "ServiceException");
		snprintf(msg, sizeof(msg), "%.*s",
			 (int)(res->body_len < sizeof(msg) ? res->body_len : sizeof(msg) - 1),
			 res->body != NULL ? (const char *)res->body
					   : (res->reason != NULL ? res->reason : ""));
		requeue(a, ev,
			(a->retry_base_ms < THROTTLE_DELAY_MS ? a->retry_base_ms
							      : THROTTLE_DELAY_MS)
				<< (ev->svc_failures - 1),
			type, msg);
		break;
	}
	async_kick(a);
}

/* Starts ev (taken off the ready list), or puts it back to wait. */
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
	async_limits(a, &ev->row, &retries, &max_age_s);
	if (now - ev->row.enqueued_ms > (int64_t)max_age_s * 1000) {
		to_failed(a, ev, "EventAgeExceeded", NULL, NULL);
		return;
	}
	ev->row.next_ms = held_until(a, ev->row.name, now);
	if (ev->row.next_ms > 0) { /* its function is throttled: wait with it */
		async_add_delayed(a, ev);
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
		.event = true,
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

void async_on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct async *a = arg;
	int64_t now = async_now_ms();
	struct aev *ev;

	(void)fd, (void)what;
	if (a->stopping)
		return;
	while ((ev = TAILQ_FIRST(&a->delayed)) != NULL && ev->row.next_ms <= now) {
		TAILQ_REMOVE(&a->delayed, ev, link);
		a->ndelayed--;
		async_add_ready(a, ev);
	}
	while (a->nrunning < a->concurrency && (ev = TAILQ_FIRST(&a->ready)) != NULL) {
		TAILQ_REMOVE(&a->ready, ev, link);
		a->nready--;
		start(a, ev, now);
	}
	ev = TAILQ_FIRST(&a->delayed);
	if (ev != NULL) {
		int64_t d = ev->row.next_ms - async_now_ms();
		struct timeval tv = { d > 0 ? d / 1000 : 0, d > 0 ? (d % 1000) * 1000 : 0 };

		evtimer_add(a->timer, &tv);
	}
}
