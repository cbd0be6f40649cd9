/* phases: where the time of one instance's start went, for the X-Ember-Start-Phases header and ember bench.
 *
 * Contract: plain data, filled by the pool (pool_phases_of) for the first job
 * of a cold or restored instance and handed up through the invoker. */
#ifndef EMBER_API_POOL_PHASES_H
#define EMBER_API_POOL_PHASES_H

#include <stdbool.h>

/* Where a cold or restore start's time went, in ms, each phase from the end
 * of the one before (emberd's clock, CLOCK_MONOTONIC):
 *   spawn    exec of the jailer/VMM until its API listens (restore only)
 *   vm       cold: until the guest's ember-init listens (the boot);
 *            restore: PUT /snapshot/load until the VMM says it resumed
 *   connect  the vsock connection and its CONNECT handshake
 *   init     INIT (cold) or RESTORE until the runtime's READY
 *   total    exec until READY (the REPORT line's Init or Restore Duration)
 * A restore that took a standby VMM (spawned ahead, pool.h) starts its clock
 * when it took it: its spawn is only what it still waited for the API. */
struct pool_phases {
	double spawn_ms, vm_ms, connect_ms, init_ms, total_ms;
	bool standby;
};

#endif
