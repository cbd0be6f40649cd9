/* serial: 16550A UART registers, interrupt state and console buffering (see serial.h). */
#include "vmm/devices/serial.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/snapshot/dev.h"

/* Register offsets and bits, from the 16550A datasheet. */
#define REG_DATA 0 /* RBR (read) / THR (write); DLL when DLAB */
#define REG_IER	 1 /* DLM when DLAB */
#define REG_IIR	 2 /* IIR (read) / FCR (write) */
#define REG_LCR	 3
#define REG_MCR	 4
#define REG_LSR	 5
#define REG_MSR	 6
#define REG_SCR	 7

#define IER_RDI	 0x01 /* received data available */
#define IER_THRI 0x02 /* transmitter holding register empty */
#define IER_MASK 0x0f

#define IIR_NONE    0x01
#define IIR_THRI    0x02
#define IIR_RDI	    0x04
#define IIR_FIFO_ON 0xc0

#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR	 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

/* Carrier, DSR and CTS asserted: a terminal is always there. */
#define MSR_DEFAULT 0xb0

#define FCR_CLEAR_RX 0x02

/* At most this much refill time is counted at once, so the product with
 * rate_bps stays far inside 64 bits. */
#define REFILL_MAX_NS (100ull * 1000000000ull)

static void wake_locked(struct serial *s)
{
	s->since_wake = 0;
	if (s->wake_pending || s->irq.out_ready == NULL)
		return;
	s->wake_pending = true;
	s->irq.out_ready(s->irq.out_opaque);
}

static void refill_locked(struct serial *s)
{
	struct timespec ts;
	uint64_t now, elapsed, add;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	elapsed = now - s->tokens_ns;
	if (elapsed > REFILL_MAX_NS)
		elapsed = REFILL_MAX_NS;
	add = elapsed * s->rate_bps / 1000000000ull;
	if (add == 0)
		return; /* keep the time: many short gaps still add up */
	s->tokens_ns = now;
	s->tokens = s->tokens + (int64_t)add > (int64_t)s->burst ? (int64_t)s->burst
								 : s->tokens + (int64_t)add;
}

static void put_locked(struct serial *s, char c)
{
	s->out[(s->out_head + s->out_len) % SERIAL_OUT_RING] = c;
	s->out_len++;
	s->tokens--;
}

/* One output byte: admitted with its line, or dropped with it (serial.h). */
static void output_locked(struct serial *s, char c)
{
	if (s->dropping) {
		s->dropping = c != '\n';
		return;
	}
	if (!s->in_line) {
		refill_locked(s);
		if (s->tokens <= 0 || SERIAL_OUT_RING - s->out_len < SERIAL_LINE_ROOM) {
			s->dropped++;
			s->dropping = c != '\n';
			return;
		}
		s->in_line = true;
	}
	/* In a line there is always one byte free: it ends the line if the
	 * line is longer than the ring allows. */
	if (SERIAL_OUT_RING - s->out_len == 1 && c != '\n') {
		put_locked(s, '\n');
		s->dropped++;
		s->dropping = true;
		s->in_line = false;
		wake_locked(s);
		return;
	}
	put_locked(s, c);
	if (c == '\n') {
		s->in_line = false;
		wake_locked(s);
	} else if (++s->since_wake >= SERIAL_WAKE_BYTES) {
		wake_locked(s);
	}
}

static uint8_t iir_locked(const struct serial *s)
{
	if ((s->ier & IER_RDI) && s->rx_len > 0)
		return IIR_RDI;
	if ((s->ier & IER_THRI) && s->iir_thri_pending)
		return IIR_THRI;
	return IIR_NONE;
}

static void update_irq_locked(struct serial *s)
{
	int level = iir_locked(s) != IIR_NONE;

	if (level != s->irq_level) {
		s->irq_level = level;
		if (s->irq.set != NULL)
			s->irq.set(s->irq.opaque, level);
	}
}

static void transmit_locked(struct serial *s, uint8_t c)
{
	if (s->mcr & MCR_LOOP) {
		if (s->rx_len < SERIAL_FIFO)
			s->rx[(s->rx_head + s->rx_len++) % SERIAL_FIFO] = c;
		return;
	}
	output_locked(s, (char)c);
}

