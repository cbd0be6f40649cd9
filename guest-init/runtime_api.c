/* runtime_api: routes and renders the Lambda Runtime API with evhttp (see runtime_api.h).
 *
 * Status codes and bodies follow the Runtime Interface Emulator's rapi
 * handlers, the reference for what Lambda answers (lambda-api.md §6). */
#include "guest-init/runtime_api.h"

#include "lib/gproto/gproto.h"
#include "lib/util/log.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define PREFIX	   "/2018-06-01/runtime/"
#define INVOCATION PREFIX "invocation/"
#define JSON	   "application/json"
#define ERROR_TYPE "Lambda-Runtime-Function-Error-Type"
/* Held /next calls wait for an invoke as long as it takes: no timeout. The
 * longest evhttp accepts stands for "none" (a year). */
#define IDLE_TIMEOUT_S (365 * 24 * 3600)

static void send_json(struct evhttp_request *req, int code, const char *reason, const char *json)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", JSON);
	evbuffer_add(out, json, strlen(json));
	evhttp_send_reply(req, code, reason, NULL);
}

/* The request is answered now: stop watching its connection. */
static void forget(struct rapi *api, struct evhttp_request *req)
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);

	if (c != NULL)
		evhttp_connection_set_closecb(c, NULL, NULL);
	if (api->taken == req)
		api->taken = NULL;
}

void rapi_answer(int status, struct rapi_answer *a)
{
	switch (status) {
	case 0:
		*a = (struct rapi_answer){ 202, "Accepted", "{\"status\":\"OK\"}" };
		break;
	case -ENOENT:
		*a = (struct rapi_answer){ 400, "Bad Request",
					   "{\"errorMessage\":\"Invalid request "
					   "ID\",\"errorType\":\"InvalidRequestID\"}" };
		break;
	case -EPERM:
		*a = (struct rapi_answer){ 403, "Forbidden",
					   "{\"errorMessage\":\"Invalid state transition for the "
					   "runtime\",\"errorType\":\"InvalidStateTransition\"}" };
		break;
	case -EMSGSIZE:
		*a = (struct rapi_answer){ 413, "Request Entity Too Large",
					   "{\"errorMessage\":\"Exceeded maximum allowed payload "
					   "size (6291556 bytes).\",\"errorType\":"
					   "\"RequestEntityTooLarge\"}" };
		break;
	case -EPIPE:
		*a = (struct rapi_answer){ 500, "Internal Server Error",
					   "{\"errorMessage\":\"The runtime must exit: its "
					   "initialization failed\",\"errorType\":"
					   "\"Runtime.ExitError\"}" };
		break;
	default:
		*a = (struct rapi_answer){ 500, "Internal Server Error",
					   "{\"errorMessage\":\"Internal error\",\"errorType\":"
					   "\"ServiceException\"}" };
		break;
	}
}

void rapi_send_status(struct rapi *api, struct evhttp_request *req, int status)
{
	struct rapi_answer a;

	forget(api, req);
	rapi_answer(status, &a);
	send_json(req, a.code, a.reason, a.body);
}

void rapi_send_event(struct rapi *api, struct evhttp_request *req, const struct rapi_event *ev)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char deadline[24];

	forget(api, req);
	snprintf(deadline, sizeof(deadline), "%" PRIu64, ev->deadline_ms);
	evhttp_add_header(h, "Content-Type", JSON);
	evhttp_add_header(h, "Lambda-Runtime-Aws-Request-Id", ev->request_id);
	evhttp_add_header(h, "Lambda-Runtime-Deadline-Ms", deadline);
	if (ev->invoked_arn[0] != '\0')
		evhttp_add_header(h, "Lambda-Runtime-Invoked-Function-Arn", ev->invoked_arn);
	if (ev->trace_id[0] != '\0')
		evhttp_add_header(h, "Lambda-Runtime-Trace-Id", ev->trace_id);
	if (ev->client_context[0] != '\0')
		evhttp_add_header(h, "Lambda-Runtime-Client-Context", ev->client_context);
	if (ev->cognito_identity[0] != '\0')
		evhttp_add_header(h, "Lambda-Runtime-Cognito-Identity", ev->cognito_identity);
	if (ev->len > 0)
		evbuffer_add(evhttp_request_get_output_buffer(req), ev->payload, ev->len);
	evhttp_send_reply(req, 200, "OK", NULL);
}

