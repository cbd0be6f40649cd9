/* Unit tests for vmm/devices/serial.c: what the Linux 8250 driver relies on, and the bounded console output. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/devices/serial.h"

static int irq_level, irq_edges, drained, out_wakes;
static struct serial s;

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

static void out_ready(void *opaque)
{
	(void)opaque;
	out_wakes++;
}

/* Everything the UART holds, as the event loop would take it. */
static size_t take_all(char *buf, size_t cap, uint64_t *dropped)
{
	size_t n = 0, k;
	uint64_t d;

	*dropped = 0;
	while ((k = serial_out_take(&s, buf + n, cap - n, &d)) > 0 || d > 0) {
		n += k;
		*dropped += d;
		if (n == cap)
			break;
	}
	return n;
}

static void put_line(const char *text)
{
	for (const char *p = text; *p != '\0'; p++)
		serial_ops.write(&s, 0, (const uint8_t *)p, 1);
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
	irq_level = irq_edges = drained = out_wakes = 0;
	serial_init(&s, (struct serial_irq){
				.set = irq_set, .rx_drained = rx_drained, .out_ready = out_ready });
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	serial_destroy(&s);
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
	uint64_t dropped;
	size_t n;

	(void)state;
	wr(1, 0x02); /* enable THRI with THR empty: interrupt at once */
	assert_int_equal(irq_level, 1);
	assert_int_equal(irq_edges, 1);
	assert_int_equal(rd(2) & 0x0f, 0x02);
	assert_int_equal(irq_level, 0); /* reading IIR acknowledged it */
	wr(0, 'o');
	assert_int_equal(irq_edges, 2); /* every byte sent raises a new edge */
	assert_int_equal(out_wakes, 0); /* a partial line does not wake the loop */
	wr(0, 'k');
	wr(0, '\n');
	assert_int_equal(out_wakes, 1);
	wr(0, '+');
	wr(0, '\n');
	assert_int_equal(out_wakes, 1); /* once until the loop takes */
	n = take_all(buf, sizeof(buf), &dropped);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "ok\n+\n", 5);
	assert_int_equal(dropped, 0);
	wr(1, 0); /* the driver stops TX: line drops */
	assert_int_equal(irq_level, 0);
	/* Partial lines wait for a flush. */
	wr(0, '>');
	assert_int_equal(out_wakes, 1);
	serial_flush(&s);
	assert_int_equal(out_wakes, 2);
	assert_int_equal(take_all(buf, sizeof(buf), &dropped), 1);
	serial_flush(&s); /* nothing held: no wake-up */
	assert_int_equal(out_wakes, 2);
}

/* Nobody takes the output: the guest never waits, the ring keeps whole lines
 * and counts the ones it drops. */
static void test_full_ring_drops_whole_lines(void **state)
{
	static char buf[SERIAL_OUT_RING];
	char line[100];
	unsigned kept, lines = 2 * SERIAL_OUT_RING / sizeof(line);
	uint64_t dropped;
	size_t n;

	(void)state;
	s.rate_bps = 0; /* no rate limit at work here: a huge bucket */
	s.tokens = INT64_MAX / 2;
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	for (unsigned i = 0; i < lines; i++) {
		snprintf(line, 12, "%010u", i);
		line[10] = 'x';
		put_line(line);
		put_line("\n");
	}
	n = take_all(buf, sizeof(buf), &dropped);
	assert_true(n <= SERIAL_OUT_RING && n > SERIAL_OUT_RING - SERIAL_LINE_ROOM - sizeof(line));
	assert_int_equal(n % sizeof(line), 0); /* whole lines only */
	kept = (unsigned)(n / sizeof(line));
	assert_int_equal(dropped, lines - kept);
	for (unsigned i = 0; i < kept; i++) {
		char want[12];

		snprintf(want, sizeof(want), "%010u", i); /* the oldest lines are kept */
		assert_memory_equal(buf + i * sizeof(line), want, 10);
		assert_int_equal(buf[(i + 1) * sizeof(line) - 1], '\n');
	}
	/* Room again: the next line goes through. */
	put_line("after\n");
	assert_int_equal(take_all(buf, sizeof(buf), &dropped), 6);
	assert_memory_equal(buf, "after\n", 6);
	assert_int_equal(dropped, 0);
}

/* A line longer than the ring is cut: it still ends with a newline. */
static void test_endless_line_is_cut(void **state)
{
	static char buf[SERIAL_OUT_RING];
	uint64_t dropped;
	size_t n;

	(void)state;
	s.rate_bps = 0;
	s.tokens = INT64_MAX / 2;
	for (unsigned i = 0; i < 3 * SERIAL_OUT_RING; i++)
		wr(0, 'y');
	wr(0, '\n');
	put_line("next\n");
	n = take_all(buf, sizeof(buf), &dropped);
	assert_int_equal(n, SERIAL_OUT_RING);
	assert_int_equal(buf[n - 1], '\n');
	assert_int_equal(buf[n - 2], 'y');
	assert_int_equal(dropped, 2); /* the cut line, and "next" (no room yet) */
	put_line("next\n");
	assert_int_equal(take_all(buf, sizeof(buf), &dropped), 5);
}

/* The bucket: lines beyond it are dropped whole, even with room in the ring. */
static void test_rate_limit_drops_lines(void **state)
{
	char buf[256];
	uint64_t dropped;

	(void)state;
	s.rate_bps = 0; /* no refill during the test */
	s.tokens = 10;
	put_line("0123456\n"); /* admitted: 8 bytes, 2 tokens left */
	put_line("abcdef\n");  /* admitted on 2 tokens; goes below zero */
	put_line("dropped\n");
	put_line("too\n");
	assert_int_equal(take_all(buf, sizeof(buf), &dropped), 15);
	assert_memory_equal(buf, "0123456\nabcdef\n", 15);
	assert_int_equal(dropped, 2);
	s.tokens = 100; /* refilled */
	put_line("back\n");
	assert_int_equal(take_all(buf, sizeof(buf), &dropped), 5);
	assert_int_equal(dropped, 0);
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
		cmocka_unit_test_setup_teardown(test_full_ring_drops_whole_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_endless_line_is_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit_drops_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_odd_accesses, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
