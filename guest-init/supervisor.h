/* supervisor: the runtime's life: INIT, starting the bootstrap, init errors, its exit, restarts.
 *
 * Contract (what the host hears, lambda-api.md §5 and §6; `inflight` is the
 * invocation in flight, inflight.h):
 * - INIT (supervisor_init): mounts the world and builds the environment
 *   (world.h), then starts the bootstrap. A second INIT gets INIT_ERROR
 *   Ember.AlreadyInitialized, a mount failure Ember.MountFailed.
 * - A bootstrap that cannot be started: Runtime.InvalidEntrypoint, with
 *   Lambda's messages: "Couldn't find valid bootstrap(s): [<paths searched>]"
 *   when there is none, else "fork/exec <path>: <reason>" ("permission
 *   denied", "exec format error", ...).
 * - Init failures: the runtime posts /runtime/init/error (its body and error
 *   type are passed on), or ends before its first /next (Runtime.ExitError,
 *   "Runtime exited with error: exit status N", "... signal: killed", or
 *   "Runtime exited without providing a reason" for status 0), or cannot be
 *   started. With no invocation pending the host hears INIT_ERROR (req_id 0);
 *   when an invocation waits on this init, that invocation fails with ERROR
 *   instead, the message prefixed "RequestId: <id> Error: " for our own
 *   errors. Then no runtime runs (one that posted /init/error is ended at its
 *   next /next, which gets 500) until the next INVOKE, which starts init
 *   again, as Lambda does after a failed init.
 * - Exit with an invocation delivered: ERROR Runtime.ExitError "RequestId:
 *   <id> Error: <as above>", then the bootstrap restarts at once (its init's
 *   LOG lines carry req_id 0). Exit after init with nothing delivered: the
 *   bootstrap restarts at once, silently.
 * - After any of these ember-init keeps serving: the link, the Runtime API
 *   and the next INVOKE work as before.
 * The owner owns the struct supervisor; the invocation state and the link
 * are given to each call that may end an invocation or send a frame.
 * supervisor_exit_text() and supervisor_entrypoint_text() are pure. Event
 * loop thread only. */
#ifndef EMBER_SUPERVISOR_H
#define EMBER_SUPERVISOR_H

#include "guest-init/bootstrap.h"
#include "lib/gproto/gproto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event;
struct event_base;
struct inflight;
struct link;

struct supervisor {
	struct bootstrap boot;
	struct event *sigchld; /* reaps the bootstrap and orphans (PID 1) */
	unsigned tmp_mib;      /* the function's /tmp (cmdline.h) */
	char **envp;	       /* from INIT (world_env_build) */
	char runtime[GPROTO_NAME_MAX + 1];
	bool mounted;	  /* world_mount() succeeded (it is done once) */
	bool inited;	  /* INIT went through; the bootstrap can be started */
	bool ready_once;  /* this bootstrap reached /next: its init is done */
	bool init_failed; /* this bootstrap posted /init/error */
};

/* bootstrap ops/ctx: where the bootstrap's output and exit go (bootstrap.h).
 * Also watches SIGCHLD in `base` (without it children are not reaped: logged). */
int supervisor_setup(struct supervisor *s, struct event_base *base, const struct bootstrap_ops *ops,
		     void *ctx, unsigned tmp_mib);
void supervisor_init(struct supervisor *s, struct inflight *f, struct link *k,
		     const struct gproto_init *in);
bool supervisor_inited(const struct supervisor *s);
/* An invocation is pending and no /next waits: start a runtime if none
 * runs, or end one whose init failed (its exit starts a fresh one). */
void supervisor_wanted(struct supervisor *s, struct inflight *f, struct link *k);
/* The runtime calls /next: 0 if it may wait for an invocation (its init is
 * then done), -EPERM before INIT, -EPIPE after its /init/error (it is ended). */
int supervisor_next(struct supervisor *s);
/* /runtime/init/error: 0, -EPERM (not in init), -EMSGSIZE (body too large). */
int supervisor_init_error(struct supervisor *s, struct inflight *f, struct link *k,
			  const char *type, const uint8_t *body, size_t len);
/* The bootstrap ended with wait status `status` (bootstrap_ops.exited). */
void supervisor_exited(struct supervisor *s, struct inflight *f, struct link *k, int status);

/* Lambda's text for a runtime's wait status (see above), in buf. */
void supervisor_exit_text(int status, char *buf, size_t len);
/* Lambda's Runtime.InvalidEntrypoint text for bootstrap_start()'s error
 * `err` (negative errno) on `path`; `found`: path exists in the root;
 * `searched`: the paths looked at, space-separated. */
void supervisor_entrypoint_text(const char *path, const char *searched, bool found, int err,
				char *buf, size_t len);

#endif