/* The connection of the taken /next closed before its answer. */
static void on_next_closed(struct evhttp_connection *c, void *arg)
{
	struct rapi *api = arg;
	struct evhttp_request *req = api->taken;

	(void)c;
	api->taken = NULL;
	if (req != NULL)
		api->ops->next_gone(api->ctx, req);
}

static bool valid_id(const char *s, size_t n)
{
	if (n == 0 || n > GPROTO_REQUEST_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

const char *rapi_error_type(const char *t)
{
	if (t == NULL || strlen(t) > GPROTO_ERROR_TYPE_MAX)
		return "";
	for (const char *p = t; *p != '\0'; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			return "";
	return t;
}

int rapi_parse(enum rapi_method method, const char *path, struct rapi_call *call)
{
	const char *rest, *slash;

	if (strcmp(path, INVOCATION "next") == 0) {
		call->route = RAPI_NEXT;
		return method == RAPI_GET ? 0 : 405;
	}
	if (strcmp(path, PREFIX "init/error") == 0) {
		call->route = RAPI_INIT_ERROR;
		return method == RAPI_POST ? 0 : 405;
	}
	if (strncmp(path, INVOCATION, strlen(INVOCATION)) != 0)
		return 404;
	rest = path + strlen(INVOCATION);
	slash = strchr(rest, '/');
	if (slash == NULL || (strcmp(slash, "/response") != 0 && strcmp(slash, "/error") != 0))
		return 404;
	if (method != RAPI_POST)
		return 405;
	if (!valid_id(rest, (size_t)(slash - rest)))
		return 400;
	call->route = strcmp(slash, "/response") == 0 ? RAPI_RESPONSE : RAPI_ERROR;
	memcpy(call->id, rest, (size_t)(slash - rest));
	call->id[slash - rest] = '\0';
	return 0;
}

static enum rapi_method method_of(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		return RAPI_GET;
	case EVHTTP_REQ_POST:
		return RAPI_POST;
	default:
		return RAPI_OTHER;
	}
}

static void route(struct evhttp_request *req, void *arg)
{
	struct rapi *api = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct evhttp_request *prev;
	const char *etype;
	const uint8_t *body;
	struct rapi_call call;
	int r;

	if (path == NULL) {
		evhttp_send_error(req, HTTP_BADREQUEST, NULL);
		return;
	}
	r = rapi_parse(method_of(req), path, &call);
	if (r == 400) {
		rapi_send_status(api, req, -ENOENT);
		return;
	}
	if (r != 0) {
		evhttp_send_error(req, r, NULL);
		return;
	}
	if (call.route == RAPI_NEXT) {
		/* Watched before ops->next: it may keep the request (or answer it at
		 * once, which stops the watch). Refused, the one taken before stays. */
		prev = api->taken;
		api->taken = req;
		evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_next_closed,
					      api);
		r = api->ops->next(api->ctx, req);
		if (r < 0) {
			rapi_send_status(api, req, r);
			api->taken = prev;
		}
		return;
	}
	body = len > 0 ? evbuffer_pullup(in, -1) : (const uint8_t *)"";
	if (body == NULL) {
		rapi_send_status(api, req, -ENOMEM);
		return;
	}
	etype = rapi_error_type(
		evhttp_find_header(evhttp_request_get_input_headers(req), ERROR_TYPE));
	if (call.route == RAPI_INIT_ERROR)
		r = api->ops->init_error(api->ctx, etype, body, len);
	else if (call.route == RAPI_RESPONSE)
		r = api->ops->response(api->ctx, call.id, body, len);
	else
		r = api->ops->error(api->ctx, call.id, etype, body, len);
	rapi_send_status(api, req, r);
}

/* Our own socket: evhttp_bind_socket() resolves through getaddrinfo(),
 * which a static binary should not call. */
static int listen_loopback(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(RAPI_PORT) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	inet_pton(AF_INET, RAPI_ADDR, &a.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, SOMAXCONN) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* The one server of this process, for the listener's error callback. */
static struct rapi *serving;

unsigned rapi_fds_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	if (d == NULL)
		return UINT_MAX; /* no descriptor even for this: as full as it gets */
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	/* ".", ".." and the scan's own descriptor. */
	return n >= 3 ? n - 3 : 0;
}

unsigned rapi_fds_cap(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > 2u * 1024 * 1024)
		return 1024 * 1024;
	return (unsigned)(rl.rlim_cur / 2);
}

