/* lambda: the guest protocol loop and the invocation state machine (see lambda.h). */
#include "guest-init/lambda.h"

#include "guest-init/bootstrap.h"
#include "guest-init/cmdline.h"
#include "lib/gproto/gproto.h"
#include "lib/util/log.h"
#include "guest-init/runtime_api.h"
#include "guest-init/world.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <inttypes.h>
#include <linux/vm_sockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* One invocation, copied out of its INVOKE frame (the frame's buffer is reused). */
struct invocation {
	uint64_t req_id;
	char request_id[GPROTO_REQUEST_ID_MAX + 1];
	uint64_t deadline_ms;
	char *arn, *trace, *client_context, *cognito;
	uint8_t *payload;
	size_t len;
	bool delivered; /* handed to /next: the runtime works on it */
};

static struct {
	const struct init_args *args;
	struct event_base *base;
	int lfd, cfd; /* listener, current host connection (-1: none) */
	struct event *accept_ev, *read_ev, *write_ev;
	struct gproto_reader rd;
	struct evbuffer *out;
	struct bootstrap boot;
	struct evhttp *http;
	char **envp;
	char runtime[GPROTO_NAME_MAX + 1];
	bool inited, ready_once, init_failed;
	struct evhttp_request *held; /* the /next call waiting for an invoke */
	struct invocation *cur;
	char instance_id[GPROTO_INSTANCE_ID_MAX + 1];
} L = { .lfd = -1, .cfd = -1 };

static struct gproto_msg msg; /* large (INIT's env table): not on the stack */

static void conn_close(const char *why);

static void flush(void)
{
	while (L.cfd >= 0 && evbuffer_get_length(L.out) > 0) {
		int n = evbuffer_write(L.out, L.cfd);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(L.write_ev, NULL);
			break;
		}
		if (n <= 0) {
			conn_close(strerror(errno));
			return;
		}
	}
	if (L.cfd >= 0 && evbuffer_get_length(L.out) == 0)
		event_del(L.write_ev);
	size_t queued = L.cfd >= 0 ? evbuffer_get_length(L.out) : 0;

	if (queued > LAMBDA_OUT_HIGH)
		bootstrap_pause(&L.boot, true);
	else if (queued < LAMBDA_OUT_LOW)
		bootstrap_pause(&L.boot, false);
}

static void send_msg(const struct gproto_msg *m)
{
	struct evbuffer_iovec v;
	const char *why = NULL;
	size_t len = 0;
	int r;

	if (L.cfd < 0)
		return;
	r = gproto_encode(m, NULL, 0, &len, &why);
	if (r < 0 && r != -EMSGSIZE) {
		log_err("encode %s: %s", gproto_type_name(m->type), why ? why : strerror(-r));
		return;
	}
	if (evbuffer_reserve_space(L.out, (ev_ssize_t)len, &v, 1) < 1 ||
	    gproto_encode(m, v.iov_base, v.iov_len, &len, &why) < 0) {
		log_err("encode %s: %s", gproto_type_name(m->type), why ? why : "no memory");
		return;
	}
	v.iov_len = len;
	evbuffer_commit_space(L.out, &v, 1);
	flush();
}

static void send_empty(uint8_t type, uint64_t req_id)
{
	struct gproto_msg m = { .type = type, .req_id = req_id };

	send_msg(&m);
}

static void send_error(uint8_t type, uint64_t req_id, const char *etype, const char *body)
{
	struct gproto_msg m = { .type = type, .req_id = req_id };

	m.error.error_type = (struct gproto_str){ etype, (uint32_t)strlen(etype) };
	m.error.body = (struct gproto_bytes){ (const uint8_t *)body, (uint32_t)strlen(body) };
	send_msg(&m);
}

/* An error of our own making, in Lambda's {"errorType","errorMessage"} shape;
 * `text` holds no characters that need JSON escaping. */
static void send_error_json(uint8_t type, uint64_t req_id, const char *etype, const char *text)
{
	char body[1024];

	snprintf(body, sizeof(body), "{\"errorType\":\"%s\",\"errorMessage\":\"%s\"}", etype, text);
	send_error(type, req_id, etype, body);
}

static void send_stats(void)
{
	struct gproto_msg m = { .type = GPROTO_STATS, .req_id = L.cur->req_id };

	m.stats.peak_mem_bytes = bootstrap_mem_peak();
	send_msg(&m);
}

static void finish(void)
{
	struct invocation *c = L.cur;

	L.cur = NULL;
	free(c->arn);
	free(c->trace);
	free(c->client_context);
	free(c->cognito);
	free(c->payload);
	free(c);
}

