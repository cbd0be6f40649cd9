/* invoke: the invoker, emberd's data plane: runs one invocation on an instance of its function and reports the outcome.
 *
 * This header is the contract between the Lambda API layer (api/lambda/,
 * which calls it) and the instance pools (api/pool/, api/invoke/, which
 * implement it). Everything runs on emberd's one libevent loop: no call here
 * blocks, and every callback comes back on the loop thread.
 *
 * Contract:
 * - invoker_new() takes the loop and the host's settings; nothing starts
 *   until the first invocation (pools are created on demand, per fn->key).
 * - invoker_submit() takes one synchronous invocation. It returns 0 and later
 *   calls req->done exactly once, or returns a negative errno and never calls
 *   it (-EINVAL for a bad request). Throttling is an outcome, not an error:
 *   done() reports INVOKE_THROTTLED. The invoker keeps its own reference to
 *   req->fn; the payload and strings are copied before submit returns.
 * - The request id is the caller's (the API's x-amzn-RequestId), so the id the
 *   function sees, the REPORT line and the HTTP response all match.
 * - Function errors (the runtime's /error, an init error, a timeout, a crash
 *   of the runtime or of the VM) are INVOKE_FUNCTION_ERROR with Lambda's error
 *   JSON in body: {"errorType":"Sandbox.Timedout","errorMessage":"RequestId:
 *   <id> Error: Task timed out after 3.00 seconds"}, Runtime.ExitError, ...
 *   A VM that died is replaced; the invocation that was on it fails.
 * - invoker_drain(): instances of `name`, of `version` (NULL: any), whose
 *   fn->key differs from current_key (NULL: every one) finish what they run
 *   and stop (an update of $LATEST drains $LATEST's, never a published
 *   version's);
 *   new invocations (which carry the new fn) start new instances.
 *   invoker_forget(): also stops idle ones at once and deletes name's
 *   snapshots (DeleteFunction).
 * - invoker_set_concurrency(): reserved concurrency for a function name
 *   (UINT32_MAX: none). Applies to new invocations.
 * Errors: negative errno. Thread: the loop thread only. */
#ifndef EMBER_API_INVOKE_H
#define EMBER_API_INVOKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/pool/phases.h"
#include "api/store/fn.h"

struct event_base;
struct metrics;

#define INVOKE_PAYLOAD_MAX 6291456u /* Lambda's synchronous request limit */
#define INVOKE_TAIL_BYTES  4096u    /* X-Amz-Log-Result: the last 4 KiB of the log */

struct pool_jail;

struct invoker_opts {
	const char *home;	      /* $EMBER_HOME: run/, snapshots/, logs/ live here */
	const char *vmm_path;	      /* ember-vmm */
	const char *kernel_path;      /* the guest kernel (vmlinux) */
	const char *initrd_path;      /* the product initramfs (ember-init) */
	const char *guest_args;	      /* appended to the guest command line, or NULL */
	uint64_t memory_budget_mib;   /* instances x (MemorySize + overhead) must fit */
	unsigned keep_warm_s;	      /* idle instances are stopped after this */
	bool snapstart;		      /* snapshot the first ready instance of each version */
	bool standby;		      /* a VMM spawned ahead per snapshot (pool.h) */
	struct metrics *metrics;      /* every outcome and start is counted here; may be NULL */
	const struct pool_jail *jail; /* NULL: every instance jailed, defaults (pool.h) */
};

enum invoke_outcome {
	INVOKE_OK,	       /* body = the function's result */
	INVOKE_FUNCTION_ERROR, /* body = the error JSON; X-Amz-Function-Error: Unhandled */
	INVOKE_THROTTLED,      /* 429 TooManyRequestsException; reason says which limit */
	INVOKE_SERVICE_ERROR,  /* 500 ServiceException; body is a message */
};

enum invoke_start {
	INVOKE_START_WARM,
	INVOKE_START_COLD,
	INVOKE_START_RESTORE,
};

