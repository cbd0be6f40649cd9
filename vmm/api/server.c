/* server: evhttp on the API socket, on its own thread (see server.h). */
#include "vmm/api/server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <sys/queue.h> /* before keyvalq_struct.h, for TAILQ_FOREACH */
#include <event2/keyvalq_struct.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/util/log.h"
#include "lib/util/uds.h"
#include "vmm/seccomp/filter.h"

struct api_server {
	struct api *api;
	struct event_base *base;
	struct evhttp *http;
	struct event *stop_ev, *tick_ev;
	int stop_fd;
	int listen_fd; /* owned by evhttp once bound */
	bool bound;
	char path[PATH_MAX];
	pthread_t thread;
	bool started;
};

static const struct {
	enum evhttp_cmd_type cmd;
	enum api_method method;
	const char *name;
} methods[] = {
	{ EVHTTP_REQ_GET, API_GET, "GET" },	      { EVHTTP_REQ_PUT, API_PUT, "PUT" },
	{ EVHTTP_REQ_PATCH, API_PATCH, "PATCH" },     { EVHTTP_REQ_POST, API_OTHER, "POST" },
	{ EVHTTP_REQ_HEAD, API_OTHER, "HEAD" },	      { EVHTTP_REQ_DELETE, API_OTHER, "DELETE" },
	{ EVHTTP_REQ_OPTIONS, API_OTHER, "OPTIONS" }, { EVHTTP_REQ_TRACE, API_OTHER, "TRACE" },
	{ EVHTTP_REQ_CONNECT, API_OTHER, "CONNECT" },
};

static void send_reply(struct evhttp_request *req, const struct api_reply *reply)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	/* An error whose body could not be built still gets one. */
	const char *json =
		reply->status != 204 && reply->body == NULL ? API_FAULT_OOM : reply->body;
	const char *reason = reply->status == 200   ? "OK"
			     : reply->status == 204 ? "No Content"
						    : "Bad Request";

	if (json != NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  "application/json");
		evbuffer_add(out, json, strlen(json));
	}
	evhttp_send_reply(req, reply->status, reason, json != NULL ? out : NULL);
}

/* The reply to a request after which the process ends has left. */
static void on_last_reply(struct evhttp_request *req, void *opaque)
{
	struct api_server *s = opaque;

	(void)req;
	ctl_reply_sent(s->api->ctl);
}

/* The limits evhttp no longer enforces itself below its ceilings (server.h):
 * header count and size, then the body. NULL if the request is within them,
 * else the fault_message, in msg. */
static const char *over_limits(struct evhttp_request *req, const char *method_name, char *msg,
			       size_t cap)
{
	struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
	const char *uri = evhttp_request_get_uri(req);
	size_t len = evbuffer_get_length(evhttp_request_get_input_buffer(req));
	/* The request line as sent: METHOD URI HTTP/1.x CRLF. */
	size_t bytes = strlen(method_name) + 1 + (uri != NULL ? strlen(uri) : 0) + 11;
	struct evkeyval *kv;
	unsigned nhdrs = 0;

	TAILQ_FOREACH(kv, hdrs, next)
	{
		nhdrs++;
		bytes += strlen(kv->key) + 2 + strlen(kv->value) + 2; /* "K: V" CRLF */
	}
	bytes += 2; /* the empty line */
	if (nhdrs > API_MAX_HEADERS)
		snprintf(msg, cap, "too many request headers: %u (at most %u)", nhdrs,
			 API_MAX_HEADERS);
	else if (bytes > API_MAX_HEADER_BYTES)
		snprintf(msg, cap, "the request line and headers are %zu bytes; the limit is %u",
			 bytes, API_MAX_HEADER_BYTES);
	else if (len > API_MAX_BODY)
		snprintf(msg, cap, API_MSG_BODY_TOO_BIG, len, API_MAX_BODY);
	else
		return NULL;
	return msg;
}

