/* req: one Lambda API request from its arrival to its one reply: id, parsed path, body, query, and the reply helpers.
 *
 * Contract:
 * - lreq_new() wraps an evhttp request: a fresh x-amzn-RequestId (a UUID),
 *   the parsed query, and membership in the owner's list of requests not
 *   yet answered (so shutdown can release them).
 * - Exactly one reply per request: lreq_reply_json(), lreq_reply_raw(),
 *   lreq_reply_empty(), lreq_error() or lreq_fail(). Each sends the reply
 *   (always with x-amzn-RequestId; JSON bodies with Content-Type
 *   application/json) and frees r, so the caller must not touch r after.
 *   A request may wait (a worker, an invocation, a log watch) and reply
 *   later from a callback; evhttp keeps its side alive until then, even if
 *   the client has gone (the reply is then dropped).
 * - lreq_error() is the one place error replies are made (errors.h).
 * - lreq_release() frees r without replying (shutdown); r->cancel, if set,
 *   is called first so the operation can drop what it holds.
 * Thread: the loop thread. */
#ifndef EMBER_API_REQ_H
#define EMBER_API_REQ_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api/lambda/errors.h"
#include "api/lambda/names.h"
#include "api/store/uuid.h"

struct route;
struct lreq;

struct lreq_list {
	struct lreq *head;
};

struct lreq {
	struct lreq_list *list;
	struct lreq *prev, *next;
	void *ctx; /* the server's context (struct lambda) */
	struct evhttp_request *req;
	char id[UUID_STR_LEN + 1];
	const char *method;
	const struct route *route;
	bool has_name;
	struct fname fn; /* from the path, when the route has {name} */
	char *body;	 /* NUL-terminated copy; body_len bytes before the NUL */
	size_t body_len;
	struct evkeyvalq query;
	bool bad_query; /* the query string did not parse (query is then empty) */
	void *op;	/* the operation's own state while the request waits */
	void (*cancel)(struct lreq *r);
};

int lreq_new(struct lreq_list *list, void *ctx, struct evhttp_request *req, struct lreq **out);
void lreq_release(struct lreq *r);
void lreq_release_all(struct lreq_list *list);

const char *lreq_query(struct lreq *r, const char *key);
const char *lreq_header(struct lreq *r, const char *key);
void lreq_add_header(struct lreq *r, const char *key, const char *value);

void lreq_reply_json(struct lreq *r, int status, cJSON *json);
void lreq_reply_raw(struct lreq *r, int status, const char *content_type, const void *body,
		    size_t len);
void lreq_reply_empty(struct lreq *r, int status);
/* len bytes of fd from its start, sent from the file (fd is the reply's now). */
void lreq_reply_file(struct lreq *r, int status, const char *content_type, int fd, off_t len);
void lreq_error(struct lreq *r, enum lexc e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void lreq_fail(struct lreq *r, const struct lerror *err);
/* TooManyRequestsException with its Reason. */
void lreq_throttle(struct lreq *r, const char *reason, const char *msg);

#endif
