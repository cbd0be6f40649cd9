/* api: Firecracker's REST endpoints on ember-vmm: route table, state rules, and the actions they take.
 *
 * Contract:
 * - api_handle() serves one request that the HTTP layer (server.h) has
 *   already bounded: method, path (no query), and the body as a
 *   NUL-terminated string of body_len bytes (0: no body). It fills *out with
 *   the status (200, 204 or 400) and a malloc'd JSON body (NULL for 204),
 *   which the caller frees. Errors are {"fault_message": "..."} and name the
 *   field, the path or the state that was wrong.
 * - Every error body of the API is built in one place, here: api_handle()'s
 *   refusals and api_refuse(), which the HTTP layer calls for its own
 *   (header and body limits). If even that runs out of memory, the body is
 *   API_FAULT_OOM. Each refusal counts as an error in the metrics and is
 *   logged at info level.
 * - As in Firecracker, the request's shape is judged before its path: a GET
 *   with a body, and a PUT or PATCH without one, get 400 with API_MSG_*
 *   below, whatever the path.
 * - Routes are a table: method, path (exact, or a prefix ending in '/' with
 *   one id after it), the state it needs, and a handler. A path that is in
 *   the table with another method, or not at all, gets 400 "Invalid request
 *   method and/or path"; Firecracker endpoints ember lacks get 400 "not
 *   supported". "Pre" routes are refused once InstanceStart was accepted,
 *   "Post" routes before it (Firecracker's messages).
 * - FlushMetrics without PUT /metrics first does nothing and answers 204,
 *   as Firecracker does after InstanceStart.
 * - Request bodies go through schema.h; the files a config names are opened
 *   once here (kernel, initrd, drives) so a bad path fails at its PUT.
 * - Acting on the running VM goes through ctl_call() (control.h): the main
 *   thread runs it. Every request bumps its route's metrics counter.
 * Thread: the API thread only (one request at a time). */
#ifndef EMBER_API_H
#define EMBER_API_H

#include <stdbool.h>
#include <stddef.h>

#include "vmm/control.h"
#include "vmm/metrics.h"

/* Firecracker's words for refusals a Firecracker client may match on. */
#define API_MSG_AFTER_START  "The requested operation is not supported after starting the microVM."
#define API_MSG_BEFORE_START "The requested operation is not supported before starting the microVM."
#define API_MSG_GET_BODY     "GET request cannot have a body."
#define API_MSG_EMPTY_PUT    "Empty PUT request."
/* printf format: the body's size (size_t), then the limit (unsigned). */
#define API_MSG_BODY_TOO_BIG                                                                       \
	"Request payload with size %zu is larger than the limit of %u allowed by server."
/* The error body when building the real one ran out of memory. */
#define API_FAULT_OOM "{\"fault_message\":\"out of memory\"}"

enum api_method {
	API_GET,
	API_PUT,
	API_PATCH,
	API_OTHER, /* any other HTTP method: always refused */
};

struct api_reply {
	int status;
	char *body; /* malloc'd, or NULL */
	bool last;  /* the process ends after this reply: call ctl_reply_sent() once it is out */
};

struct api {
	struct ctl *ctl;
	struct metrics *metrics;
	const char *id; /* --id, Firecracker's instance id */
	bool logger_set;
	bool configured; /* a Pre configuration call succeeded */
	int log_fd;
};

/* The metrics names of the routes ("GET /", "PUT /machine-config", ...). */
extern const char *const api_route_names[];
extern const unsigned api_nroutes;

void api_init(struct api *api, struct ctl *ctl, struct metrics *m, const char *id);
void api_destroy(struct api *api);
void api_handle(struct api *api, enum api_method method, const char *method_name, const char *path,
		const char *body, size_t body_len, struct api_reply *out);
/* A refusal by the HTTP layer, before api_handle(): 400 with msg as the
 * fault_message (malloc'd body, or NULL if out of memory). */
void api_refuse(struct api *api, const char *method_name, const char *path, const char *msg,
		struct api_reply *out);
/* The periodic flush (METRICS_PERIOD_SECONDS), when metrics are configured. */
void api_flush_metrics(struct api *api);

#endif