static void deliver(void)
{
	struct invocation *c = L.cur;
	struct rapi_event ev = {
		.request_id = c->request_id,
		.deadline_ms = c->deadline_ms,
		.invoked_arn = c->arn,
		.trace_id = c->trace,
		.client_context = c->client_context,
		.cognito_identity = c->cognito,
		.payload = c->payload,
		.len = c->len,
	};

	c->delivered = true;
	bootstrap_mem_reset();
	rapi_send_event(L.held, &ev);
	L.held = NULL;
}

/* Init failed: the pending invocation fails with it, or the host hears INIT_ERROR. */
static void fail_init(const char *etype, const char *text)
{
	if (L.cur != NULL) {
		char t[512];

		snprintf(t, sizeof(t), "RequestId: %s Error: %s", L.cur->request_id, text);
		send_stats();
		send_error_json(GPROTO_ERROR, L.cur->req_id, etype, t);
		finish();
	} else {
		send_error_json(GPROTO_INIT_ERROR, 0, etype, text);
	}
}

static void start_bootstrap(void)
{
	const char *path = world_entrypoint(L.runtime);
	char text[256];
	int r;

	L.ready_once = false;
	L.init_failed = false;
	r = bootstrap_start(&L.boot, path, L.envp);
	if (r < 0) {
		snprintf(text, sizeof(text), "Couldn't find valid bootstrap(s): [%s]: %s", path,
			 strerror(-r));
		log_err("%s", text);
		fail_init("Runtime.InvalidEntrypoint", text);
	}
}

/* --- bootstrap callbacks --- */

static void on_log(void *ctx, uint8_t stream, const uint8_t *line, size_t len)
{
	struct gproto_msg m = { .type = GPROTO_LOG, .req_id = L.cur ? L.cur->req_id : 0 };

	(void)ctx;
	if (L.cfd < 0) {
		printf("ember-init: function: %.*s\n", (int)len, (const char *)line);
		return;
	}
	m.log.stream = stream;
	m.log.line = (struct gproto_bytes){ line, (uint32_t)len };
	send_msg(&m);
}

static void exit_text(int status, char *buf, size_t len)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		snprintf(buf, len, "Runtime exited without providing a reason");
	} else if (WIFEXITED(status)) {
		snprintf(buf, len, "Runtime exited with error: exit status %d",
			 WEXITSTATUS(status));
	} else {
		const char *s = strsignal(WTERMSIG(status));

		/* Lambda prints Go's wording: "signal: killed". */
		snprintf(buf, len, "Runtime exited with error: signal: %c%s",
			 s[0] >= 'A' && s[0] <= 'Z' ? s[0] - 'A' + 'a' : s[0], s + 1);
	}
}

static void on_exited(void *ctx, int status)
{
	char text[256], t[512];

	(void)ctx;
	exit_text(status, text, sizeof(text));
	log_info("bootstrap: %s", text);
	if (L.held != NULL) {
		/* Its client is gone; answer so evhttp can let the request go. */
		rapi_send_status(L.held, -EPIPE);
		L.held = NULL;
	}
	if (L.cur != NULL && L.cur->delivered) {
		snprintf(t, sizeof(t), "RequestId: %s Error: %s", L.cur->request_id, text);
		send_stats();
		send_error_json(GPROTO_ERROR, L.cur->req_id, "Runtime.ExitError", t);
		finish();
		start_bootstrap();
	} else if (L.init_failed) {
		if (L.cur != NULL)
			start_bootstrap(); /* an invocation waits for a fresh init */
	} else if (!L.ready_once) {
		fail_init("Runtime.ExitError", text);
	} else {
		start_bootstrap();
	}
}

static const struct bootstrap_ops boot_ops = { .log = on_log, .exited = on_exited };

/* --- Runtime API callbacks --- */

static int on_next(void *ctx, struct evhttp_request *req)
{
	(void)ctx;
	if (L.init_failed) {
		bootstrap_kill(); /* Lambda ends a runtime whose init failed */
		return -EPIPE;
	}
	if (!L.inited || L.held != NULL || (L.cur != NULL && L.cur->delivered))
		return -EPERM;
	L.ready_once = true;
	L.held = req;
	if (L.cur != NULL)
		deliver();
	else
		send_empty(GPROTO_READY, 0);
	return 0;
}

static void on_next_gone(void *ctx, struct evhttp_request *req)
{
	(void)ctx;
	if (L.held == req)
		L.held = NULL;
}