static uint8_t read_reg(struct serial *s, uint64_t reg)
{
	uint8_t v;

	switch (reg) {
	case REG_DATA:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		if (s->rx_len == 0)
			return 0;
		v = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % SERIAL_FIFO;
		s->rx_len--;
		if (s->rx_len == 0 && s->irq.rx_drained != NULL)
			s->irq.rx_drained(s->irq.rx_opaque);
		return v;
	case REG_IER:
		return s->lcr & LCR_DLAB ? s->dlm : s->ier;
	case REG_IIR:
		v = iir_locked(s);
		/* Reading IIR acknowledges a THR-empty interrupt. */
		if (v == IIR_THRI)
			s->iir_thri_pending = 0;
		return v | IIR_FIFO_ON;
	case REG_LCR:
		return s->lcr;
	case REG_MCR:
		return s->mcr;
	case REG_LSR:
		/* Transmitting is taking the byte into the ring: THR is always empty. */
		return LSR_THRE | LSR_TEMT | (s->rx_len > 0 ? LSR_DR : 0);
	case REG_MSR:
		if (s->mcr & MCR_LOOP) /* loopback: outputs reflected on inputs */
			return (uint8_t)(((s->mcr & 0x0c) << 4) | ((s->mcr & 0x01) << 5) |
					 ((s->mcr & 0x02) << 3));
		return MSR_DEFAULT;
	default:
		return s->scr;
	}
}

static void write_reg(struct serial *s, uint64_t reg, uint8_t v)
{
	switch (reg) {
	case REG_DATA:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
			return;
		}
		transmit_locked(s, v);
		s->iir_thri_pending = 1; /* done at once: THR empty again */
		return;
	case REG_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			return;
		}
		/* Enabling THRI with THR empty raises it at once (16550A behaviour). */
		if (!(s->ier & IER_THRI) && (v & IER_THRI))
			s->iir_thri_pending = 1;
		s->ier = v & IER_MASK;
		return;
	case REG_IIR: /* FCR */
		if (v & FCR_CLEAR_RX)
			s->rx_len = 0;
		return;
	case REG_LCR:
		s->lcr = v;
		return;
	case REG_MCR:
		s->mcr = v & MCR_MASK;
		return;
	case REG_SCR:
		s->scr = v;
		return;
	default: /* LSR and MSR are read-only */
		return;
	}
}

static void serial_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
	struct serial *s = opaque;

	memset(data, 0, size);
	if (offset >= SERIAL_NREGS)
		return;
	pthread_mutex_lock(&s->lock);
	data[0] = read_reg(s, offset);
	update_irq_locked(s);
	pthread_mutex_unlock(&s->lock);
}

static void serial_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
	struct serial *s = opaque;

	(void)size; /* byte registers: wider writes use their low byte */
	if (offset >= SERIAL_NREGS)
		return;
	pthread_mutex_lock(&s->lock);
	write_reg(s, offset, data[0]);
	update_irq_locked(s);
	pthread_mutex_unlock(&s->lock);
}

const struct bus_ops serial_ops = { .read = serial_read, .write = serial_write };

void serial_init(struct serial *s, struct serial_irq irq)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->irq = irq;
	s->rate_bps = SERIAL_RATE_BPS;
	s->burst = SERIAL_RATE_BURST;
	s->tokens = SERIAL_RATE_BURST;
	refill_locked(s); /* sets the clock */
}

void serial_destroy(struct serial *s)
{
	pthread_mutex_destroy(&s->lock);
}

