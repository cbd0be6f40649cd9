/* runtime_api: the AWS Lambda Runtime API (2018-06-01) on 127.0.0.1:9001, over libevent's evhttp.
 *
 * Contract:
 * - Routes (everything else is 404, a wrong method 405):
 *     GET  /2018-06-01/runtime/invocation/next
 *     POST /2018-06-01/runtime/invocation/{id}/response
 *     POST /2018-06-01/runtime/invocation/{id}/error
 *     POST /2018-06-01/runtime/init/error
 *   {id} must be 1..GPROTO_REQUEST_ID_MAX bytes of [A-Za-z0-9._-] (else 400).
 * - rapi_ops decide; this module maps their result to Lambda's answers:
 *   0 -> 202 {"status":"OK"}; -ENOENT -> 400 InvalidRequestID; -EPERM -> 403
 *   InvalidStateTransition; -EMSGSIZE -> 413 RequestEntityTooLarge; -EPIPE ->
 *   500 Runtime.ExitError (the runtime must exit); any other error -> 500
 *   ServiceException. `next` returning 0 takes
 *   the request: the owner answers it later with rapi_send_event() (the
 *   /next call blocks until then, with no timeout, as on Lambda). If that
 *   client goes away first, ops->next_gone says so, and the request must not
 *   be touched again.
 * - Bounds: request bodies up to RAPI_BODY_MAX bytes reach the ops (which
 *   answer 413 above GPROTO_RESULT_MAX, as Lambda does); larger ones get
 *   evhttp's own 413 and never reach them. Header blocks up to
 *   RAPI_HEADERS_MAX bytes (the X-Ray error cause header can be several KB).
 * - Connections: PID 1's descriptors are what a function could exhaust by
 *   opening connections and holding them. While PID 1 holds more than half
 *   of its RLIMIT_NOFILE soft limit (rapi_fds_cap()), the listener stops
 *   accepting: a new connection waits in the kernel's backlog, where it costs
 *   PID 1 nothing, and the listener looks again every RAPI_RESUME_MS. An
 *   accept() that fails for lack of descriptors (EMFILE, ENFILE, ENOBUFS,
 *   ENOMEM) pauses it the same way instead of retrying at once (the pending
 *   connection would wake the loop for ever: a busy loop). The other half of
 *   the descriptors stays for the host link, the bootstrap's pipes and /proc.
 * - Error-type headers are passed on only if they are valid gproto hdrstrs
 *   of at most GPROTO_ERROR_TYPE_MAX bytes; otherwise as absent ("").
 * - State: the owner owns the struct rapi (ops, the evhttp server, the /next
 *   request ops->next took) and gives it to each call. rapi_parse(),
 *   rapi_error_type() and rapi_answer() are pure: the route checks and the
 *   answers, testable without a socket.
 * Event loop thread only. */
#ifndef EMBER_RUNTIME_API_H
#define EMBER_RUNTIME_API_H

#include "lib/gproto/gproto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event;
struct event_base;
struct evconnlistener;
struct evhttp;
struct evhttp_request;

#define RAPI_ADDR	 "127.0.0.1"
#define RAPI_PORT	 9001
#define RAPI_BODY_MAX	 (16u << 20)
#define RAPI_HEADERS_MAX (64u << 10)
#define RAPI_RESUME_MS	 100u

struct rapi_ops {
	int (*next)(void *ctx, struct evhttp_request *req);
	void (*next_gone)(void *ctx, struct evhttp_request *req);
	int (*response)(void *ctx, const char *id, const uint8_t *body, size_t len);
	int (*error)(void *ctx, const char *id, const char *type, const uint8_t *body, size_t len);
	int (*init_error)(void *ctx, const char *type, const uint8_t *body, size_t len);
};

struct rapi {
	struct evhttp *http;
	struct evconnlistener *listener;
	struct event *resume; /* re-enables a paused listener */
	bool paused;
	unsigned pauses;	/* times the listener was paused (tests read these) */
	unsigned accept_errors; /* accept() failures libevent did not retry */
	const struct rapi_ops *ops;
	void *ctx;
	/* The /next request ops->next took, whose connection is watched so that
	 * ops->next_gone can say when its client leaves. The ops hold at most
	 * one at a time (inflight.h); a later one would replace it. */
	struct evhttp_request *taken;
};

/* What a /next answer carries. Empty strings are left out of the headers. */
struct rapi_event {
	const char *request_id;
	uint64_t deadline_ms;
	const char *invoked_arn, *trace_id, *client_context, *cognito_identity;
	const uint8_t *payload;
	size_t len;
};

enum rapi_method { RAPI_GET, RAPI_POST, RAPI_OTHER };
enum rapi_route { RAPI_NEXT, RAPI_RESPONSE, RAPI_ERROR, RAPI_INIT_ERROR };

/* A request's route, from its method and path alone. */
struct rapi_call {
	enum rapi_route route;
	char id[GPROTO_REQUEST_ID_MAX + 1]; /* RAPI_RESPONSE, RAPI_ERROR */
};

/* An answer: HTTP status, reason phrase, JSON body. */
struct rapi_answer {
	int code;
	const char *reason, *body;
};

/* Binds RAPI_ADDR:RAPI_PORT. Returns 0 (api filled in), or -errno. */
int rapi_start(struct rapi *api, struct event_base *base, const struct rapi_ops *ops, void *ctx);
/* Serves on `fd`, a listening socket (rapi_start's, or a test's); takes it
 * (closed on failure). One server per process: the listener's error callback
 * finds it through a file-level pointer (libevent hands it the evhttp). */
int rapi_serve(struct rapi *api, struct event_base *base, const struct rapi_ops *ops, void *ctx,
	       int fd);
/* Stops serving: frees the server, its listener and its open connections. */
void rapi_stop(struct rapi *api);
/* The number of descriptors above which PID 1 stops accepting (see above). */
unsigned rapi_fds_cap(void);
/* The number of descriptors this process holds (a /proc/self/fd scan);
 * UINT_MAX when it cannot look (no descriptor left for the scan). */
unsigned rapi_fds_open(void);
/* Answers a /next request taken by ops->next. */
void rapi_send_event(struct rapi *api, struct evhttp_request *req, const struct rapi_event *ev);
/* Answers a taken /next request with an error status (see the mapping above). */
void rapi_send_status(struct rapi *api, struct evhttp_request *req, int status);

/* Checks a request line: 0 and *call, or the HTTP status that refuses it:
 * 404 (no such route), 405 (wrong method), 400 (a bad {id}; its answer is
 * rapi_answer(-ENOENT)). */
int rapi_parse(enum rapi_method method, const char *path, struct rapi_call *call);
/* The Lambda-Runtime-Function-Error-Type header value to pass on: the value
 * itself if gproto can carry it, else "" (also for NULL). */
const char *rapi_error_type(const char *value);
/* The answer for an op's result (0 or -errno, mapping above). */
void rapi_answer(int status, struct rapi_answer *a);

#endif
