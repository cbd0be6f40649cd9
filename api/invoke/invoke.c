/* invoke: the invoker: one invocation from submit to done(): the instance, the INVOKE, the deadline, Lambda's errors, START/END/REPORT. */
#include "api/invoke/invoke_priv.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "api/invoke/fnlog.h"
#include "api/metrics/metrics.h"
#include "api/pool/pool.h"
#include "lib/gproto/gproto.h"
#include "lib/util/log.h"

#define TRACE_ID_MAX 96

static struct call *call_of(struct pool_job *job)
{
	return (struct call *)((char *)job - offsetof(struct call, job));
}

static struct gproto_str str(const char *s)
{
	return (struct gproto_str){ s, s != NULL ? (uint32_t)strlen(s) : 0 };
}

/* ---- ending a call ---- */

static void call_free(struct call *c)
{
	struct invoker *inv = c->inv;

	if (c->counted && --inv->active == 0 && inv->idle_cb != NULL)
		event_active(inv->idle_ev, EV_TIMEOUT, 0);
	if (c->job.fn != NULL)
		fn_unref(c->job.fn);
	if (c->ev != NULL)
		event_free(c->ev);
	free(c->invoked_arn);
	free(c->client_context);
	free(c->payload);
	free(c->tail);
	free(c);
}

static void finish(struct call *c, enum invoke_outcome outcome, const void *body, size_t len,
		   bool log_report)
{
	char tail[INVOKE_TAIL_BYTES + 1];
	struct invoke_result res = {
		.outcome = outcome,
		.body = body,
		.body_len = len,
		.reason = c->reason,
		.start = c->start,
		.phases = c->start != INVOKE_START_WARM ? &c->phases : NULL,
	};

	if (log_report)
		res.duration_ms = invoke_log_end(c);
	if (!(c->event && outcome == INVOKE_THROTTLED))
		metrics_invocation(c->inv->metrics, c->job.fn->name, outcome, res.duration_ms);
	if (c->tail != NULL) {
		invoke_tail_string(c->tail, tail);
		res.tail = tail;
	}
	c->done(c->arg, &res);
	call_free(c);
}

