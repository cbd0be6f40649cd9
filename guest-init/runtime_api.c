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
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PREFIX	   "/2018-06-01/runtime/"
#define INVOCATION PREFIX "invocation/"
#define JSON	   "application/json"
#define ERROR_TYPE "Lambda-Runtime-Function-Error-Type"
/* Held /next calls wait for an invoke as long as it takes: no timeout. The
 * longest evhttp accepts stands for "none" (a year). */
#define IDLE_TIMEOUT_S (365 * 24 * 3600)

static const struct rapi_ops *ops;
static void *ops_ctx;
static struct event_base *base;

static void send_json(struct evhttp_request *req, int code, const char *reason, const char *json)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", JSON);
	evbuffer_add(out, json, strlen(json));
	evhttp_send_reply(req, code, reason, NULL);
}

static void forget_close(struct evhttp_request *req)
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);

	if (c != NULL)
		evhttp_connection_set_closecb(c, NULL, NULL);
}

void rapi_send_status(struct evhttp_request *req, int status)
{
	forget_close(req);
	switch (status) {
	case 0:
		send_json(req, 202, "Accepted", "{\"status\":\"OK\"}");
		break;
	case -ENOENT:
		send_json(req, 400, "Bad Request",
			  "{\"errorMessage\":\"Invalid request "
			  "ID\",\"errorType\":\"InvalidRequestID\"}");
		break;
	case -EPERM:
		send_json(req, 403, "Forbidden",
			  "{\"errorMessage\":\"Invalid state transition for the runtime\","
			  "\"errorType\":\"InvalidStateTransition\"}");
		break;
	case -EMSGSIZE:
		send_json(req, 413, "Request Entity Too Large",
			  "{\"errorMessage\":\"Exceeded maximum allowed payload size (6291556 "
			  "bytes).\",\"errorType\":\"RequestEntityTooLarge\"}");
		break;
	case -EPIPE:
		send_json(req, 500, "Internal Server Error",
			  "{\"errorMessage\":\"The runtime must exit: its initialization "
			  "failed\",\"errorType\":\"Runtime.ExitError\"}");
		break;
	default:
		send_json(
			req, 500, "Internal Server Error",
			"{\"errorMessage\":\"Internal error\",\"errorType\":\"ServiceException\"}");
		break;
	}
}

void rapi_send_event(struct evhttp_request *req, const struct rapi_event *ev)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char deadline[24];

	forget_close(req);
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

static void on_next_closed(struct evhttp_connection *c, void *arg)
{
	(void)c;
	ops->next_gone(ops_ctx, arg);
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

/* The optional error-type header, if gproto can carry it (else ""). */
static const char *error_type(struct evhttp_request *req)
{
	const char *t = evhttp_find_header(evhttp_request_get_input_headers(req), ERROR_TYPE);

	if (t == NULL || strlen(t) > GPROTO_ERROR_TYPE_MAX)
		return "";
	for (const char *p = t; *p != '\0'; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			return "";
	return t;
}

static void route(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const uint8_t *body;
	char id[GPROTO_REQUEST_ID_MAX + 1];
	const char *rest, *slash;
	int r;

	(void)arg;
	if (path == NULL) {
		evhttp_send_error(req, HTTP_BADREQUEST, NULL);
		return;
	}
	if (strcmp(path, INVOCATION "next") == 0) {
		if (cmd != EVHTTP_REQ_GET) {
			evhttp_send_error(req, HTTP_BADMETHOD, NULL);
			return;
		}
		/* Before ops->next: it may keep the request, and the client may go. */
		evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_next_closed,
					      req);
		r = ops->next(ops_ctx, req);
		if (r < 0)
			rapi_send_status(req, r);
		return;
	}
	body = len > 0 ? evbuffer_pullup(in, -1) : (const uint8_t *)"";
	if (body == NULL) {
		rapi_send_status(req, -ENOMEM);
		return;
	}
	if (strcmp(path, PREFIX "init/error") == 0) {
		if (cmd != EVHTTP_REQ_POST) {
			evhttp_send_error(req, HTTP_BADMETHOD, NULL);
			return;
		}
		rapi_send_status(req, ops->init_error(ops_ctx, error_type(req), body, len));
		return;
	}
	if (strncmp(path, INVOCATION, strlen(INVOCATION)) != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, NULL);
		return;
	}
	rest = path + strlen(INVOCATION);
	slash = strchr(rest, '/');
	if (slash == NULL || (strcmp(slash, "/response") != 0 && strcmp(slash, "/error") != 0)) {
		evhttp_send_error(req, HTTP_NOTFOUND, NULL);
		return;
	}
	if (cmd != EVHTTP_REQ_POST) {
		evhttp_send_error(req, HTTP_BADMETHOD, NULL);
		return;
	}
	if (!valid_id(rest, (size_t)(slash - rest))) {
		rapi_send_status(req, -ENOENT);
		return;
	}
	memcpy(id, rest, (size_t)(slash - rest));
	id[slash - rest] = '\0';
	if (strcmp(slash, "/response") == 0)
		r = ops->response(ops_ctx, id, body, len);
	else
		r = ops->error(ops_ctx, id, error_type(req), body, len);
	rapi_send_status(req, r);
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

int rapi_start(struct event_base *b, const struct rapi_ops *o, void *ctx, struct evhttp **out)
{
	struct evhttp *http = evhttp_new(b);
	int fd;

	if (http == NULL)
		return -ENOMEM;
	base = b;
	ops = o;
	ops_ctx = ctx;
	evhttp_set_max_body_size(http, RAPI_BODY_MAX);
	evhttp_set_max_headers_size(http, RAPI_HEADERS_MAX);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_timeout(http, IDLE_TIMEOUT_S);
	/* Drain an over-long body before the 413, so the client sees the 413. */
	evhttp_set_flags(http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_gencb(http, route, NULL);
	fd = listen_loopback();
	if (fd < 0 || evhttp_accept_socket(http, fd) < 0) {
		if (fd >= 0)
			close(fd);
		evhttp_free(http);
		return fd < 0 ? fd : -ENOMEM;
	}
	*out = http;
	return 0;
}