struct invoke_result {
	enum invoke_outcome outcome;
	const uint8_t *body; /* valid during done() only */
	size_t body_len;
	const char *reason; /* THROTTLED: "ReservedFunctionConcurrentInvocationLimitExceeded" or
			     * "ConcurrentInvocationLimitExceeded"; else NULL */
	const char *tail;   /* with req->want_tail: the last INVOKE_TAIL_BYTES of this
			     * invocation's log (START ... REPORT), NUL-terminated; else NULL */
	enum invoke_start start;
	const struct pool_phases *phases; /* a cold or restore start's; NULL when warm */
	double duration_ms;		  /* the function's run, as in REPORT */
};

struct invoke_req {
	struct fn *fn;		 /* the version to run (the invoker takes its own reference) */
	const char *request_id;	 /* a UUID */
	const char *invoked_arn; /* as the caller named it (qualified or not) */
	const uint8_t *payload;	 /* <= INVOKE_PAYLOAD_MAX, already checked to be JSON */
	size_t payload_len;
	const char *client_context; /* decoded X-Amz-Client-Context, or NULL */
	bool want_tail;		    /* X-Amz-Log-Type: Tail */
	bool event;		    /* the event dispatcher's: a throttle is not counted
				     * (the event waits and runs later; that counts) */
	void (*done)(void *arg, const struct invoke_result *res);
	void *arg;
};

/* What `ember status` shows: one row per pool (fn key), then totals. */
struct invoker_pool_status {
	const char *name, *version, *key;
	unsigned starting, idle, busy, draining; /* instances by state */
	unsigned standby;			 /* VMMs spawned ahead (pool.h) */
	bool has_snapshot;
	uint64_t memory_mib; /* reserved by this pool's instances */
};

struct invoker;

int invoker_new(struct event_base *base, const struct invoker_opts *opts, struct invoker **out);
/* Stops every instance (SIGKILL after a short grace) and frees everything. */
void invoker_free(struct invoker *inv);

int invoker_submit(struct invoker *inv, const struct invoke_req *req);
void invoker_drain(struct invoker *inv, const char *name, const char *version,
		   const char *current_key);
/* Invocations submitted and not yet done (sync and async). */
unsigned invoker_active(const struct invoker *inv);
/* cb runs on the loop once no invocation is active (soon, if none is now),
 * and again each time the count falls to 0; cb NULL cancels. For a drain. */
int invoker_when_idle(struct invoker *inv, void (*cb)(void *arg), void *arg);
void invoker_forget(struct invoker *inv, const char *name);
void invoker_set_concurrency(struct invoker *inv, const char *name, uint32_t reserved);
/* pool_prestage(): a function's runtime image copied for the jails now, off
 * the loop (at start for stored functions, on create and configuration). */
void invoker_prestage(struct invoker *inv, const char *path);
/* pool_stop_idle(): stops name's idle instances; drop_snapshot: the next start is cold. */
unsigned invoker_stop_idle(struct invoker *inv, const char *name, bool drop_snapshot);

/* Logs. Each function's log is the file $EMBER_HOME/logs/<name>/current.log
 * (START, the function's lines, END, REPORT), rotated by size to .1, .2, ...
 * invoker_log_watch() calls cb once, on the loop, when name's current log is
 * written to next (or rotated), and then the watch is gone. Before that,
 * invoker_log_unwatch() cancels it (say, when the client hung up). NULL if
 * out of memory. */
struct invoker_log_watch;
struct invoker_log_watch *invoker_log_watch(struct invoker *inv, const char *name,
					    void (*cb)(void *arg), void *arg);
void invoker_log_unwatch(struct invoker_log_watch *w);

/* SnapStart since start: snapshots stored, versions that fell back to cold starts. */
void invoker_snapshot_counts(struct invoker *inv, uint64_t *taken, uint64_t *fallbacks);

void invoker_status(struct invoker *inv,
		    void (*each)(void *arg, const struct invoker_pool_status *st), void *arg,
		    uint64_t *memory_used_mib, uint64_t *memory_budget_mib);

#endif
