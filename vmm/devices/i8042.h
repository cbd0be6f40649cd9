/* i8042: just enough of the PC keyboard controller for the guest's reboot (reboot=k).
 *
 * Contract: two bus ranges, the data port and the command/status port
 * (offset 0 of each). Reads return 0 (no data, input buffer empty: Linux's
 * kb_wait() passes at once). Writing I8042_CMD_RESET to the command port
 * calls the reset callback once per write (the builder ends the VM with exit
 * code 0). Everything else is ignored. Stateless, so thread-safe. */
#ifndef EMBER_I8042_H
#define EMBER_I8042_H

#include "../core/bus.h"

#define I8042_CMD_RESET 0xfe /* pulse the CPU reset line */

struct i8042 {
	void (*reset)(void *opaque);
	void *opaque;
};

extern const struct bus_ops i8042_data_ops;
extern const struct bus_ops i8042_cmd_ops;

#endif
