/* i8042: the PC keyboard controller, as much as Linux's i8042 + atkbd drivers
 * need for the guest's reboot (reboot=k) and for Ctrl-Alt-Del from the host.
 *
 * Contract:
 * - Two bus ranges, the data port and the command/status port (offset 0 of
 *   each); wider accesses use their low byte and read the rest as 0. The
 *   device knows nothing of ports or KVM.
 * - Status: OBF while the output FIFO holds a byte, SYS mirrors the command
 *   byte, the keyboard is never inhibited, the input buffer is always empty
 *   (commands complete at once). No AUX port, no parity or timeout errors.
 * - Commands: 0x20 reads and 0x60 writes the command byte (it starts as a PC
 *   BIOS leaves it: keyboard interrupt on, translating), 0xAA (self-test)
 *   answers 0x55, I8042_CMD_RESET calls the reset callback once per write (the
 *   builder ends the VM with exit code 0). Other commands, and data writes
 *   meant for the keyboard itself, are ignored: the guest boots with
 *   i8042.dumbkbd (and noaux, nomux, nopnp), as under Firecracker. Without
 *   noaux, Linux polls a second or more for AUX replies that never come;
 *   without dumbkbd, atkbd's probe times out and the keyboard is not bound.
 * - The output FIFO holds I8042_FIFO bytes. A command's reply goes to its
 *   front (the guest polls for it next), displacing the newest byte if full;
 *   keystrokes that do not fit are refused.
 * - IRQ 1: the irq callback gets level 1 while a byte waits and the command
 *   byte enables the keyboard interrupt. The ISA line is edge-triggered and
 *   Linux reads one byte per interrupt, so each byte read that leaves another
 *   one waiting drops the line and raises it again.
 * - i8042_send_ctrl_alt_del() queues Ctrl, Alt, Del pressed then released, in
 *   scancode set 1 if the command byte translates, else set 2, and raises the
 *   IRQ. -ENOSPC (nothing queued) if the FIFO lacks room for all of it.
 * - All entry points lock the device: vCPU threads (port I/O) and the event
 *   loop (i8042_send_ctrl_alt_del) may call them concurrently. The irq
 *   callback runs under the lock, the reset callback after it is dropped. */
#ifndef EMBER_I8042_H
#define EMBER_I8042_H

#include <pthread.h>
#include <stdint.h>

#include "vmm/core/bus.h"

#define I8042_CMD_RESET 0xfe /* pulse the CPU reset line */
/* Linux's i8042 flushes up to 16 bytes; one Ctrl-Alt-Del takes at most 11. */
#define I8042_FIFO 16

struct i8042 {
	void (*reset)(void *opaque);
	void *opaque;
	void (*irq)(void *irq_opaque, int level);
	void *irq_opaque;
	pthread_mutex_t lock;
	uint8_t ctr;	 /* the controller command byte */
	uint8_t pending; /* command waiting for its data-port parameter, or 0 */
	uint8_t fifo[I8042_FIFO];
	unsigned head, len;
	int irq_level;
};

extern const struct bus_ops i8042_data_ops;
extern const struct bus_ops i8042_cmd_ops;
/* Snapshot hooks (snapshot/dev.h), dev is a struct i8042: command byte,
 * pending command, output FIFO and IRQ level. Restore into a device fresh
 * from i8042_init(), before any vCPU runs. */
struct snap_dev_ops;
extern const struct snap_dev_ops i8042_snap_ops;

void i8042_init(struct i8042 *k, void (*reset)(void *opaque), void *opaque,
		void (*irq)(void *irq_opaque, int level), void *irq_opaque);
void i8042_destroy(struct i8042 *k);
int i8042_send_ctrl_alt_del(struct i8042 *k);

#endif
