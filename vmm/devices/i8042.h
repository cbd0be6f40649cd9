/* i8042: the PC keyboard controller with a PS/2 keyboard and an empty mouse
 * port, as much as Linux's i8042 and atkbd drivers probe and use, with no
 * i8042.* flags on the guest's command line: its reboot (reboot=k) and
 * Ctrl-Alt-Del from the host.
 *
 * Contract:
 * - Two bus ranges, the data port and the command/status port (offset 0 of
 *   each); wider accesses use their low byte and read the rest as 0. The
 *   device knows nothing of ports or KVM.
 * - Every command completes at once, so the input buffer is always empty and
 *   a reply is waiting by the time the guest polls for it: Linux's probe
 *   waits out none of its timeouts. Status: OBF while the output FIFO holds
 *   a byte, AUXDATA and TIMEOUT for the byte at its head, SYS from the
 *   command byte, the keyboard never inhibited.
 * - Controller commands answered (port 0x64): 0x20/0x60 read/write the
 *   command byte (it starts as a PC BIOS leaves it: keyboard interrupt on,
 *   translating); 0xA7/0xA8 disable/enable the mouse port and 0xAD/0xAE the
 *   keyboard port (the command byte's bits, which Linux reads back);
 *   0xA9/0xAB test a port (0x00, no fault); 0xAA self-test (0x55);
 *   0xD0/0xD1 read/write the output port (a write with bit 0 clear resets);
 *   0xD2/0xD3 echo their parameter as keyboard/mouse input (0xD3 is the
 *   mouse loopback Linux's AUX and MUX probes use: this is a legacy, not a
 *   multiplexing, controller); 0xD4 sends to the mouse port, where no
 *   mouse answers (0xFE with TIMEOUT, at once); 0xF0-0xFF pulse output
 *   lines, reset if bit 0 is clear (I8042_CMD_RESET). The reset callback
 *   runs once per reset (the builder ends the VM with exit code 0). Other
 *   commands are ignored.
 * - The keyboard (data port writes with no controller command pending)
 *   answers 0xFA to each command: 0xED LEDs, 0xF3 typematic and 0xF0
 *   scancode set (with a parameter; 0xF0 0x00 reports the set), 0xF2
 *   identify (0xAB 0x83, 0x41 when the controller translates), 0xF4 enable,
 *   0xF5 disable, 0xF6 defaults, 0xF7-0xFD (set 3 key types), 0xFF reset
 *   (then 0xAA); 0xEE echoes 0xEE; anything else gets 0xFE (resend). A
 *   parameter that is out of range for its command is taken as a new command.
 * - The output FIFO holds I8042_FIFO bytes. A reply goes to its front (the
 *   guest polls for it next), displacing the newest byte if full;
 *   keystrokes that do not fit are refused.
 * - IRQs: the irq callback gets (I8042_IRQ_KBD, 1) while a keyboard byte is
 *   at the head and the command byte enables the keyboard interrupt, and
 *   (I8042_IRQ_AUX, 1) likewise for a mouse-port byte; both lines are ISA,
 *   edge-triggered, and Linux reads one byte per interrupt, so each read that
 *   leaves another byte waiting drops the line and raises it again.
 * - i8042_send_ctrl_alt_del() queues Ctrl, Alt, Del pressed then released, in
 *   scancode set 1 if the command byte translates, else in the keyboard's
 *   set, and raises the IRQ. -EAGAIN (nothing queued) if the guest disabled
 *   the keyboard (0xF5 without 0xF4 since; a real keyboard would drop the
 *   keys), -ENOSPC if the FIFO lacks room for all of it.
 * - All entry points lock the device: vCPU threads (port I/O) and the event
 *   loop (i8042_send_ctrl_alt_del) may call them concurrently. The irq
 *   callback runs under the lock, the reset callback after it is dropped. */
#ifndef EMBER_I8042_H
#define EMBER_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/core/bus.h"

#define I8042_CMD_RESET 0xfe /* pulse the CPU reset line */
/* Linux's i8042 flushes up to 16 bytes; one Ctrl-Alt-Del takes at most 11. */
#define I8042_FIFO 16

enum i8042_irq {
	I8042_IRQ_KBD, /* ISA IRQ 1 */
	I8042_IRQ_AUX, /* ISA IRQ 12, the mouse port */
};

/* A byte in the output FIFO, with the status bits it shows at the head. */
struct i8042_byte {
	uint8_t val;
	uint8_t str; /* 0, or STR_AUXDATA, or STR_AUXDATA | STR_TIMEOUT */
};

struct i8042 {
	void (*reset)(void *opaque);
	void *opaque;
	void (*irq)(void *irq_opaque, enum i8042_irq line, int level);
	void *irq_opaque;
	pthread_mutex_t lock;
	uint8_t ctr;	 /* the controller command byte */
	uint8_t outp;	 /* the output port (bit 0: not in reset, bit 1: A20) */
	uint8_t pending; /* controller command waiting for its data-port parameter, or 0 */
	struct i8042_byte fifo[I8042_FIFO];
	unsigned head, len;
	int irq_level[2]; /* by enum i8042_irq */
	/* The keyboard. */
	uint8_t kbd_pending; /* its command waiting for a parameter, or 0 */
	uint8_t kbd_set;     /* scancode set, 1 to 3 */
	bool kbd_enabled;    /* scanning: off after 0xF5 until 0xF4, 0xF6 or 0xFF */
};

extern const struct bus_ops i8042_data_ops;
extern const struct bus_ops i8042_cmd_ops;
/* Snapshot hooks (snapshot/dev.h), dev is a struct i8042: command byte,
 * output port, pending commands, keyboard state, output FIFO and IRQ levels
 * (version 2; a version 1 section, from before the mouse port, restores
 * with the keyboard as it boots). Restore into a device fresh from
 * i8042_init(), before any vCPU runs. */
struct snap_dev_ops;
extern const struct snap_dev_ops i8042_snap_ops;

void i8042_init(struct i8042 *k, void (*reset)(void *opaque), void *opaque,
		void (*irq)(void *irq_opaque, enum i8042_irq line, int level), void *irq_opaque);
void i8042_destroy(struct i8042 *k);
int i8042_send_ctrl_alt_del(struct i8042 *k);

#endif