static int finish_invocation(const char *id, const char *etype, const uint8_t *body, size_t len,
			     bool is_error)
{
	struct gproto_msg m = { .req_id = 0 };

	if (L.cur == NULL || !L.cur->delivered || strcmp(id, L.cur->request_id) != 0)
		return -ENOENT;
	bootstrap_drain(&L.boot);
	send_stats();
	if (len > GPROTO_RESULT_MAX) {
		send_error_json(GPROTO_ERROR, L.cur->req_id, "Function.ResponseSizeTooLarge",
				"Response payload size exceeded maximum allowed payload size "
				"(6291556 bytes).");
		finish();
		return -EMSGSIZE;
	}
	m.req_id = L.cur->req_id;
	if (is_error) {
		m.type = GPROTO_ERROR;
		m.error.error_type = (struct gproto_str){ etype, (uint32_t)strlen(etype) };
		m.error.body = (struct gproto_bytes){ body, (uint32_t)len };
	} else {
		m.type = GPROTO_RESULT;
		m.result.payload = (struct gproto_bytes){ body, (uint32_t)len };
	}
	send_msg(&m);
	finish();
	return 0;
}

static int on_response(void *ctx, const char *id, const uint8_t *body, size_t len)
{
	(void)ctx;
	return finish_invocation(id, "", body, len, false);
}

static int on_error(void *ctx, const char *id, const char *type, const uint8_t *body, size_t len)
{
	(void)ctx;
	return finish_invocation(id, type, body, len, true);
}

static int on_init_error(void *ctx, const char *type, const uint8_t *body, size_t len)
{
	struct gproto_msg m = { .type = GPROTO_INIT_ERROR };

	(void)ctx;
	if (!L.inited || L.ready_once || L.init_failed)
		return -EPERM;
	if (len > GPROTO_RESULT_MAX)
		return -EMSGSIZE;
	bootstrap_drain(&L.boot);
	L.init_failed = true;
	if (L.cur != NULL) {
		send_stats();
		m.type = GPROTO_ERROR;
		m.req_id = L.cur->req_id;
	}
	m.error.error_type = (struct gproto_str){ type, (uint32_t)strlen(type) };
	m.error.body = (struct gproto_bytes){ body, (uint32_t)len };
	send_msg(&m);
	if (L.cur != NULL)
		finish();
	return 0;
}

static const struct rapi_ops rapi_ops = {
	.next = on_next,
	.next_gone = on_next_gone,
	.response = on_response,
	.error = on_error,
	.init_error = on_init_error,
};

/* --- host messages --- */

static void on_init(const struct gproto_init *in)
{
	char err[256];
	int r;

	if (L.inited) {
		send_error_json(GPROTO_INIT_ERROR, 0, "Ember.AlreadyInitialized",
				"INIT was already received");
		return;
	}
	r = world_mount(L.args->tmp_mib, err, sizeof(err));
	if (r < 0) {
		log_err("INIT: %s", err);
		send_error_json(GPROTO_INIT_ERROR, 0, "Ember.MountFailed", err);
		return;
	}
	r = world_env_build(in, &L.envp);
	if (r < 0) {
		send_error_json(GPROTO_INIT_ERROR, 0, "Ember.OutOfMemory", "environment");
		return;
	}
	memcpy(L.runtime, in->runtime.s, in->runtime.len + 1);
	L.inited = true;
	start_bootstrap();
}

static char *dup_str(const struct gproto_str *s)
{
	return strndup(s->s != NULL ? s->s : "", s->len);
}

