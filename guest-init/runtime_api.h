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
 *   500 Runtime.ExitError (the runtime must exit). `next` returning 0 takes
 *   the request: the owner answers it later with rapi_send_event() (the
 *   /next call blocks until then, with no timeout, as on Lambda). If that
 *   client goes away first, ops->next_gone says so, and the request must not
 *   be touched again.
 * - Bounds: request bodies up to RAPI_BODY_MAX bytes reach the ops (which
 *   answer 413 above GPROTO_RESULT_MAX, as Lambda does); larger ones get
 *   evhttp's own 413 and never reach them. Header blocks up to
 *   RAPI_HEADERS_MAX bytes (the X-Ray error cause header can be several KB).
 * - Error-type headers are passed on only if they are valid gproto hdrstrs
 *   of at most GPROTO_ERROR_TYPE_MAX bytes; otherwise as absent ("").
 * Event loop thread only. */
#ifndef EMBER_RUNTIME_API_H
#define EMBER_RUNTIME_API_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evhttp;
struct evhttp_request;

#define RAPI_ADDR	 "127.0.0.1"
#define RAPI_PORT	 9001
#define RAPI_BODY_MAX	 (16u << 20)
#define RAPI_HEADERS_MAX (64u << 10)

struct rapi_ops {
	int (*next)(void *ctx, struct evhttp_request *req);
	void (*next_gone)(void *ctx, struct evhttp_request *req);
	int (*response)(void *ctx, const char *id, const uint8_t *body, size_t len);
	int (*error)(void *ctx, const char *id, const char *type, const uint8_t *body, size_t len);
	int (*init_error)(void *ctx, const char *type, const uint8_t *body, size_t len);
};

/* What a /next answer carries. Empty strings are left out of the headers. */
struct rapi_event {
	const char *request_id;
	uint64_t deadline_ms;
	const char *invoked_arn, *trace_id, *client_context, *cognito_identity;
	const uint8_t *payload;
	size_t len;
};

/* Binds RAPI_ADDR:RAPI_PORT. Returns 0 and *out, or -errno. */
int rapi_start(struct event_base *base, const struct rapi_ops *ops, void *ctx, struct evhttp **out);
/* Answers a /next request taken by ops->next. */
void rapi_send_event(struct evhttp_request *req, const struct rapi_event *ev);
/* Answers a taken /next request with an error status (see the mapping above). */
void rapi_send_status(struct evhttp_request *req, int status);

#endif
