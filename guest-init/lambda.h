/* lambda: ember-init's Lambda mode, the guest side of the guest protocol (gproto.h).
 *
 * Contract:
 * - lambda_run() never returns. It listens on vsock port GPROTO_PORT
 *   (VMADDR_CID_ANY) and on the Runtime API (runtime_api.h), and runs one
 *   libevent loop for both, the bootstrap's output and SIGCHLD.
 * - Host connections: one at a time; a new one replaces the current one (so
 *   a host that reconnects, e.g. after a snapshot restore, always gets in).
 *   A malformed frame, or a frame a guest never accepts, is logged and
 *   closes that connection only; the listening socket stays. Frames queued
 *   for a connection that closes are dropped; bootstrap output produced
 *   while no host is connected goes to the console instead.
 * - Messages: INIT mounts the world (world.h), builds the environment and
 *   starts the bootstrap (a second INIT gets INIT_ERROR Ember.AlreadyInitialized).
 *   READY is sent whenever the runtime waits in /next with no invocation
 *   pending (the first /next, and each /next after a result), and again when
 *   a host connects while the runtime waits. INVOKE is handed to the waiting
 *   /next (or to the next /next); an INVOKE while another is in flight gets
 *   ERROR Ember.Busy. Each invocation ends with STATS then RESULT or ERROR.
 *   RESTORE credits entropy, sets the clock and stores the instance id.
 *   PING gets PONG.
 * - Bootstrap exit: during an invocation, ERROR Runtime.ExitError ("RequestId:
 *   <id> Error: Runtime exited with error: exit status N"), then the bootstrap
 *   restarts at once (its init's LOG lines carry req_id 0). Before its first
 *   /next, INIT_ERROR Runtime.ExitError, and no restart until the next INVOKE,
 *   which re-runs init (as Lambda does after a failed init); when an
 *   invocation is waiting on such a re-init, its failure is an ERROR for that
 *   invocation, not an INIT_ERROR. /init/error is handled the same way.
 * - Back-pressure: above LAMBDA_OUT_HIGH queued bytes for the host, the
 *   bootstrap's output is no longer read (its writes block) until the queue
 *   drains below LAMBDA_OUT_LOW. */
#ifndef EMBER_LAMBDA_H
#define EMBER_LAMBDA_H

#define LAMBDA_OUT_HIGH (32u << 20)
#define LAMBDA_OUT_LOW	(8u << 20)
/* Listen backlog on the vsock port: a host reconnects, it does not crowd. */
#define LAMBDA_BACKLOG 4

struct init_args;

_Noreturn void lambda_run(const struct init_args *args);

#endif
