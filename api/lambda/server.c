/* server: evhttp on the Unix socket and TCP, and the dispatch of each request to its route (see lambda.h). */
#include "api/lambda/lambda.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "api/lambda/ops.h"
#include "api/lambda/routes.h"
#include "lib/util/log.h"
#include "lib/util/uds.h"

static const struct {
	enum evhttp_cmd_type cmd;
	const char *name;
} methods[] = {
	{ EVHTTP_REQ_GET, "GET" },	   { EVHTTP_REQ_POST, "POST" },
	{ EVHTTP_REQ_PUT, "PUT" },	   { EVHTTP_REQ_DELETE, "DELETE" },
	{ EVHTTP_REQ_HEAD, "HEAD" },	   { EVHTTP_REQ_PATCH, "PATCH" },
	{ EVHTTP_REQ_OPTIONS, "OPTIONS" },
};

static const char *method_name(enum evhttp_cmd_type cmd)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (methods[i].cmd == cmd)
			return methods[i].name;
	}
	return "?";
}

/* Takes the body out of evhttp into r->body (NUL-terminated). */
static int take_body(struct lreq *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);

	r->body = malloc(len + 1);
	if (r->body == NULL)
		return -ENOMEM;
	if (len > 0 && evbuffer_remove(in, r->body, len) != (int)len)
		return -EIO;
	r->body[len] = '\0';
	r->body_len = len;
	return 0;
}

