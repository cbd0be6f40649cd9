/* lambda: ember-init's Lambda mode, the guest side of the guest protocol (gproto.h).
 *
 * Contract:
 * - lambda_run() never returns. It owns the three jobs and one libevent loop
 *   for all of them, and only wires them together:
 *     link.h        the host link: vsock, frames, which frame does what
 *     inflight.h    the invocation in flight: INVOKE -> /next -> STATS and
 *                   RESULT or ERROR
 *     supervisor.h  the runtime: INIT, starting the bootstrap, init errors,
 *                   its exit (SIGCHLD), restarts
 *   plus the Runtime API server (runtime_api.h) and the bootstrap's output.
 *   What the host hears in each case is in those headers.
 * - RESTORE credits entropy, sets the clock and logs the instance id (world.h).
 * - Back-pressure: while the link holds more than LINK_OUT_HIGH bytes for the
 *   host, the bootstrap's output is not read (its writes block) until the
 *   queue drains below LINK_OUT_LOW; without a host connection its lines go
 *   to the console.
 * - Fatal: no memory for the loop or no vsock listener aborts (PID 1 dies,
 *   the VM ends: the host sees a VM that never listens). */
#ifndef EMBER_LAMBDA_H
#define EMBER_LAMBDA_H

struct init_args;

_Noreturn void lambda_run(const struct init_args *args);

#endif