/* {"errorType": type, "errorMessage": msg}; NULL if out of memory. */
static char *error_json(const char *type, const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (o != NULL && cJSON_AddStringToObject(o, "errorType", type) != NULL &&
	    cJSON_AddStringToObject(o, "errorMessage", msg) != NULL)
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static void finish_error(struct call *c, const char *type, const char *msg)
{
	char *body = error_json(type, msg);

	finish(c, INVOKE_FUNCTION_ERROR, body ? body : "{}", body ? strlen(body) : 2, true);
	free(body);
}

static void finish_service(struct call *c, const char *msg)
{
	finish(c, INVOKE_SERVICE_ERROR, msg, strlen(msg), false);
}

/* ---- the pool's callbacks ---- */

static void trace_id(char *out, size_t cap)
{
	uint8_t r[20] = { 0 };
	char hex[41];

	if (getrandom(r, sizeof(r), GRND_NONBLOCK) < 0)
		memset(r, 0x5a, sizeof(r));
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	/* X-Ray's shape: Root=1-<8 hex epoch s>-<24 hex>;Parent=<16 hex>;Sampled=0 */
	if (snprintf(out, cap, "Root=1-%08llx-%.24s;Parent=%.16s;Sampled=0",
		     (unsigned long long)(wall_ms() / 1000 & 0xffffffffu), hex,
		     hex + 24) >= (int)cap)
		out[0] = '\0';
}

static void on_run(void *arg, struct pool_job *job, enum pool_start how,
		   const struct pool_phases *ph)
{
	struct call *c = call_of(job);
	struct gproto_msg m = { .type = GPROTO_INVOKE };
	char trace[TRACE_ID_MAX];
	int ret;

	(void)arg;
	c->start = how == POOL_START_COLD      ? INVOKE_START_COLD
		   : how == POOL_START_RESTORE ? INVOKE_START_RESTORE
					       : INVOKE_START_WARM;
	if (ph != NULL)
		c->phases = *ph;
	metrics_start(c->inv->metrics, c->start, c->phases.total_ms);
	invoke_log_start(c);
	trace_id(trace, sizeof(trace));
	m.invoke = (struct gproto_invoke){
		.request_id = str(c->request_id),
		.deadline_ms = wall_ms() + (uint64_t)job->fn->timeout_s * 1000u,
		.invoked_arn = str(c->invoked_arn),
		.trace_id = str(trace),
		.client_context = str(c->client_context),
		.cognito_identity = str(""),
		.payload = { c->payload, (uint32_t)c->payload_len },
	};
	c->t_start_ns = now_ns();
	ret = pool_send(job, &m);
	if (ret < 0) /* the deadline ends it */
		log_err("invocation %s: sending INVOKE: %s", c->request_id, strerror(-ret));
	/* The frame holds its own copy now. */
	free(c->payload);
	c->payload = NULL;
}

static void on_frame(void *arg, struct pool_job *job, const struct gproto_msg *m)
{
	struct call *c = call_of(job);

	(void)arg;
	switch (m->type) {
	case GPROTO_LOG: {
		struct iovec iov[2] = { { (void *)m->log.line.p, m->log.line.len }, { "\n", 1 } };

		invoke_log_lines(c, iov, 2);
		return;
	}
	case GPROTO_STATS:
		c->peak_mem = m->stats.peak_mem_bytes;
		return;
	case GPROTO_RESULT:
		finish(c, INVOKE_OK, m->result.payload.p, m->result.payload.len, true);
		return;
	case GPROTO_ERROR:
		if (m->error.body.len == 0) {
			finish_error(c,
				     m->error.error_type.len ? m->error.error_type.s
							     : "Runtime.Unknown",
				     "");
			return;
		}
		finish(c, INVOKE_FUNCTION_ERROR, m->error.body.p, m->error.body.len, true);
		return;
	default:
		return;
	}
}

static void on_fail(void *arg, struct pool_job *job, enum pool_fail why, const char *detail,
		    const uint8_t *body, size_t len)
{
	struct call *c = call_of(job);
	char msg[1024], line[256];
	int n;

	(void)arg;
	switch (why) {
	case POOL_FAIL_TIMEOUT:
		invoke_iso_now(line, sizeof(line));
		n = (int)strlen(line);
		n += snprintf(line + n, sizeof(line) - (size_t)n,
			      " %s Task timed out after %u.00 seconds\n", c->request_id,
			      job->fn->timeout_s);
		invoke_log_text(c, line, (size_t)n);
		snprintf(msg, sizeof(msg),
			 "RequestId: %s Error: Task timed out after %u.00 seconds", c->request_id,
			 job->fn->timeout_s);
		finish_error(c, "Sandbox.Timedout", msg);
		return;
	case POOL_FAIL_DIED:
		snprintf(msg, sizeof(msg), "RequestId: %s Error: Runtime exited with error: %s",
			 c->request_id, detail);
		finish_error(c, "Runtime.ExitError", msg);
		return;
	case POOL_FAIL_INIT_ERROR:
		if (len > 0) {
			finish(c, INVOKE_FUNCTION_ERROR, body, len, true);
			return;
		}
		snprintf(msg, sizeof(msg), "RequestId: %s Error: the runtime failed to start",
			 c->request_id);
		finish_error(c, detail && detail[0] ? detail : "Runtime.Unknown", msg);
		return;
	case POOL_FAIL_START:
		snprintf(msg, sizeof(msg), "The function's execution environment did not start: %s",
			 detail);
		finish_service(c, msg);
		return;
	case POOL_FAIL_SHUTDOWN:
		finish_service(c, "emberd is stopping");
		return;
	}
}

static void on_init_log(void *arg, const struct fn *fn, const uint8_t *line, size_t len)
{
	struct invoker *inv = arg;
	struct iovec iov[2] = { { (void *)line, len }, { "\n", 1 } };

	fnlog_write(inv->logs, fn->name, iov, 2);
}

static const struct pool_ops pool_ops = {
	.run = on_run,
	.frame = on_frame,
	.fail = on_fail,
	.init_log = on_init_log,
};

/* ---- the invoker ---- */

int invoker_new(struct event_base *base, const struct invoker_opts *opts, struct invoker **out)
{
	struct invoker *inv = calloc(1, sizeof(*inv));
	struct pool_opts po = {
		.home = opts->home,
		.vmm_path = opts->vmm_path,
		.kernel_path = opts->kernel_path,
		.initrd_path = opts->initrd_path,
		.guest_args = opts->guest_args,
		.memory_budget_mib = opts->memory_budget_mib,
		.keep_warm_s = opts->keep_warm_s,
		.snapstart = opts->snapstart,
		.standby = opts->standby,
		.jail = opts->jail,
	};
	struct rlimit rl;
	int ret;

	if (inv == NULL)
		return -ENOMEM;
	inv->base = base;
	inv->metrics = opts->metrics;
	/* A guest that hangs up must not kill emberd with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	/* Each instance holds a few fds (pipes, pidfd, vsock): use all we may. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	ret = fnlog_set_new(opts->home, &inv->logs);
	if (ret == 0)
		ret = pool_set_new(base, &po, &pool_ops, inv, &inv->pools);
	if (ret < 0) {
		fnlog_set_free(inv->logs);
		free(inv);
		return ret;
	}
	*out = inv;
	return 0;
}

void invoker_free(struct invoker *inv)
{
	if (inv == NULL)
		return;
	while (inv->throttled != NULL) {
		struct call *c = inv->throttled;

		inv->throttled = c->next;
		finish(c, INVOKE_THROTTLED, NULL, 0, false);
	}
	pool_set_free(inv->pools);
	fnlog_set_free(inv->logs);
	if (inv->idle_ev != NULL)
		event_free(inv->idle_ev);
	free(inv);
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct invoker *inv = arg;

	(void)fd, (void)what;
	if (inv->active == 0 && inv->idle_cb != NULL)
		inv->idle_cb(inv->idle_arg);
}

int invoker_when_idle(struct invoker *inv, void (*cb)(void *arg), void *arg)
{
	if (inv->idle_ev == NULL) {
		inv->idle_ev = event_new(inv->base, -1, 0, on_idle, inv);
		if (inv->idle_ev == NULL)
			return -ENOMEM;
	}
	inv->idle_cb = cb;
	inv->idle_arg = arg;
	if (cb != NULL && inv->active == 0)
		event_active(inv->idle_ev, EV_TIMEOUT, 0);
	return 0;
}

unsigned invoker_active(const struct invoker *inv)
{
	return inv->active;
}

static void on_throttled(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;
	struct invoker *inv = c->inv;

	(void)fd, (void)what;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		inv->throttled = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	finish(c, INVOKE_THROTTLED, NULL, 0, false);
}

static bool request_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > GPROTO_REQUEST_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* The client context becomes a Runtime API header: JSON on one line. */
static int copy_context(struct call *c, const char *ctx)
{
	cJSON *j;

	if (ctx == NULL || ctx[0] == '\0')
		return 0;
	if (!has_control(ctx)) {
		c->client_context = strdup(ctx);
	} else {
		j = cJSON_Parse(ctx);
		if (j == NULL)
			return -EINVAL;
		c->client_context = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
		if (c->client_context != NULL && has_control(c->client_context))
			return -EINVAL;
	}
	if (c->client_context == NULL)
		return -ENOMEM;
	return strlen(c->client_context) > GPROTO_CONTEXT_MAX ? -EINVAL : 0;
}

int invoker_submit(struct invoker *inv, const struct invoke_req *req)
{
	struct call *c;
	int ret;

	if (req == NULL || req->fn == NULL || req->done == NULL || req->request_id == NULL ||
	    !request_id_ok(req->request_id) || req->payload_len > INVOKE_PAYLOAD_MAX ||
	    (req->payload == NULL && req->payload_len > 0) ||
	    (req->invoked_arn != NULL &&
	     (strlen(req->invoked_arn) > GPROTO_NAME_MAX || has_control(req->invoked_arn))))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->inv = inv;
	c->done = req->done;
	c->event = req->event;
	c->arg = req->arg;
	snprintf(c->request_id, sizeof(c->request_id), "%s", req->request_id);
	c->invoked_arn = strdup(req->invoked_arn != NULL ? req->invoked_arn : req->fn->arn);
	c->payload = malloc(req->payload_len > 0 ? req->payload_len : 1);
	c->tail = req->want_tail ? calloc(1, sizeof(*c->tail)) : NULL;
	if (c->invoked_arn == NULL || c->payload == NULL || (req->want_tail && c->tail == NULL)) {
		ret = -ENOMEM;
		goto err;
	}
	if (req->payload_len > 0)
		memcpy(c->payload, req->payload, req->payload_len);
	c->payload_len = req->payload_len;
	ret = copy_context(c, req->client_context);
	if (ret < 0)
		goto err;
	c->job.fn = fn_ref(req->fn);
	c->counted = true;
	inv->active++;
	ret = pool_submit(inv->pools, &c->job);
	if (ret == 0)
		return 0;
	if (ret < 0)
		goto err;
	/* Throttled: answered on the loop, later, as every outcome is. */
	c->reason = ret == POOL_THROTTLED_RESERVED
			    ? "ReservedFunctionConcurrentInvocationLimitExceeded"
			    : "ConcurrentInvocationLimitExceeded";
	c->ev = evtimer_new(inv->base, on_throttled, c);
	if (c->ev == NULL) {
		ret = -ENOMEM;
		goto err;
	}
	c->next = inv->throttled;
	if (inv->throttled != NULL)
		inv->throttled->prev = c;
	inv->throttled = c;
	event_active(c->ev, EV_TIMEOUT, 0);
	return 0;

err:
	call_free(c);
	return ret;
}

void invoker_drain(struct invoker *inv, const char *name, const char *version,
		   const char *current_key)
{
	pool_drain(inv->pools, name, version, current_key);
}

void invoker_forget(struct invoker *inv, const char *name)
{
	pool_forget(inv->pools, name);
}

unsigned invoker_stop_idle(struct invoker *inv, const char *name, bool drop_snapshot)
{
	return pool_stop_idle(inv->pools, name, drop_snapshot);
}

void invoker_set_concurrency(struct invoker *inv, const char *name, uint32_t reserved)
{
	pool_set_concurrency(inv->pools, name, reserved);
}

void invoker_prestage(struct invoker *inv, const char *path)
{
	pool_prestage(inv->pools, path);
}

struct invoker_log_watch *invoker_log_watch(struct invoker *inv, const char *name,
					    void (*cb)(void *arg), void *arg)
{
	return (struct invoker_log_watch *)fnlog_watch(inv->logs, name, cb, arg);
}

void invoker_log_unwatch(struct invoker_log_watch *w)
{
	fnlog_unwatch((struct fnlog_watch *)w);
}

struct status_ctx {
	void (*each)(void *arg, const struct invoker_pool_status *st);
	void *arg;
};

static void status_each(void *arg, const struct pool_status *ps)
{
	struct status_ctx *ctx = arg;
	struct invoker_pool_status st = {
		.name = ps->name,
		.version = ps->version,
		.key = ps->key,
		.starting = ps->starting,
		.idle = ps->idle,
		.busy = ps->busy,
		.draining = ps->draining,
		.standby = ps->standby,
		.has_snapshot = ps->has_snapshot,
		.memory_mib = ps->memory_mib,
	};

	ctx->each(ctx->arg, &st);
}

void invoker_snapshot_counts(struct invoker *inv, uint64_t *taken, uint64_t *fallbacks)
{
	pool_snapshot_counts(inv->pools, taken, fallbacks);
}

void invoker_status(struct invoker *inv,
		    void (*each)(void *arg, const struct invoker_pool_status *st), void *arg,
		    uint64_t *memory_used_mib, uint64_t *memory_budget_mib)
{
	struct status_ctx ctx = { each, arg };

	pool_status(inv->pools, each != NULL ? status_each : NULL, &ctx, memory_used_mib,
		    memory_budget_mib);
}
