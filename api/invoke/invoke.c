/* invoke: the invoker (placeholder until the data plane lands): every invocation fails with a service error. */
#include "api/invoke/invoke.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

struct invoker {
	struct event_base *base;
	uint64_t budget_mib;
};

struct invoker_log_watch {
	int unused;
};

int invoker_new(struct event_base *base, const struct invoker_opts *opts, struct invoker **out)
{
	struct invoker *inv = calloc(1, sizeof(*inv));

	if (inv == NULL)
		return -ENOMEM;
	inv->base = base;
	inv->budget_mib = opts->memory_budget_mib;
	*out = inv;
	return 0;
}

void invoker_free(struct invoker *inv)
{
	free(inv);
}

struct pending {
	void (*done)(void *arg, const struct invoke_result *res);
	void *arg;
};

static void answer(evutil_socket_t fd, short what, void *arg)
{
	static const char msg[] = "not implemented yet";
	struct pending *p = arg;
	struct invoke_result res = {
		.outcome = INVOKE_SERVICE_ERROR,
		.body = (const uint8_t *)msg,
		.body_len = sizeof(msg) - 1,
	};

	(void)fd, (void)what;
	p->done(p->arg, &res);
	free(p);
}

int invoker_submit(struct invoker *inv, const struct invoke_req *req)
{
	struct pending *p;

	if (req == NULL || req->fn == NULL || req->done == NULL)
		return -EINVAL;
	p = malloc(sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->done = req->done;
	p->arg = req->arg;
	if (event_base_once(inv->base, -1, EV_TIMEOUT, answer, p, NULL) < 0) {
		free(p);
		return -ENOMEM;
	}
	return 0;
}

void invoker_drain(struct invoker *inv, const char *name, const char *current_key)
{
	(void)inv, (void)name, (void)current_key;
}

void invoker_forget(struct invoker *inv, const char *name)
{
	(void)inv, (void)name;
}

void invoker_set_concurrency(struct invoker *inv, const char *name, uint32_t reserved)
{
	(void)inv, (void)name, (void)reserved;
}

struct invoker_log_watch *invoker_log_watch(struct invoker *inv, const char *name,
					    void (*cb)(void *arg), void *arg)
{
	(void)inv, (void)name, (void)cb, (void)arg;
	return calloc(1, sizeof(struct invoker_log_watch));
}

void invoker_log_unwatch(struct invoker_log_watch *w)
{
	free(w);
}

void invoker_status(struct invoker *inv,
		    void (*each)(void *arg, const struct invoker_pool_status *st), void *arg,
		    uint64_t *memory_used_mib, uint64_t *memory_budget_mib)
{
	(void)each, (void)arg;
	*memory_used_mib = 0;
	*memory_budget_mib = inv->budget_mib;
}