static void on_request(struct evhttp_request *req, void *opaque)
{
	struct api_server *s = opaque;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	enum api_method method = API_OTHER;
	const char *name = "?";
	struct api_reply reply;
	size_t len = evbuffer_get_length(in);
	char msg[256];
	char *body;

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (methods[i].cmd == cmd) {
			method = methods[i].method;
			name = methods[i].name;
		}
	}
	if (path == NULL || path[0] == '\0')
		path = "/";
	if (over_limits(req, name, msg, sizeof(msg)) != NULL) {
		api_refuse(s->api, name, path, msg, &reply);
	} else {
		/* +1 for the NUL the schema parser needs. */
		body = malloc(len + 1);
		if (body == NULL) {
			api_refuse(s->api, name, path, "out of memory", &reply);
		} else {
			evbuffer_remove(in, body, len);
			body[len] = '\0';
			api_handle(s->api, method, name, path, body, len, &reply);
			free(body);
		}
	}
	/* The time a VM action took (a snapshot of a big guest) is not the
	 * client's: restart the connection's deadline for sending the reply. */
	evhttp_connection_set_timeout(evhttp_request_get_connection(req), API_TIMEOUT_SECONDS);
	if (reply.last)
		evhttp_request_set_on_complete_cb(req, on_last_reply, s);
	send_reply(req, &reply);
	free(reply.body);
}

static void on_stop(evutil_socket_t fd, short what, void *opaque)
{
	struct api_server *s = opaque;

	(void)fd, (void)what;
	event_base_loopbreak(s->base);
}

static void on_tick(evutil_socket_t fd, short what, void *opaque)
{
	struct api_server *s = opaque;

	(void)fd, (void)what;
	api_flush_metrics(s->api);
}

static void *server_thread(void *opaque)
{
	struct api_server *s = opaque;

	/* Before the first request. Without its filter this thread serves
	 * nothing, and the process stops as on SIGTERM. */
	if (filter_install(ROLE_API) < 0) {
		kill(getpid(), SIGTERM);
		return NULL;
	}
	event_base_dispatch(s->base);
	return NULL;
}

int api_server_create(const char *path, struct api *api, struct api_server **out)
{
	struct timeval period = { .tv_sec = METRICS_PERIOD_SECONDS };
	struct api_server *s = calloc(1, sizeof(*s));
	int ret = -ENOMEM;

	if (s == NULL)
		return -ENOMEM;
	s->api = api;
	s->stop_fd = s->listen_fd = -1;
	snprintf(s->path, sizeof(s->path), "%s", path);
	ret = uds_listen(path, "--api-sock", API_BACKLOG, &s->listen_fd);
	if (ret < 0) {
		s->path[0] = '\0'; /* not ours: never unlink it */
		goto err;
	}
	ret = -ENOMEM;
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->base = event_base_new();
	s->http = s->base != NULL ? evhttp_new(s->base) : NULL;
	if (s->stop_fd < 0 || s->http == NULL)
		goto err_log;
	/* evhttp's own limits answer with libevent's HTML pages: set them above
	 * ours, so that ours (JSON, over_limits()) are the ones clients meet. */
	evhttp_set_max_headers_size(s->http, API_HEADER_CEILING);
	evhttp_set_max_body_size(s->http, API_BODY_CEILING);
	evhttp_set_timeout(s->http, API_TIMEOUT_SECONDS);
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
						    EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						    EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
						    EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
	evhttp_set_gencb(s->http, on_request, s);
	if (evhttp_accept_socket(s->http, s->listen_fd) < 0)
		goto err_log;
	s->bound = true;
	s->stop_ev = event_new(s->base, s->stop_fd, EV_READ | EV_PERSIST, on_stop, s);
	s->tick_ev = event_new(s->base, -1, EV_PERSIST, on_tick, s);
	if (s->stop_ev == NULL || s->tick_ev == NULL || event_add(s->stop_ev, NULL) < 0 ||
	    event_add(s->tick_ev, &period) < 0)
		goto err_log;
	*out = s;
	return 0;

err_log:
	log_err("--api-sock %s: setting up the HTTP server failed", path);
err:
	api_server_destroy(s);
	return ret;
}

int api_server_start(struct api_server *s)
{
	int ret = -pthread_create(&s->thread, NULL, server_thread, s);

	if (ret < 0) {
		log_err("starting the API thread: %s", strerror(-ret));
		return ret;
	}
	s->started = true;
	log_info("API listening on %s", s->path);
	return 0;
}

void api_server_destroy(struct api_server *s)
{
	uint64_t one = 1;

	if (s == NULL)
		return;
	if (s->started) {
		if (write(s->stop_fd, &one, sizeof(one)) < 0) {
			/* An eventfd write cannot fail short of overflow. */
		}
		pthread_join(s->thread, NULL);
	}
	if (s->stop_ev != NULL)
		event_free(s->stop_ev);
	if (s->tick_ev != NULL)
		event_free(s->tick_ev);
	if (s->http != NULL)
		evhttp_free(s->http); /* closes the listening socket once bound */
	if (!s->bound && s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->base != NULL)
		event_base_free(s->base);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	if (s->path[0] != '\0')
		unlink(s->path);
	free(s);
}
