/* serial: a 16550A-compatible UART (the 8250 driver's view) for the guest console.
 *
 * Contract:
 * - The device knows nothing of ports or KVM: it exposes bus_ops over its 8
 *   registers and raises its interrupt through the irq callback (level: 1
 *   while an enabled interrupt is pending; the ISA line is edge-triggered, so
 *   each new pending interrupt is a fresh 0 -> 1 edge).
 * - Output never leaves on the vCPU thread: transmitted bytes go into a
 *   bounded ring (SERIAL_OUT_RING) that the event loop empties with
 *   serial_out_take() and writes out without blocking (machine/console.h).
 *   The UART calls irq.out_ready (any thread, under its lock; it must not
 *   block or call back) when a line ended, SERIAL_WAKE_BYTES accumulated or
 *   serial_flush() was called, at most once between two takes.
 * - Lines are admitted whole or dropped whole, and counted: a line is
 *   dropped when it starts while the ring has less than SERIAL_LINE_ROOM
 *   bytes free (the reader is slow) or the rate limit's bucket is empty
 *   (tokens refill at rate_bps bytes/s up to burst; each byte costs one). A
 *   line that outgrows the ring is cut: it ends with '\n' in the ring's last
 *   byte and counts as dropped. The guest never waits (THR is always empty).
 * - serial_input() feeds host bytes to the receive FIFO (from the event-loop
 *   thread) and returns how many it took; serial_rx_space() says how many it
 *   would take. IER keeps its low 4 bits (the 8250 driver probes that).
 * - All entry points lock the device: vCPU threads and the event loop may
 *   call them concurrently. */
#ifndef EMBER_SERIAL_H
#define EMBER_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/core/bus.h"

#define SERIAL_NREGS	  8
#define SERIAL_FIFO	  64
#define SERIAL_OUT_RING	  (64u * 1024u)	 /* output waiting for the event loop */
#define SERIAL_LINE_ROOM  256u		 /* free ring bytes a new line needs */
#define SERIAL_WAKE_BYTES 512u		 /* wake the loop within a long line */
#define SERIAL_RATE_BPS	  (64u * 1024u)	 /* sustained console output, bytes/s */
#define SERIAL_RATE_BURST (512u * 1024u) /* what a boot may print at once */

/* How the UART reaches the outside: its IRQ line, a hint that the guest
 * emptied the receive FIFO (so a paused input source may resume), and a
 * hint that output waits in the ring. */
struct serial_irq {
	void (*set)(void *opaque, int level);
	void *opaque;
	void (*rx_drained)(void *rx_opaque);
	void *rx_opaque;
	void (*out_ready)(void *out_opaque);
	void *out_opaque;
};

struct serial {
	pthread_mutex_t lock;
	uint8_t ier, iir_thri_pending, lcr, mcr, scr, dll, dlm;
	uint8_t rx[SERIAL_FIFO];
	unsigned rx_head, rx_len;
	int irq_level;
	struct serial_irq irq;
	/* output ring and line admission */
	char out[SERIAL_OUT_RING];
	uint32_t out_head, out_len;
	bool in_line;	     /* a line was admitted and has not ended */
	bool dropping;	     /* the rest of the current line is dropped */
	bool wake_pending;   /* out_ready was called since the last take */
	uint32_t since_wake; /* bytes since out_ready was last called */
	uint64_t dropped;    /* lines dropped since the last take */
	uint32_t rate_bps;   /* SERIAL_RATE_BPS; 0: no refill (tests) */
	uint32_t burst;	     /* SERIAL_RATE_BURST */
	int64_t tokens;	     /* bytes the bucket allows now */
	uint64_t tokens_ns;  /* CLOCK_MONOTONIC of the last refill */
};

extern const struct bus_ops serial_ops;
/* Snapshot hooks (snapshot/dev.h), dev is a struct serial: the registers,
 * the pending interrupt state and the receive FIFO. Restore into a device
 * fresh from serial_init(), before any vCPU runs; it refuses register
 * values no guest write makes, and an IRQ level the registers contradict. */
struct snap_dev_ops;
extern const struct snap_dev_ops serial_snap_ops;

void serial_init(struct serial *s, struct serial_irq irq);
void serial_destroy(struct serial *s);
size_t serial_input(struct serial *s, const uint8_t *buf, size_t len);
size_t serial_rx_space(struct serial *s);
/* The event loop: moves up to cap bytes of output, oldest first, into buf
 * and returns how many; *dropped gets the lines dropped since the last take. */
size_t serial_out_take(struct serial *s, char *buf, size_t cap, uint64_t *dropped);
/* Output waiting, partial line included, is made the loop's at once
 * (out_ready is called if the ring holds anything). */
void serial_flush(struct serial *s);

#endif
