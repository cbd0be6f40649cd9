/* serial: a 16550A-compatible UART (the 8250 driver's view) for the guest console.
 *
 * Contract:
 * - The device knows nothing of ports or KVM: it exposes bus_ops over its 8
 *   registers and raises its interrupt through the irq callback (level: 1
 *   while an enabled interrupt is pending; the ISA line is edge-triggered, so
 *   each new pending interrupt is a fresh 0 -> 1 edge).
 * - Output goes to out_fd, line-buffered (flushed at '\n', when the buffer is
 *   full and by serial_flush()); write errors are dropped, never fatal.
 * - serial_input() feeds host bytes to the receive FIFO (from the event-loop
 *   thread) and returns how many it took; serial_rx_space() says how many it
 *   would take. IER keeps its low 4 bits (the 8250 driver probes that).
 * - All entry points lock the device: vCPU threads and the event loop may
 *   call them concurrently. */
#ifndef EMBER_SERIAL_H
#define EMBER_SERIAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/core/bus.h"

#define SERIAL_NREGS  8
#define SERIAL_FIFO   64
#define SERIAL_OUTBUF 512

/* How the UART reaches the outside: its IRQ line, and a hint that the guest
 * emptied the receive FIFO (so a paused input source may resume). */
struct serial_irq {
	void (*set)(void *opaque, int level);
	void *opaque;
	void (*rx_drained)(void *rx_opaque);
	void *rx_opaque;
};

struct serial {
	pthread_mutex_t lock;
	uint8_t ier, iir_thri_pending, lcr, mcr, scr, dll, dlm;
	uint8_t rx[SERIAL_FIFO];
	unsigned rx_head, rx_len;
	int irq_level;
	struct serial_irq irq;
	int out_fd;
	char out[SERIAL_OUTBUF];
	size_t out_len;
};

extern const struct bus_ops serial_ops;
/* Snapshot hooks (snapshot/dev.h), dev is a struct serial: the registers,
 * the pending interrupt state and the receive FIFO. Restore into a device
 * fresh from serial_init(), before any vCPU runs; it refuses register
 * values no guest write makes, and an IRQ level the registers contradict. */
struct snap_dev_ops;
extern const struct snap_dev_ops serial_snap_ops;

void serial_init(struct serial *s, int out_fd, struct serial_irq irq);
void serial_destroy(struct serial *s);
size_t serial_input(struct serial *s, const uint8_t *buf, size_t len);
size_t serial_rx_space(struct serial *s);
void serial_flush(struct serial *s);

#endif
