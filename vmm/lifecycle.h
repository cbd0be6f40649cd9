/* lifecycle: the main thread's life with an API: wait for InstanceStart, build, run, serve VM commands.
 *
 * Contract: lifecycle_run() runs on the main thread, after every signal the
 * VMM handles (SIGINT, SIGTERM, SIGHUP) has been blocked and the API thread,
 * if any, has started. LIFECYCLE_BOOT builds the VM from ctl->cfg at once
 * (--config-file, or the --kernel options); LIFECYCLE_RESTORE loads a
 * snapshot (--restore); LIFECYCLE_WAIT waits for the API's InstanceStart
 * (CTL_CMD_START), answering a failed build with its error line and
 * waiting again, or for PUT /snapshot/load (CTL_CMD_SNAPSHOT_LOAD: a
 * failure there ends the process, as in Firecracker). Once the VM runs, the API's commands (pause,
 * resume, Ctrl-Alt-Del, metrics flush) are served on the VM's event loop.
 * When the VM stops, the final metrics line is flushed, ctl is closed (so
 * API calls fail from then on) and the VM is torn down. Returns the exit
 * code (vcpu.h): the guest's, 128 + N for signal N, or VMM_EXIT_CONFIG /
 * VMM_EXIT_KVM when boot_now and the build fails. */
#ifndef EMBER_LIFECYCLE_H
#define EMBER_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/control.h"
#include "vmm/metrics.h"

enum lifecycle_start {
	LIFECYCLE_WAIT,	   /* for the API's InstanceStart or snapshot load */
	LIFECYCLE_BOOT,	   /* boot ctl->cfg now */
	LIFECYCLE_RESTORE, /* load the snapshot (path, mem_path) and run it now */
};

int lifecycle_run(struct ctl *ctl, struct metrics *m, uint64_t start_ns, enum lifecycle_start how,
		  const struct ctl_args *snapshot);

#endif