static void on_invoke(uint64_t req_id, const struct gproto_invoke *in)
{
	struct invocation *c;

	if (!L.inited) {
		send_error_json(GPROTO_ERROR, req_id, "Ember.NotInitialized", "no INIT yet");
		return;
	}
	if (L.cur != NULL) {
		send_error_json(GPROTO_ERROR, req_id, "Ember.Busy",
				"another invocation is in progress");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto err_nomem;
	c->req_id = req_id;
	memcpy(c->request_id, in->request_id.s, in->request_id.len + 1);
	c->deadline_ms = in->deadline_ms;
	c->arn = dup_str(&in->invoked_arn);
	c->trace = dup_str(&in->trace_id);
	c->client_context = dup_str(&in->client_context);
	c->cognito = dup_str(&in->cognito_identity);
	c->len = in->payload.len;
	c->payload = malloc(c->len > 0 ? c->len : 1);
	if (!c->arn || !c->trace || !c->client_context || !c->cognito || !c->payload) {
		L.cur = c;
		finish();
		goto err_nomem;
	}
	if (c->len > 0)
		memcpy(c->payload, in->payload.p, c->len);
	L.cur = c;
	if (L.held != NULL)
		deliver();
	else if (L.boot.pid == 0)
		start_bootstrap(); /* init failed or the runtime ended: init again */
	else if (L.init_failed)
		bootstrap_kill(); /* on_exited() starts a fresh one for this invocation */
	return;

err_nomem:
	send_error_json(GPROTO_ERROR, req_id, "Ember.OutOfMemory", "invocation copy");
}

static void on_restore(const struct gproto_restore *r)
{
	world_restore(r);
	memcpy(L.instance_id, r->instance_id.s, r->instance_id.len + 1);
	log_info("restored: instance %s", L.instance_id);
}

static void handle(const struct gproto_msg *m)
{
	switch (m->type) {
	case GPROTO_INIT:
		on_init(&m->init);
		break;
	case GPROTO_INVOKE:
		on_invoke(m->req_id, &m->invoke);
		break;
	case GPROTO_RESTORE:
		on_restore(&m->restore);
		break;
	case GPROTO_PING:
		send_empty(GPROTO_PONG, m->req_id);
		break;
	default: /* PONG: nothing to do */
		break;
	}
}

/* --- host connection --- */

static void conn_close(const char *why)
{
	if (L.cfd < 0)
		return;
	log_info("host connection closed: %s", why);
	event_free(L.read_ev);
	event_free(L.write_ev);
	L.read_ev = L.write_ev = NULL;
	close(L.cfd);
	L.cfd = -1;
	gproto_reader_free(&L.rd);
	evbuffer_drain(L.out, evbuffer_get_length(L.out));
	bootstrap_pause(&L.boot, false);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct gproto_frame f;
	const char *why = NULL;
	ssize_t n;
	int r;

	(void)fd, (void)what, (void)arg;
	n = gproto_reader_read(&L.rd, L.cfd);
	if (n == -EAGAIN || n == -EINTR)
		return;
	if (n == 0) {
		conn_close(gproto_reader_pending(&L.rd) ? "end of stream inside a frame"
							: "end of stream");
		return;
	}
	if (n < 0 && n != -ENOBUFS) {
		conn_close(L.rd.why ? L.rd.why : strerror((int)-n));
		return;
	}
	while (L.cfd >= 0 && (r = gproto_reader_next(&L.rd, &f)) != 0) {
		if (r < 0 || (r = gproto_decode(&f.hdr, f.body, &msg, &why)) < 0) {
			log_ratelimited(LOG_ERR, "malformed frame from the host: %s",
					r < 0 && why ? why : (L.rd.why ? L.rd.why : "?"));
			conn_close("malformed frame");
			return;
		}
		handle(&msg);
	}
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	flush();
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	int c = accept4(L.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	(void)fd, (void)what, (void)arg;
	if (c < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("vsock accept: %s", strerror(errno));
		return;
	}
	conn_close("a new host connection replaces it");
	L.cfd = c;
	gproto_reader_init(&L.rd, GPROTO_FROM_HOST);
	L.read_ev = event_new(L.base, c, EV_READ | EV_PERSIST, on_readable, NULL);
	L.write_ev = event_new(L.base, c, EV_WRITE | EV_PERSIST, on_writable, NULL);
	if (L.read_ev == NULL || L.write_ev == NULL || event_add(L.read_ev, NULL) < 0) {
		conn_close("out of memory");
		return;
	}
	log_info("host connected");
	if (L.held != NULL && L.cur == NULL)
		send_empty(GPROTO_READY, 0);
}

static void on_sigchld(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	bootstrap_reap(&L.boot);
}

static int listen_vsock(void)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK,
				 .svm_cid = VMADDR_CID_ANY,
				 .svm_port = GPROTO_PORT };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, LAMBDA_BACKLOG) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

_Noreturn void lambda_run(const struct init_args *args)
{
	struct event *chld;
	int r;

	L.args = args;
	signal(SIGPIPE, SIG_IGN);
	L.base = event_base_new();
	L.out = evbuffer_new();
	if (L.base == NULL || L.out == NULL ||
	    bootstrap_init(&L.boot, L.base, &boot_ops, NULL) < 0) {
		log_err("lambda: out of memory");
		abort();
	}
	chld = evsignal_new(L.base, SIGCHLD, on_sigchld, NULL);
	if (chld == NULL || event_add(chld, NULL) < 0)
		log_err("lambda: SIGCHLD event failed; children are not reaped");
	r = rapi_start(L.base, &rapi_ops, NULL, &L.http);
	if (r < 0)
		log_err("runtime API on %s:%d: %s", RAPI_ADDR, RAPI_PORT, strerror(-r));
	L.lfd = listen_vsock();
	if (L.lfd < 0) {
		log_err("vsock listen on port %u: %s", GPROTO_PORT, strerror(-L.lfd));
		abort();
	}
	L.accept_ev = event_new(L.base, L.lfd, EV_READ | EV_PERSIST, on_accept, NULL);
	if (L.accept_ev == NULL || event_add(L.accept_ev, NULL) < 0)
		abort();
	log_info("lambda: listening on vsock port %u", GPROTO_PORT);
	for (;;) {
		r = event_base_dispatch(L.base);
		log_err("lambda: event loop ended (%d); restarting it", r);
	}
}
