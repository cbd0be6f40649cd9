/* Unit tests for the serial port's snapshot hooks (vmm/devices/serial.c): a round trip through a file, and every refusal of a bad section.
 *
 * A snapshot file is host input that a hostile guest wrote much of: restore
 * must refuse what no guest write can make, and an IRQ level the registers
 * contradict (snapshot/dev.h). Every check is driven from a section that is
 * valid but for it, so each refusal is shown to be the reason. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/util/log.h"
#include "tests/unit/snap_dev_file.h"
#include "vmm/devices/serial.h"

/* Registers and bits (16550A), as the guest's 8250 driver uses them. */
#define REG_DATA 0
#define REG_IER	 1
#define REG_IIR	 2
#define REG_LCR	 3
#define REG_MCR	 4
#define REG_LSR	 5
#define REG_SCR	 7
#define IER_RDI	 0x01
#define IER_THRI 0x02
#define LCR_DLAB 0x80
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI	 0x04
#define LSR_DR	 0x01

/* The section's payload after the instance number (serial.c, version 1). */
enum { P_IER, P_THRI, P_LCR, P_MCR, P_SCR, P_DLL, P_DLM, P_LEVEL, P_RXLEN, P_RX };
#define PAYLOAD_MAX (P_RX + SERIAL_FIFO + 1) /* room for one byte too many */

struct uart {
	struct serial s;
	int level, edges;
};

struct fx {
	struct uart a, b;
	struct snap_writer w;
	struct snap_file f;
};

static void irq_set(void *opaque, int level)
{
	struct uart *u = opaque;

	if (level && !u->level)
		u->edges++;
	u->level = level;
}

static void uart_open(struct uart *u)
{
	serial_init(&u->s, (struct serial_irq){ .set = irq_set, .opaque = u });
}

static void uart_close(struct uart *u)
{
	serial_destroy(&u->s);
}

static uint8_t rd(struct uart *u, uint64_t reg)
{
	uint8_t v;

	serial_ops.read(&u->s, reg, &v, 1);
	return v;
}

static void wr(struct uart *u, uint64_t reg, uint8_t v)
{
	serial_ops.write(&u->s, reg, &v, 1);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	uart_open(&f->a);
	uart_open(&f->b);
	log_clear_last_error();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	uart_close(&f->a);
	uart_close(&f->b);
	snap_w_free(&f->w);
	free(f);
	return 0;
}

static bool last_error_has(const char *s)
{
	if (strstr(log_last_error(), s) != NULL)
		return true;
	fprintf(stderr, "last error \"%s\" lacks \"%s\"\n", log_last_error(), s);
	return false;
}

/* Every register a guest can set, and a receive FIFO that has wrapped. */
static void test_round_trip(void **state)
{
	struct fx *f = *state;
	uint8_t in[64];

	wr(&f->a, REG_LCR, LCR_DLAB | 0x03);
	wr(&f->a, REG_DATA, 0x0c); /* DLL: 9600 baud */
	wr(&f->a, REG_IER, 0x01);  /* DLM */
	wr(&f->a, REG_LCR, 0x1b);  /* 8 data bits, even parity, DLAB off */
	wr(&f->a, REG_MCR, 0x0b);
	wr(&f->a, REG_SCR, 0x5a);
	wr(&f->a, REG_IER, IER_RDI);
	/* 60 bytes in, 50 read, 30 more: the FIFO's oldest byte is past its start. */
	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)('A' + i);
	assert_int_equal(serial_input(&f->a.s, in, 60), 60);
	for (unsigned i = 0; i < 50; i++)
		assert_int_equal(rd(&f->a, REG_DATA), in[i]);
	assert_int_equal(
		serial_input(&f->a.s, (const uint8_t *)"0123456789abcdefghijklmnopqrst", 30), 30);
	assert_int_equal(f->a.level, 1);

	snap_dev_file_save(&f->w, &f->f, &serial_snap_ops, &f->a.s, 0);
	assert_int_equal(snap_dev_restore(&serial_snap_ops, &f->b.s, 0, &f->f), 0);
	/* Restore does not drive the line: the restored irqchip holds it. */
	assert_int_equal(f->b.edges, 0);
	assert_int_equal(f->b.s.irq_level, 1);
	assert_int_equal(rd(&f->b, REG_IER), IER_RDI);
	assert_int_equal(rd(&f->b, REG_LCR), 0x1b);
	assert_int_equal(rd(&f->b, REG_MCR), 0x0b);
	assert_int_equal(rd(&f->b, REG_SCR), 0x5a);
	assert_int_equal(rd(&f->b, REG_IIR) & 0x0f, IIR_RDI);
	wr(&f->b, REG_LCR, LCR_DLAB | 0x1b);
	assert_int_equal(rd(&f->b, REG_DATA), 0x0c);
	assert_int_equal(rd(&f->b, REG_IER), 0x01);
	wr(&f->b, REG_LCR, 0x1b);
	/* The guest reads on where it stopped, oldest byte first. */
	for (unsigned i = 50; i < 60; i++)
		assert_int_equal(rd(&f->b, REG_DATA), in[i]);
	for (unsigned i = 0; i < 30; i++)
		assert_int_equal(rd(&f->b, REG_DATA), "0123456789abcdefghijklmnopqrst"[i]);
	assert_int_equal(rd(&f->b, REG_LSR) & LSR_DR, 0);
	assert_int_equal(rd(&f->b, REG_IIR) & 0x0f, IIR_NONE);
	assert_int_equal(f->b.level, 0);
	/* And the input path works on. */
	assert_int_equal(serial_input(&f->b.s, (const uint8_t *)"z", 1), 1);
	assert_int_equal(f->b.level, 1);
	assert_int_equal(rd(&f->b, REG_DATA), 'z');
}

