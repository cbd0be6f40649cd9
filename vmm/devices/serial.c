/* serial: 16550A UART registers, interrupt state and console buffering (see serial.h). */
#include "vmm/devices/serial.h"

#include <errno.h>
#include <string.h>
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

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* console gone: drop output, the guest keeps running */
		p += w;
		n -= (size_t)w;
	}
}

static void flush_locked(struct serial *s)
{
	if (s->out_len > 0 && s->out_fd >= 0)
		write_all(s->out_fd, s->out, s->out_len);
	s->out_len = 0;
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
	s->out[s->out_len++] = (char)c;
	if (c == '\n' || s->out_len == SERIAL_OUTBUF)
		flush_locked(s);
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
		/* We transmit synchronously: THR is always empty. */
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

void serial_init(struct serial *s, int out_fd, struct serial_irq irq)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->out_fd = out_fd;
	s->irq = irq;
}

void serial_destroy(struct serial *s)
{
	serial_flush(s);
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

void serial_flush(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	flush_locked(s);
	pthread_mutex_unlock(&s->lock);
}

/* Snapshot section, version 1: IER, THRI pending, LCR, MCR, SCR, DLL, DLM,
 * the IRQ level, then the receive FIFO (length u8, bytes oldest first).
 * Output not yet flushed is not saved: this process writes it out. */
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