static void pause_listener(struct rapi *api, const char *why)
{
	struct timeval tv = { 0, RAPI_RESUME_MS * 1000 };

	if (!api->paused) {
		api->paused = true;
		api->pauses++;
		evconnlistener_disable(api->listener);
		log_warn("runtime API: %s: new connections wait", why);
	}
	event_add(api->resume, &tv);
}

/* Every RAPI_RESUME_MS while paused: accept again once below the cap. */
static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct rapi *api = arg;

	(void)fd, (void)what;
	if (rapi_fds_open() >= rapi_fds_cap()) {
		pause_listener(api, "still too many descriptors");
		return;
	}
	api->paused = false;
	evconnlistener_enable(api->listener);
	log_info("runtime API: accepting connections again");
}

/* evhttp asks for each new connection's bufferevent: the moment to count.
 * NULL lets evhttp make its usual one. This connection is served; the
 * next ones wait while the count is at the cap. */
static struct bufferevent *on_new_conn(struct event_base *base, void *arg)
{
	struct rapi *api = arg;

	(void)base;
	if (rapi_fds_open() >= rapi_fds_cap())
		pause_listener(api, "too many open descriptors");
	return NULL;
}

/* accept() failed with something other than EAGAIN, EINTR or ECONNABORTED
 * (libevent retries those). */
static void on_accept_error(struct evconnlistener *lev, void *arg)
{
	int e = errno;
	char why[64];

	(void)arg;
	if (serving == NULL || serving->listener != lev)
		return;
	serving->accept_errors++;
	snprintf(why, sizeof(why), "accept: %s", strerror(e));
	pause_listener(serving, why);
}

int rapi_serve(struct rapi *api, struct event_base *base, const struct rapi_ops *ops, void *ctx,
	       int fd)
{
	struct evhttp_bound_socket *bound;

	*api = (struct rapi){ .ops = ops, .ctx = ctx };
	api->http = evhttp_new(base);
	api->resume = event_new(base, -1, 0, on_resume, api);
	/* backlog 0: the socket already listens. */
	api->listener = evconnlistener_new(base, NULL, NULL,
					   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (api->http == NULL || api->resume == NULL || api->listener == NULL)
		goto err;
	evhttp_set_max_body_size(api->http, RAPI_BODY_MAX);
	evhttp_set_max_headers_size(api->http, RAPI_HEADERS_MAX);
	evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_timeout(api->http, IDLE_TIMEOUT_S);
	/* Drain an over-long body before the 413, so the client sees the 413. */
	evhttp_set_flags(api->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_gencb(api->http, route, api);
	evhttp_set_bevcb(api->http, on_new_conn, api);
	bound = evhttp_bind_listener(api->http, api->listener);
	if (bound == NULL)
		goto err;
	/* After the bind: evhttp sets the listener's callback, not its error one. */
	evconnlistener_set_error_cb(api->listener, on_accept_error);
	serving = api;
	return 0;

err:
	if (api->listener != NULL)
		evconnlistener_free(api->listener);
	else
		close(fd);
	api->listener = NULL;
	rapi_stop(api);
	return -ENOMEM;
}

void rapi_stop(struct rapi *api)
{
	if (serving == api)
		serving = NULL;
	if (api->http != NULL)
		evhttp_free(api->http); /* frees the bound listener too */
	else if (api->listener != NULL)
		evconnlistener_free(api->listener);
	if (api->resume != NULL)
		event_free(api->resume);
	*api = (struct rapi){ 0 };
}

int rapi_start(struct rapi *api, struct event_base *base, const struct rapi_ops *ops, void *ctx)
{
	int fd = listen_loopback();

	if (fd < 0)
		return fd;
	return rapi_serve(api, base, ops, ctx, fd);
}