size_t serial_input(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < len && s->rx_len < SERIAL_FIFO) {
		s->rx[(s->rx_head + s->rx_len) % SERIAL_FIFO] = buf[n++];
		s->rx_len++;
	}
	update_irq_locked(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_rx_space(struct serial *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = SERIAL_FIFO - s->rx_len;
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_out_take(struct serial *s, char *buf, size_t cap, uint64_t *dropped)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < cap && s->out_len > 0) {
		size_t k = SERIAL_OUT_RING - s->out_head;

		if (k > s->out_len)
			k = s->out_len;
		if (k > cap - n)
			k = cap - n;
		memcpy(buf + n, s->out + s->out_head, k);
		s->out_head = (uint32_t)((s->out_head + k) % SERIAL_OUT_RING);
		s->out_len -= (uint32_t)k;
		n += k;
	}
	/* A take that leaves bytes behind is followed by another (the loop
	 * drains until empty), so a new wake-up is only needed from here on. */
	s->wake_pending = false;
	*dropped = s->dropped;
	s->dropped = 0;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void serial_flush(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	if (s->out_len > 0)
		wake_locked(s);
	pthread_mutex_unlock(&s->lock);
}

/* Snapshot section, version 1: IER, THRI pending, LCR, MCR, SCR, DLL, DLM,
 * the IRQ level, then the receive FIFO (length u8, bytes oldest first).
 * Output waiting in the ring is not saved: this process writes it out. */
static int snap_save(const void *dev, struct snap_writer *w)
{
	/* The lock is the only thing save changes; the event loop may be feeding input. */
	struct serial *s = (struct serial *)(uintptr_t)dev;

	pthread_mutex_lock(&s->lock);
	snap_w_u8(w, s->ier);
	snap_w_u8(w, s->iir_thri_pending);
	snap_w_u8(w, s->lcr);
	snap_w_u8(w, s->mcr);
	snap_w_u8(w, s->scr);
	snap_w_u8(w, s->dll);
	snap_w_u8(w, s->dlm);
	snap_w_u8(w, (uint8_t)s->irq_level);
	snap_w_u8(w, (uint8_t)s->rx_len);
	for (unsigned i = 0; i < s->rx_len; i++)
		snap_w_u8(w, s->rx[(s->rx_head + i) % SERIAL_FIFO]);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* Every register value must be one a guest write could have made, and the
 * IRQ level must be what the registers imply (every entry point leaves it
 * so). The line itself is not driven: the restored irqchip holds it. */
static int snap_restore(void *dev, struct snap_reader *r, uint32_t version)
{
	struct serial *s = dev;
	uint8_t ier = snap_r_u8(r), thri = snap_r_u8(r), lcr = snap_r_u8(r), mcr = snap_r_u8(r);
	uint8_t scr = snap_r_u8(r), dll = snap_r_u8(r), dlm = snap_r_u8(r);
	uint8_t level = snap_r_u8(r), rx_len = snap_r_u8(r);
	uint8_t rx[SERIAL_FIFO];

	(void)version;
	if (r->failed)
		return -EBADMSG;
	if (ier & ~IER_MASK)
		return snap_r_fail(r, "IER %#x has bits above %#x", ier, IER_MASK);
	if (mcr & ~MCR_MASK)
		return snap_r_fail(r, "MCR %#x has bits above %#x", mcr, MCR_MASK);
	if (thri > 1 || level > 1)
		return snap_r_fail(r, "THRI pending %u / IRQ level %u are not 0 or 1", thri, level);
	if (rx_len > SERIAL_FIFO)
		return snap_r_fail(r, "receive FIFO holds %u bytes (at most %u)", rx_len,
				   SERIAL_FIFO);
	snap_r_bytes(r, rx, rx_len);
	if (r->failed)
		return -EBADMSG;
	pthread_mutex_lock(&s->lock);
	s->ier = ier;
	s->iir_thri_pending = thri;
	s->lcr = lcr;
	s->mcr = mcr;
	s->scr = scr;
	s->dll = dll;
	s->dlm = dlm;
	memcpy(s->rx, rx, rx_len);
	s->rx_head = 0;
	s->rx_len = rx_len;
	s->irq_level = level;
	level = iir_locked(s) != IIR_NONE;
	pthread_mutex_unlock(&s->lock);
	if (level != s->irq_level)
		return snap_r_fail(r, "IRQ level %d, but the registers say %u", s->irq_level,
				   level);
	return 0;
}

const struct snap_dev_ops serial_snap_ops = {
	.tag = SNAP_TAG_DEV_UART,
	.version = 1,
	.save = snap_save,
	.restore = snap_restore,
};
