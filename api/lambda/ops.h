/* ops: the Lambda API's operations (one handler per route) and the state they share.
 *
 * Contract:
 * - Each handler gets a request whose route matched, whose body fits the
 *   route's body_max, and whose {name} (if the route has one) parsed
 *   (r->fn). It replies exactly once (req.h), now or later.
 * - struct lambda is the server's state: the store, the invoker, the
 *   worker pool, and the set of functions that have a change on a worker
 *   (ops_busy_*): while a function is busy, other changes to it answer 409
 *   ResourceConflictException, as Lambda does during an update.
 * - ops_find() resolves r->fn (and ?Qualifier) to a version, or replies
 *   404 ResourceNotFoundException / 400 and returns NULL.
 * Thread: the loop thread. */
#ifndef EMBER_API_OPS_H
#define EMBER_API_OPS_H

#include <limits.h>
#include <stdbool.h>

#include "api/invoke/invoke.h"
#include "api/lambda/req.h"
#include "api/store/store.h"
#include "api/work/work.h"

struct event_base;
struct evhttp;
struct evhttp_bound_socket;
struct async;
struct metrics;

#define LAMBDA_LISTENERS_MAX 4

struct busy {
	char name[FN_NAME_MAX + 1];
	struct busy *next;
};

struct lambda {
	struct event_base *base;
	struct evhttp *http;
	struct store *store;
	struct invoker *inv;
	struct async *async; /* NULL: Event invocations answer 500 */
	struct metrics *metrics;
	struct work_pool *work;
	const struct runtimes *rt;
	char home[PATH_MAX];
	char intake[PATH_MAX];
	struct lreq_list live;
	struct busy *busy;
	bool stopping; /* lambda_stop(): new requests answer 500 */
	struct evhttp_bound_socket *bound[LAMBDA_LISTENERS_MAX];
	unsigned nbound;
	char unix_path[PATH_MAX];
};

/* Functions and versions (ops_functions.c). */
void op_get_function(struct lreq *r);
void op_get_configuration(struct lreq *r);
void op_list_functions(struct lreq *r);
void op_update_configuration(struct lreq *r);
void op_delete_function(struct lreq *r);
void op_publish_version(struct lreq *r);
void op_list_versions(struct lreq *r);
/* Code: create and update through the worker pool (ops_code.c). */
void op_create_function(struct lreq *r);
void op_update_code(struct lreq *r);
/* Invoke (ops_invoke.c). ops_invoke_abort_all(): every Invoke still
 * waiting for its invocation gets 500 ServiceException now (a drain that
 * timed out); the invocations end later, unanswered. */
void op_invoke(struct lreq *r);
void ops_invoke_abort_all(struct lambda *l);
/* Event invocations and their configs, the failed record (ops_async.c). */
void ops_invoke_event(struct lreq *r, const struct fn *f);
void op_put_event_config(struct lreq *r);
void op_update_event_config(struct lreq *r);
void op_get_event_config(struct lreq *r);
void op_delete_event_config(struct lreq *r);
void op_ember_failed(struct lreq *r);
void op_ember_replay(struct lreq *r);
/* Concurrency and account (ops_account.c). */
void op_put_concurrency(struct lreq *r);
void op_get_concurrency(struct lreq *r);
void op_delete_concurrency(struct lreq *r);
void op_account_settings(struct lreq *r);
/* ember's own, for the CLI (ops_ember.c). */
void op_ember_status(struct lreq *r);
void op_ember_logs(struct lreq *r);
void op_get_code(struct lreq *r);
/* GetFunction's Code.Location for f (ops_code.c), "" when no zip is kept. */
void ops_code_location(struct lreq *r, const struct fn *f, char *out, size_t cap);
void op_ember_stop_idle(struct lreq *r);
/* GET /metrics, Prometheus text (ops_metrics.c). */
void op_metrics(struct lreq *r);

/* Shared helpers (ops_common.c). */
struct lambda *ops_lambda(struct lreq *r);
bool ops_busy(struct lambda *l, const char *name);
int ops_busy_add(struct lambda *l, const char *name);
void ops_busy_remove(struct lambda *l, const char *name);
/* 409 "update in progress" if name is busy; true if it replied. */
bool ops_refuse_if_busy(struct lreq *r, const char *name);
/* The function named in the path (404 if absent); NULL after replying. */
const struct store_func *ops_func(struct lreq *r);
/* The version the path and ?Qualifier name ($LATEST if neither); NULL after
 * replying. latest_in_msg: a 404 names ":$LATEST" when no qualifier was
 * given (Invoke's message does). */
struct fn *ops_find(struct lreq *r, const struct store_func **sf_out, bool latest_in_msg);
/* The ARN shown in "Function not found" messages. */
void ops_arn(struct lreq *r, const char *name, const char *qualifier, char *out, size_t cap);
/* Parses the body as a JSON object; NULL after replying. */
cJSON *ops_body(struct lreq *r);

#endif
