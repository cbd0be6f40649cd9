/* Unit tests for vmm/devices/serial.c: what the Linux 8250 driver relies on. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/devices/serial.h"

static int irq_level, irq_edges, drained;
static struct serial s;
static int pipefd[2];

static void irq_set(void *opaque, int level)
{
	(void)opaque;
	if (level && !irq_level)
		irq_edges++;
	irq_level = level;
}

static void rx_drained(void *opaque)
{
	(void)opaque;
	drained++;
}

static uint8_t rd(uint64_t reg)
{
	uint8_t v;

	serial_ops.read(&s, reg, &v, 1);
	return v;
}

static void wr(uint64_t reg, uint8_t v)
{
	serial_ops.write(&s, reg, &v, 1);
}

static int setup(void **state)
{
	(void)state;
	assert_int_equal(pipe(pipefd), 0);
	irq_level = irq_edges = drained = 0;
	serial_init(&s, pipefd[1], (struct serial_irq){ .set = irq_set, .rx_drained = rx_drained });
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	serial_destroy(&s);
	close(pipefd[0]);
	close(pipefd[1]);
	return 0;
}

static void test_probe(void **state)
{
	(void)state;
	/* autoconfig: IER keeps its low nibble, and reads back 0 after a clear. */
	wr(1, 0x0f);
	assert_int_equal(rd(1), 0x0f);
	wr(1, 0xff);
	assert_int_equal(rd(1), 0x0f);
	wr(1, 0);
	assert_int_equal(rd(1), 0);
	/* Scratch register round-trips. */
	wr(7, 0xa5);
	assert_int_equal(rd(7), 0xa5);
	/* FIFOs reported (16550A), no interrupt pending. */
	assert_int_equal(rd(2), 0xc1);
	/* LSR: transmitter empty. */
	assert_int_equal(rd(5) & 0x60, 0x60);
	/* Divisor latch: DLL/DLM instead of THR/IER while DLAB is set. */
	wr(3, 0x80);
	wr(0, 0x01);
	wr(1, 0x00);
	assert_int_equal(rd(0), 0x01);
	wr(3, 0x03);
	assert_int_equal(rd(3), 0x03);
	/* Loopback (the driver's UART test) reflects MCR onto MSR. */
	wr(4, 0x10 | 0x0a);
	assert_int_equal(rd(6) & 0xf0, 0x90);
	wr(4, 0);
}

static void test_output_and_thri(void **state)
{
	char buf[64];
	ssize_t n;

	(void)state;
	wr(1, 0x02); /* enable THRI with THR empty: interrupt at once */
	assert_int_equal(irq_level, 1);
	assert_int_equal(irq_edges, 1);
	assert_int_equal(rd(2) & 0x0f, 0x02);
	assert_int_equal(irq_level, 0); /* reading IIR acknowledged it */
	wr(0, 'o');
	assert_int_equal(irq_edges, 2); /* every byte sent raises a new edge */
	wr(0, 'k');
	wr(0, '\n');
	n = read(pipefd[0], buf, sizeof(buf));
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "ok\n", 3);
	wr(1, 0); /* the driver stops TX: line drops */
	assert_int_equal(irq_level, 0);
	/* Partial lines wait for a flush. */
	wr(0, '>');
	serial_flush(&s);
	assert_int_equal(read(pipefd[0], buf, sizeof(buf)), 1);
}

static void test_input(void **state)
{
	uint8_t big[100];

	(void)state;
	memset(big, 'x', sizeof(big));
	assert_int_equal(serial_rx_space(&s), SERIAL_FIFO);
	assert_int_equal(irq_level, 0); /* RDI not enabled yet */
	assert_int_equal(serial_input(&s, (const uint8_t *)"ab", 2), 2);
	assert_true(rd(5) & 0x01);
	wr(1, 0x01);
	assert_int_equal(irq_level, 1);
	assert_int_equal(rd(2) & 0x0f, 0x04);
	assert_int_equal(rd(0), 'a');
	assert_int_equal(drained, 0);
	assert_int_equal(rd(0), 'b');
	assert_int_equal(drained, 1);
	assert_int_equal(irq_level, 0);
	assert_false(rd(5) & 0x01);
	assert_int_equal(rd(0), 0); /* empty FIFO */
	/* A full FIFO takes no more: the caller keeps the rest (backpressure). */
	assert_int_equal(serial_input(&s, big, sizeof(big)), SERIAL_FIFO);
	assert_int_equal(serial_rx_space(&s), 0);
	wr(2, 0x02); /* FCR: clear RX FIFO */
	assert_int_equal(serial_rx_space(&s), SERIAL_FIFO);
}

static void test_odd_accesses(void **state)
{
	uint8_t v[4] = { 0xff, 0xff, 0xff, 0xff };

	(void)state;
	serial_ops.read(&s, 9, v, 4); /* out of range: zero, no crash */
	assert_int_equal(v[0], 0);
	serial_ops.write(&s, 9, v, 4);
	wr(5, 0); /* LSR is read-only */
	assert_int_equal(rd(5) & 0x60, 0x60);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_and_thri, setup, teardown),
		cmocka_unit_test_setup_teardown(test_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_odd_accesses, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