/* A pending THRE interrupt survives the trip (the guest waits for it to write on). */
static void test_round_trip_thri(void **state)
{
	struct fx *f = *state;

	wr(&f->a, REG_IER, IER_THRI);
	assert_int_equal(f->a.level, 1);
	snap_dev_file_save(&f->w, &f->f, &serial_snap_ops, &f->a.s, 3);
	/* Instance 3 only: another instance number finds no section. */
	assert_int_equal(snap_dev_restore(&serial_snap_ops, &f->b.s, 0, &f->f), -ENOENT);
	assert_true(last_error_has("no section 'DURT' for device instance 0"));
	assert_int_equal(snap_dev_restore(&serial_snap_ops, &f->b.s, 3, &f->f), 0);
	assert_int_equal(rd(&f->b, REG_IIR) & 0x0f, IIR_THRI);
	assert_int_equal(rd(&f->b, REG_IIR) & 0x0f, IIR_NONE); /* read clears it */
}

/* A valid payload: IER=RDI, LCR=3, 2 bytes waiting, the line up. */
static size_t good(uint8_t p[PAYLOAD_MAX])
{
	memset(p, 0, PAYLOAD_MAX);
	p[P_IER] = IER_RDI;
	p[P_LCR] = 0x03;
	p[P_DLL] = 0x01;
	p[P_LEVEL] = 1;
	p[P_RXLEN] = 2;
	p[P_RX] = 'h';
	p[P_RX + 1] = 'i';
	return P_RX + 2;
}

#define EXPECT_REFUSED(len, version, text)                                                         \
	do {                                                                                       \
		log_clear_last_error();                                                            \
		assert_int_equal(snap_dev_file_restore_raw(&f->w, &f->f, &serial_snap_ops,         \
							   &f->b.s, (version), p, (len)),          \
				 -EBADMSG);                                                        \
		assert_true(last_error_has(text));                                                 \
	} while (0)

static void test_every_refusal(void **state)
{
	struct fx *f = *state;
	uint8_t p[PAYLOAD_MAX];
	size_t n = good(p);

	/* The good one restores. */
	assert_int_equal(
		snap_dev_file_restore_raw(&f->w, &f->f, &serial_snap_ops, &f->b.s, 1, p, n), 0);
	assert_int_equal(rd(&f->b, REG_DATA), 'h');
	assert_int_equal(rd(&f->b, REG_DATA), 'i');
	/* Cut anywhere: refused, whatever field the cut falls in. */
	for (size_t len = 0; len < n; len++) {
		log_clear_last_error();
		assert_int_equal(snap_dev_file_restore_raw(&f->w, &f->f, &serial_snap_ops, &f->b.s,
							   1, p, len),
				 -EBADMSG);
		assert_true(last_error_has("payload offset"));
	}
	/* One byte too many. */
	EXPECT_REFUSED(n + 1, 1, "1 bytes left over");
	/* A layout newer than this ember's. */
	EXPECT_REFUSED(n, 2, "version 2 is newer than this ember's 1");
	/* Register values no guest write makes. */
	p[P_IER] = 0x10 | IER_RDI;
	EXPECT_REFUSED(n, 1, "IER 0x11 has bits above 0xf");
	n = good(p);
	p[P_MCR] = 0x20;
	EXPECT_REFUSED(n, 1, "MCR 0x20 has bits above 0x1f");
	n = good(p);
	p[P_THRI] = 2;
	EXPECT_REFUSED(n, 1, "THRI pending 2 / IRQ level 1 are not 0 or 1");
	n = good(p);
	p[P_LEVEL] = 2;
	EXPECT_REFUSED(n, 1, "THRI pending 0 / IRQ level 2 are not 0 or 1");
	/* A FIFO longer than the UART's. */
	n = good(p);
	p[P_RXLEN] = 65;
	memset(p + P_RX, 'x', 64);
	EXPECT_REFUSED(P_RX + 65, 1, "receive FIFO holds 65 bytes (at most 64)");
	/* The line contradicts the registers, both ways. */
	n = good(p);
	p[P_LEVEL] = 0;
	EXPECT_REFUSED(n, 1, "IRQ level 0, but the registers say 1");
	n = good(p);
	p[P_RXLEN] = 0;
	EXPECT_REFUSED(P_RX, 1, "IRQ level 1, but the registers say 0");
	n = good(p);
	p[P_IER] = 0;
	EXPECT_REFUSED(n, 1, "IRQ level 1, but the registers say 0");
	/* A full FIFO at the limit is fine. */
	n = good(p);
	p[P_RXLEN] = 64;
	memset(p + P_RX, 'y', 64);
	assert_int_equal(
		snap_dev_file_restore_raw(&f->w, &f->f, &serial_snap_ops, &f->b.s, 1, p, P_RX + 64),
		0);
	assert_int_equal(serial_rx_space(&f->b.s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip_thri, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_refusal, setup, teardown),
	};

	/* Errors are asserted through log_last_error(); keep them off the terminal. */
	log_init("test_serial_snap", LOG_ERR);
	log_set_output(open("/dev/null", O_WRONLY | O_CLOEXEC), false, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
