/* lifecycle: the main thread's life with an API: wait for InstanceStart, build, run, serve VM commands.
 *
 * Contract: lifecycle_run() runs on the main thread, after every signal the
 * VMM handles (SIGINT, SIGTERM, SIGHUP) has been blocked and the API thread,
 * if any, has started. With boot_now it builds the VM from ctl->cfg at once
 * (--config-file, or the --kernel options); otherwise it waits for the API's
 * InstanceStart (CTL_CMD_START), answering a failed build with its error
 * line and waiting again. Once the VM runs, the API's commands (pause,
 * resume, Ctrl-Alt-Del, metrics flush) are served on the VM's event loop.
 * When the VM stops, the final metrics line is flushed, ctl is closed (so
 * API calls fail from then on) and the VM is torn down. Returns the exit
 * code (vcpu.h): the guest's, 128 + N for signal N, or VMM_EXIT_CONFIG /
 * VMM_EXIT_KVM when boot_now and the build fails. */
#ifndef EMBER_LIFECYCLE_H
#define EMBER_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

#include "control.h"
#include "metrics.h"

int lifecycle_run(struct ctl *ctl, struct metrics *m, uint64_t start_ns, bool boot_now);

#endif
