/* async: asynchronous (Event) invocations: accepted durably, run by a dispatcher with Lambda's retry rules, and recorded when they fail for good.
 *
 * Contract:
 * - async_accept() takes an event and calls done(arg, 0) once it is on disk
 *   (evdb.h: synchronous=FULL): only then may the caller answer 202. The
 *   events accepted in one turn of the loop share one commit (group commit,
 *   at most ASYNC_BATCH_MAX each); done(arg, -errno) if the commit failed. It
 *   takes the payload (malloc'd) in every case. The request id is the
 *   caller's and stays the event's through every attempt, so a function can
 *   de-duplicate.
 * - The dispatcher runs queued events through the invoker, oldest first,
 *   at most opts.concurrency at a time (the rest of the pools' room is left
 *   to synchronous traffic), on the version the event named ($LATEST: the
 *   current one when it runs). An event runs on the loop and never blocks it.
 * - Lambda's retry rules: a function error (incl. a timeout or a crash) is
 *   one failed attempt; up to max_retries more attempts follow (default 2),
 *   after retry_base_s x the attempt number (default 60 s: about 1 min, then
 *   2 min). Throttles and emberd's own errors are not attempts: the event
 *   waits and runs again; a throttled function's other events wait with it
 *   (in memory: no disk write per throttle), and after emberd's own errors
 *   (a VM that did not start) an event waits twice as long each time, up to
 *   128 s. An event older than max_age_s (default 21600)
 *   when it would run, or out of attempts, goes to the failed record: the
 *   failed_events table and a line in $home/failed/<name>/events.jsonl
 *   ({"id", "requestId", "functionName", "qualifier", "condition":
 *   "RetriesExhausted" | "EventAgeExceeded", "attempts", "errorType",
 *   "errorMessage", "enqueuedAt", "failedAt", "requestPayload"}).
 * - Event invoke configs (PutFunctionEventInvokeConfig): per function name
 *   and qualifier; an event uses its qualifier's config.
 * - Recovery: async_new() loads the queue; events that were running when
 *   emberd died run again (the attempt that was cut is not counted).
 * - async_stop(): no event starts any more (events being accepted are
 *   still committed, and async_free() commits any left); outcomes of running events are
 *   still recorded (the invoker ending them at shutdown is emberd's error,
 *   not an attempt: they stay queued for the next start). async_running()
 *   counts the events still running.
 * Errors: negative errno (-EIO: the disk; the caller answers 500). Thread:
 * the loop thread only. */
#ifndef EMBER_API_ASYNC_H
#define EMBER_API_ASYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/async/evdb.h"

#define ASYNC_PAYLOAD_MAX	  1048576u /* Lambda's Event payload limit since 2025 */
#define ASYNC_DEFAULT_RETRIES	  2
#define ASYNC_DEFAULT_MAX_AGE_S	  21600
#define ASYNC_MIN_AGE_S		  60
#define ASYNC_DEFAULT_RETRY_BASE  60.0 /* seconds */
#define ASYNC_DEFAULT_CONCURRENCY 4
#define ASYNC_BATCH_MAX		  256 /* events per group commit */
#define ASYNC_FAILED_DIR	  "failed"
#define ASYNC_FAILED_FILE	  "events.jsonl"

struct event_base;
struct store;
struct invoker;
struct sqlite3;
struct async;

struct async_opts {
	struct event_base *base;
	struct store *store;
	struct invoker *invoker;
	struct sqlite3 *db; /* the store's connection */
	const char *home;
	double retry_base_s;  /* > 0 */
	unsigned concurrency; /* >= 1 */
};

struct async_stats {
	uint64_t queued; /* waiting (incl. waiting for a retry) */
	uint64_t running;
	double oldest_age_s; /* of the oldest queued or running event; 0 if none */
	uint64_t accepted, retries, failed, succeeded, throttled; /* since start */
};

int async_new(const struct async_opts *o, struct async **out);
void async_stop(struct async *a);
unsigned async_running(const struct async *a);
void async_free(struct async *a);

struct async_accept {
	const char *name, *qualifier, *request_id;
	uint8_t *payload; /* malloc'd; async takes it */
	size_t len;	  /* <= ASYNC_PAYLOAD_MAX */
	void (*done)(void *arg, int ret);
	void *arg;
};

/* 0: done() comes later, on the loop; -errno: it never comes (payload freed). */
int async_accept(struct async *a, const struct async_accept *acc);

/* The config for name:qualifier: 0, or -ENOENT when none was put. */
int async_config_get(struct async *a, const char *name, const char *qualifier,
		     struct evconfig *out);
/* Stamps last_modified; c holds the values to keep. */
int async_config_put(struct async *a, struct evconfig *c);
int async_config_delete(struct async *a, const char *name, const char *qualifier);
/* DeleteFunction: drops name's queue, failed record rows and configs. */
int async_forget(struct async *a, const char *name);

/* Failed events of name (id 0: all), oldest first. */
int async_failed_each(struct async *a, const char *name, int64_t id,
		      void (*cb)(void *arg, const struct evfailed *f), void *arg);
/* Queues failed event id of name again; *request_id gets its request id. */
int async_replay(struct async *a, const char *name, int64_t id, char request_id[UUID_STR_LEN + 1]);

void async_get_stats(const struct async *a, struct async_stats *out);

#endif
