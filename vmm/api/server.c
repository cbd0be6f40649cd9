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

static void send_json(struct evhttp_request *req, int status, const char *json)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	const char *reason = status == 200 ? "OK" : status == 204 ? "No Content" : "Bad Request";

	if (json != NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  "application/json");
		evbuffer_add(out, json, strlen(json));
	}
	evhttp_send_reply(req, status, reason, json != NULL ? out : NULL);
}

/* The reply to a request after which the process ends has left. */
static void on_last_reply(struct evhttp_request *req, void *opaque)
{
	struct api_server *s = opaque;

	(void)req;
	ctl_reply_sent(s->api->ctl);
}

static void on_request(struct evhttp_request *req, void *opaque)
{
	struct api_server *s = opaque;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	enum api_method method = API_OTHER;
	const char *name = "?";
	struct api_reply reply;
	struct evkeyval *kv;
	unsigned nhdrs = 0;
	size_t len = evbuffer_get_length(in);
	char *body;

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (methods[i].cmd == cmd) {
			method = methods[i].method;
			name = methods[i].name;
		}
	}
	TAILQ_FOREACH(kv, hdrs, next)
	nhdrs++;
	if (nhdrs > API_MAX_HEADERS) {
		send_json(req, 400, "{\"fault_message\":\"too many request headers\"}");
		return;
	}
	/* evhttp bounds len by API_MAX_BODY; +1 for the NUL the schema parser needs. */
	body = malloc(len + 1);
	if (body == NULL) {
		send_json(req, 400, "{\"fault_message\":\"out of memory\"}");
		return;
	}
	evbuffer_remove(in, body, len);
	body[len] = '\0';
	api_handle(s->api, method, name, path != NULL && path[0] != '\0' ? path : "/", body, len,
		   &reply);
	free(body);
	/* The time a VM action took (a snapshot of a big guest) is not the
	 * client's: restart the connection's deadline for sending the reply. */
	evhttp_connection_set_timeout(evhttp_request_get_connection(req), API_TIMEOUT_SECONDS);
	if (reply.last)
		evhttp_request_set_on_complete_cb(req, on_last_reply, s);
	if (reply.status != 204 && reply.body == NULL)
		send_json(req, 400, "{\"fault_message\":\"out of memory\"}");
	else
		send_json(req, reply.status, reply.body);
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
	evhttp_set_max_headers_size(s->http, API_MAX_HEADER_BYTES);
	evhttp_set_max_body_size(s->http, API_MAX_BODY);
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
