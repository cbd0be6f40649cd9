/* lambda: emberd's HTTP front: the AWS Lambda REST API (2015-03-31) and ember's /ember routes, with evhttp on one loop.
 *
 * Contract:
 * - lambda_new() sets up one evhttp server on the caller's loop, bounded:
 *   request headers LAMBDA_HEADERS_MAX bytes, a body of at most the
 *   largest route limit (CreateFunction's 70167211 bytes; a larger one is
 *   drained and refused by evhttp with 413), each route's own limit
 *   checked before its handler runs (Invoke: 6291456 bytes, 413
 *   RequestEntityTooLargeException), LAMBDA_IO_TIMEOUT_S to send a
 *   request. Chunked request bodies are accepted.
 * - lambda_listen_unix() serves it on a Unix socket, created with mode
 *   0600 (a stale socket is replaced, a live one refused: uds.h).
 *   lambda_listen_tcp() serves it on host:port (port 0: any free port) and
 *   writes the bound "host:port" into bound. Both may be called; both serve
 *   every route. Neither checks who may connect: the caller chooses where
 *   to listen.
 * - Every request is answered with Lambda's shapes (ops.h, req.h).
 * - lambda_stop() closes the listeners (and unlinks the socket); requests
 *   in flight are still answered while the loop runs, and new requests on
 *   connections already open get 500 ServiceException "emberd is stopping". lambda_free()
 *   releases the requests still waiting, unanswered, and frees the server.
 *   Call it while the invoker still exists (a waiting request may hold one
 *   of its log watches), and before freeing the worker pool and the
 *   invoker: their callbacks for released requests then drop them.
 * The store, invoker and worker pool stay the caller's.
 * Errors: negative errno, logged. Thread: the loop thread. */
#ifndef EMBER_API_LAMBDA_H
#define EMBER_API_LAMBDA_H

#include <stddef.h>
#include <stdint.h>

#define LAMBDA_HEADERS_MAX  32768
#define LAMBDA_IO_TIMEOUT_S 120
#define LAMBDA_BACKLOG	    128

struct event_base;
struct store;
struct invoker;
struct async;
struct metrics;
struct work_pool;
struct runtimes;
struct lambda;

struct lambda_opts {
	struct event_base *base;
	struct store *store;
	struct invoker *invoker;
	struct async *async;	 /* may be NULL */
	struct metrics *metrics; /* GET /metrics; may be NULL */
	struct work_pool *work;
	const struct runtimes *runtimes;
	const char *home;   /* $EMBER_HOME: logs/ (the invoker writes them) and tmp/ */
	const char *intake; /* the ember-intake program (api/code/intake.h) */
};

int lambda_new(const struct lambda_opts *o, struct lambda **out);
int lambda_listen_unix(struct lambda *l, const char *path);
int lambda_listen_tcp(struct lambda *l, const char *host, uint16_t port, char *bound, size_t cap);
void lambda_stop(struct lambda *l);
/* A drain that timed out: each Invoke still waiting for its function gets
 * 500 ServiceException now, while the loop can still send it. */
void lambda_abort_invocations(struct lambda *l);
void lambda_free(struct lambda *l);

#endif