/* Decodes and parses the {name} segment into r->fn; replies on failure. */
static bool take_name(struct lreq *r, const char *seg, size_t seg_len)
{
	char decoded[NAMES_INPUT_MAX + 1];
	struct lerror err;

	if (names_percent_decode(seg, seg_len, decoded, sizeof(decoded)) < 0) {
		lreq_error(r, LEXC_VALIDATION,
			   "1 validation error detected: Value at 'functionName' failed to satisfy "
			   "constraint: Member must have length less than or equal to %d",
			   NAMES_INPUT_MAX);
		return false;
	}
	if (names_parse(decoded, &r->fn, &err) < 0) {
		lreq_fail(r, &err);
		return false;
	}
	r->has_name = true;
	return true;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct lambda *l = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	size_t len = evbuffer_get_length(evhttp_request_get_input_buffer(req));
	const struct route *route;
	const char *seg;
	size_t seg_len;
	bool known;
	struct lreq *r;

	if (lreq_new(&l->live, l, req, &r) < 0) {
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	r->method = method_name(cmd);
	if (l->stopping) { /* a drain: requests on open connections are refused too */
		lreq_add_header(r, "Connection", "close");
		lreq_error(r, LEXC_SERVICE, "emberd is stopping");
		return;
	}
	route = routes_match(cmd, path, &seg, &seg_len, &known);
	if (route == NULL) {
		lreq_error(r, LEXC_UNKNOWN_OPERATION, "%s %.200s is not an operation of this API%s",
			   r->method, path != NULL ? path : "?",
			   known ? " (the path exists for another method)" : "");
		return;
	}
	r->route = route;
	if (r->bad_query) {
		lreq_error(r, LEXC_INVALID_PARAMETER, "The query string is malformed");
		return;
	}
	if (len > route->body_max) {
		lreq_error(r, LEXC_TOO_LARGE,
			   "Request must be smaller than %zu bytes for the %s operation",
			   route->body_max, route->op);
		return;
	}
	if (take_body(r) < 0) {
		lreq_error(r, LEXC_SERVICE, "out of memory for the request body");
		return;
	}
	if (seg != NULL && !take_name(r, seg, seg_len))
		return;
	route->fn(r);
}

int lambda_new(const struct lambda_opts *o, struct lambda **out)
{
	struct lambda *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return -ENOMEM;
	l->base = o->base;
	l->store = o->store;
	l->inv = o->invoker;
	l->async = o->async;
	l->metrics = o->metrics;
	l->work = o->work;
	l->rt = o->runtimes;
	snprintf(l->home, sizeof(l->home), "%s", o->home);
	snprintf(l->intake, sizeof(l->intake), "%s", o->intake);
	l->http = evhttp_new(o->base);
	if (l->http == NULL) {
		free(l);
		log_err("setting up the HTTP server failed");
		return -ENOMEM;
	}
	evhttp_set_max_headers_size(l->http, LAMBDA_HEADERS_MAX);
	evhttp_set_max_body_size(l->http, (ev_ssize_t)routes_body_max());
	evhttp_set_timeout(l->http, LAMBDA_IO_TIMEOUT_S);
	/* Drain an over-long body before the 413, so clients see the answer
	 * instead of a reset connection. */
	evhttp_set_flags(l->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_default_content_type(l->http, "application/json");
	evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						    EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD |
						    EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(l->http, on_request, l);
	*out = l;
	return 0;
}

int lambda_listen_unix(struct lambda *l, const char *path)
{
	struct evconnlistener *listener;
	mode_t old;
	int fd, ret;

	if (l->nbound == LAMBDA_LISTENERS_MAX)
		return -ENOSPC;
	ret = uds_claim(path, "Lambda API socket");
	if (ret < 0)
		return ret;
	/* The socket is created 0600: only this user may drive emberd through it. */
	old = umask(0177);
	ret = uds_bind(path, LAMBDA_BACKLOG, &fd);
	umask(old);
	if (ret < 0) {
		log_err("Lambda API socket %s: %s", path, strerror(-ret));
		return ret;
	}
	snprintf(l->unix_path, sizeof(l->unix_path), "%s", path);
	/* backlog 0: the socket already listens. */
	listener = evconnlistener_new(l->base, NULL, NULL,
				      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (listener == NULL) {
		close(fd);
		goto err;
	}
	l->bound[l->nbound] = evhttp_bind_listener(l->http, listener);
	if (l->bound[l->nbound] == NULL) {
		evconnlistener_free(listener);
		goto err;
	}
	l->nbound++;
	return 0;

err:
	log_err("Lambda API socket %s: serving it failed", path);
	unlink(path);
	l->unix_path[0] = '\0';
	return -ENOMEM;
}

int lambda_listen_tcp(struct lambda *l, const char *host, uint16_t port, char *bound, size_t cap)
{
	struct evhttp_bound_socket *h;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char addr[INET6_ADDRSTRLEN];
	uint16_t p = port;

	if (l->nbound == LAMBDA_LISTENERS_MAX)
		return -ENOSPC;
	h = evhttp_bind_socket_with_handle(l->http, host, port);
	if (h == NULL) {
		log_err("--listen %s:%u: cannot listen there", host, port);
		return -EADDRNOTAVAIL;
	}
	if (getsockname(evhttp_bound_socket_get_fd(h), (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET6)
			p = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		else
			p = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	l->bound[l->nbound++] = h;
	snprintf(addr, sizeof(addr), "%s", host);
	snprintf(bound, cap, strchr(addr, ':') != NULL ? "[%s]:%u" : "%s:%u", addr, p);
	return 0;
}

void lambda_stop(struct lambda *l)
{
	if (l == NULL || l->http == NULL)
		return;
	l->stopping = true;
	/* New connections stop here; open ones get their answers (and new
	 * requests on them a 500) until lambda_free(). */
	for (unsigned i = 0; i < l->nbound; i++)
		evhttp_del_accept_socket(l->http, l->bound[i]);
	l->nbound = 0;
	if (l->unix_path[0] != '\0') {
		unlink(l->unix_path);
		l->unix_path[0] = '\0';
	}
}

void lambda_abort_invocations(struct lambda *l)
{
	if (l != NULL)
		ops_invoke_abort_all(l);
}

void lambda_free(struct lambda *l)
{
	if (l == NULL)
		return;
	lambda_stop(l);
	lreq_release_all(&l->live);
	evhttp_free(l->http); /* closes listeners (the Unix one too) and connections */
	while (l->busy != NULL)
		ops_busy_remove(l, l->busy->name);
	free(l);
}
