/* lambda: wires the host link, the invocation in flight and the supervisor (see lambda.h). */
#include "guest-init/lambda.h"

#include "guest-init/bootstrap.h"
#include "guest-init/cmdline.h"
#include "guest-init/inflight.h"
#include "guest-init/link.h"
#include "guest-init/runtime_api.h"
#include "guest-init/supervisor.h"
#include "guest-init/world.h"
#include "lib/gproto/gproto.h"
#include "lib/util/log.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* Everything Lambda mode owns; each callback below hands its parts to the
 * job it concerns, explicitly. */
struct lambda {
	struct event_base *base;
	struct link link;
	struct rapi api;
	struct inflight inflight;
	struct supervisor sup;
};

/* --- the host's frames (link_ops) --- */

static void on_init(void *ctx, const struct gproto_init *in)
{
	struct lambda *l = ctx;

	supervisor_init(&l->sup, &l->inflight, &l->link, in);
}

static void on_invoke(void *ctx, uint64_t req_id, const struct gproto_invoke *in)
{
	struct lambda *l = ctx;

	if (!supervisor_inited(&l->sup)) {
		link_send_error_json(&l->link, GPROTO_ERROR, req_id, "Ember.NotInitialized",
				     "no INIT yet");
		return;
	}
	/* Pending (no runtime waits in /next): make sure one comes. */
	if (inflight_invoke(&l->inflight, &l->link, req_id, in) == 0)
		supervisor_wanted(&l->sup, &l->inflight, &l->link);
}

static void on_restore(void *ctx, const struct gproto_restore *r)
{
	(void)ctx;
	world_restore(r);
	log_info("restored: instance %s", r->instance_id.s);
}

static void on_connected(void *ctx)
{
	struct lambda *l = ctx;

	inflight_connected(&l->inflight, &l->link);
}

static void on_pressure(void *ctx, bool high)
{
	struct lambda *l = ctx;

	bootstrap_pause(&l->sup.boot, high);
}

static const struct link_ops link_ops = {
	.init = on_init,
	.invoke = on_invoke,
	.restore = on_restore,
	.connected = on_connected,
	.pressure = on_pressure,
};

/* --- the bootstrap (bootstrap_ops) --- */

static void on_log(void *ctx, uint8_t stream, const uint8_t *line, size_t len)
{
	struct lambda *l = ctx;

	link_send_log(&l->link, inflight_req_id(&l->inflight), stream, line, len);
}

static void on_exited(void *ctx, int status)
{
	struct lambda *l = ctx;

	supervisor_exited(&l->sup, &l->inflight, &l->link, status);
}

static const struct bootstrap_ops boot_ops = { .log = on_log, .exited = on_exited };

/* --- the Runtime API (rapi_ops) --- */

static int on_next(void *ctx, struct evhttp_request *req)
{
	struct lambda *l = ctx;
	int r = supervisor_next(&l->sup);

	return r < 0 ? r : inflight_next(&l->inflight, &l->link, req);
}

static void on_next_gone(void *ctx, struct evhttp_request *req)
{
	struct lambda *l = ctx;

	inflight_next_gone(&l->inflight, req);
}

static int on_response(void *ctx, const char *id, const uint8_t *body, size_t len)
{
	struct lambda *l = ctx;

	return inflight_finish(&l->inflight, &l->link, &l->sup.boot, id, "", body, len, false);
}

static int on_error(void *ctx, const char *id, const char *type, const uint8_t *body, size_t len)
{
	struct lambda *l = ctx;

	return inflight_finish(&l->inflight, &l->link, &l->sup.boot, id, type, body, len, true);
}

static int on_init_error(void *ctx, const char *type, const uint8_t *body, size_t len)
{
	struct lambda *l = ctx;

	return supervisor_init_error(&l->sup, &l->inflight, &l->link, type, body, len);
}

static const struct rapi_ops rapi_ops = {
	.next = on_next,
	.next_gone = on_next_gone,
	.response = on_response,
	.error = on_error,
	.init_error = on_init_error,
};

_Noreturn void lambda_run(const struct init_args *args)
{
	struct lambda l = { 0 }; /* lambda_run() never returns: lives as long as PID 1 */
	int r;

	signal(SIGPIPE, SIG_IGN);
	l.base = event_base_new();
	if (l.base == NULL || supervisor_setup(&l.sup, l.base, &boot_ops, &l, args->tmp_mib) < 0) {
		log_err("lambda: out of memory");
		abort();
	}
	inflight_setup(&l.inflight, &l.api);
	r = rapi_start(&l.api, l.base, &rapi_ops, &l);
	if (r < 0)
		log_err("runtime API on %s:%d: %s", RAPI_ADDR, RAPI_PORT, strerror(-r));
	r = link_start(&l.link, l.base, &link_ops, &l);
	if (r < 0) {
		log_err("vsock listen on port %u: %s", GPROTO_PORT, strerror(-r));
		abort();
	}
	log_info("lambda: listening on vsock port %u", GPROTO_PORT);
	for (;;) {
		r = event_base_dispatch(l.base);
		log_err("lambda: event loop ended (%d); restarting it", r);
	}
}
