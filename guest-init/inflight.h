/* inflight: the invocation in flight, from INVOKE to the runtime's /next and back to the host.
 *
 * Contract:
 * - One invocation at a time, as on Lambda. inflight_invoke() copies an
 *   INVOKE (its frame's buffer is reused) and hands it to the /next call
 *   that waits, if one does; otherwise it stays pending until the next
 *   /next (the caller then makes sure a runtime comes, supervisor.h). An
 *   INVOKE while another is in flight gets ERROR Ember.Busy; a copy that
 *   fails gets ERROR Ember.OutOfMemory.
 * - /next: inflight_next() holds the request (the runtime blocks in it, with
 *   no timeout) and answers it with the pending invocation at once or when
 *   one arrives; a runtime that waits with nothing pending makes the host
 *   hear READY (again on every new host connection, inflight_connected()).
 *   A second /next while one is held, or while the runtime owns an
 *   invocation, is -EPERM (403). When the held request's client goes away,
 *   inflight_next_gone() forgets it.
 * - Every invocation ends exactly once, with STATS (peak memory of the
 *   sandbox's processes since delivery) and then RESULT or ERROR, all with
 *   the host's req_id: inflight_finish() for the runtime's /response and
 *   /error (matched on the request id: another id is -ENOENT, a body over
 *   GPROTO_RESULT_MAX ends the invocation with Function.ResponseSizeTooLarge
 *   and is -EMSGSIZE), inflight_fail() and inflight_fail_with() for
 *   failures the supervisor sees (the runtime's exit, a failed init).
 *   Output the bootstrap wrote before the call is read first
 *   (bootstrap_drain), so its LOG frames come before the invocation's end.
 * - The owner owns the struct inflight; the link (link.h) and the bootstrap
 *   are given to the functions that send or read. Event loop thread only. */
#ifndef EMBER_INFLIGHT_H
#define EMBER_INFLIGHT_H

#include "lib/gproto/gproto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bootstrap;
struct evhttp_request;
struct link;
struct rapi;

/* One invocation, copied out of its INVOKE frame. */
struct invocation {
	uint64_t req_id; /* the host's, echoed in every frame of this invocation */
	char request_id[GPROTO_REQUEST_ID_MAX + 1];
	uint64_t deadline_ms;
	char *arn, *trace, *client_context, *cognito;
	uint8_t *payload;
	size_t len;
	bool delivered; /* handed to /next: the runtime works on it */
};

struct inflight {
	struct rapi *api;	     /* answers the held /next */
	struct invocation *cur;	     /* NULL: none */
	struct evhttp_request *held; /* the /next call waiting for an invocation */
};

void inflight_setup(struct inflight *f, struct rapi *api);
/* 1 if handed to the waiting /next, 0 if pending (no /next waits), or
 * -EBUSY/-ENOMEM after answering the host with ERROR. */
int inflight_invoke(struct inflight *f, struct link *k, uint64_t req_id,
		    const struct gproto_invoke *in);
int inflight_next(struct inflight *f, struct link *k, struct evhttp_request *req);
void inflight_next_gone(struct inflight *f, struct evhttp_request *req);
/* The runtime is gone: answer a held /next (500) so evhttp lets it go. */
void inflight_release_next(struct inflight *f);
void inflight_connected(struct inflight *f, struct link *k);
/* /response (is_error false) or /error of request `id`. */
int inflight_finish(struct inflight *f, struct link *k, struct bootstrap *b, const char *id,
		    const char *etype, const uint8_t *body, size_t len, bool is_error);
/* Ends the invocation with ERROR {"errorType":etype, "errorMessage":
 * "RequestId: <id> Error: <text>"} (Lambda's wording for platform errors). */
void inflight_fail(struct inflight *f, struct link *k, const char *etype, const char *text);
/* Ends the invocation with ERROR carrying the runtime's own error. */
void inflight_fail_with(struct inflight *f, struct link *k, const char *etype, const uint8_t *body,
			size_t len);
/* An invocation exists (pending or delivered). */
bool inflight_busy(const struct inflight *f);
/* The runtime has the invocation (it came out of /next). */
bool inflight_delivered(const struct inflight *f);
/* req_id for the function's LOG lines: the invocation's, or 0. */
uint64_t inflight_req_id(const struct inflight *f);

#endif
