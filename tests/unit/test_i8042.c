/* Unit tests for vmm/devices/i8042.c: what Linux's i8042 + atkbd drivers rely
 * on (i8042.noaux nomux nopnp dumbkbd), Ctrl-Alt-Del and the reset. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/devices/i8042.h"

#define DATA 0
#define CMD  1

#define STR_OBF	    0x01
#define STR_SYS	    0x04
#define STR_KEYLOCK 0x10
#define CTR_KBDINT  0x01
#define CTR_SYS	    0x04
#define CTR_KBDDIS  0x10
#define CTR_XLATE   0x40

static const uint8_t cad_set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
static const uint8_t cad_set2[] = {
	0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14
};

static struct i8042 k;
static int irq_level, irq_edges, resets;

static void irq_set(void *opaque, int level)
{
	(void)opaque;
	if (level && !irq_level)
		irq_edges++;
	irq_level = level;
}

static void reset(void *opaque)
{
	(void)opaque;
	resets++;
}

static uint8_t rd(int port)
{
	uint8_t v;

	(port == CMD ? &i8042_cmd_ops : &i8042_data_ops)->read(&k, 0, &v, 1);
	return v;
}

static void wr(int port, uint8_t v)
{
	(port == CMD ? &i8042_cmd_ops : &i8042_data_ops)->write(&k, 0, &v, 1);
}

/* What Linux's i8042_command() does: wait for room, command, poll, read. */
static uint8_t read_ctr(void)
{
	wr(CMD, 0x20);
	assert_true(rd(CMD) & STR_OBF);
	return rd(DATA);
}

static void write_ctr(uint8_t v)
{
	wr(CMD, 0x60);
	wr(DATA, v);
}

/* Reads bytes while OBF is set, as i8042_flush() does (bounded here too). */
static size_t drain(uint8_t *out, size_t cap)
{
	size_t n = 0;

	while ((rd(CMD) & STR_OBF) && n < cap)
		out[n++] = rd(DATA);
	return n;
}

static int setup(void **state)
{
	(void)state;
	irq_level = irq_edges = resets = 0;
	i8042_init(&k, reset, NULL, irq_set, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	i8042_destroy(&k);
	return 0;
}

static void test_status_and_command_byte(void **state)
{
	(void)state;
	/* Empty: no OBF (the flush in i8042_controller_check ends at once), the
	 * keyboard not inhibited (no "Keylock active" warning). */
	assert_int_equal(rd(CMD), STR_KEYLOCK | STR_SYS);

	/* As a BIOS leaves it: interrupt on, translating. */
	assert_int_equal(read_ctr(), CTR_KBDINT | CTR_SYS | CTR_XLATE);
	assert_false(rd(CMD) & STR_OBF);

	/* i8042_controller_init: disable and mask the keyboard, write back. */
	write_ctr(CTR_KBDDIS | CTR_XLATE);
	assert_int_equal(read_ctr(), CTR_KBDDIS | CTR_XLATE);
	assert_int_equal(rd(CMD), STR_KEYLOCK); /* SYS follows the command byte */

	/* A data write with no command pending is for the keyboard: ignored. */
	wr(DATA, 0xff);
	assert_int_equal(read_ctr(), CTR_KBDDIS | CTR_XLATE);
	assert_false(rd(CMD) & STR_OBF);

	/* A new command abandons a 0x60 still waiting for its parameter. */
	wr(CMD, 0x60);
	wr(CMD, 0x20);
	assert_int_equal(rd(DATA), CTR_KBDDIS | CTR_XLATE);
	wr(DATA, 0x00);
	assert_int_equal(read_ctr(), CTR_KBDDIS | CTR_XLATE);

	wr(CMD, 0xaa);
	assert_int_equal(rd(DATA), 0x55);
	assert_true(read_ctr() & CTR_SYS);

	/* Unknown commands are ignored; an empty data port reads 0. */
	wr(CMD, 0xd4);
	assert_false(rd(CMD) & STR_OBF);
	assert_int_equal(rd(DATA), 0);
	assert_int_equal(resets, 0);
}

static void test_ctrl_alt_del_set1(void **state)
{
	uint8_t got[I8042_FIFO];

	(void)state;
	assert_int_equal(i8042_send_ctrl_alt_del(&k), 0);
	assert_int_equal(irq_level, 1);
	assert_int_equal(drain(got, sizeof(got)), sizeof(cad_set1));
	assert_memory_equal(got, cad_set1, sizeof(cad_set1));
	/* One edge per byte: Linux reads one byte per (edge-triggered) IRQ 1. */
	assert_int_equal(irq_edges, (int)sizeof(cad_set1));
	assert_int_equal(irq_level, 0);
}

static void test_ctrl_alt_del_set2(void **state)
{
	uint8_t got[I8042_FIFO];

	(void)state;
	/* i8042.direct, or a BIOS that left translation off: raw set 2. */
	write_ctr(CTR_KBDINT | CTR_SYS);
	assert_int_equal(i8042_send_ctrl_alt_del(&k), 0);
	assert_int_equal(drain(got, sizeof(got)), sizeof(cad_set2));
	assert_memory_equal(got, cad_set2, sizeof(cad_set2));
	assert_int_equal(irq_edges, (int)sizeof(cad_set2));
}

static void test_irq_follows_kbdint(void **state)
{
	uint8_t got[I8042_FIFO];

	(void)state;
	write_ctr(CTR_SYS | CTR_XLATE); /* keyboard interrupt off: polled */
	assert_int_equal(i8042_send_ctrl_alt_del(&k), 0);
	assert_int_equal(irq_level, 0);
	assert_true(rd(CMD) & STR_OBF);

	/* Enabling the interrupt with a byte waiting raises it at once. */
	write_ctr(CTR_KBDINT | CTR_SYS | CTR_XLATE);
	assert_int_equal(irq_level, 1);
	assert_int_equal(drain(got, sizeof(got)), sizeof(cad_set1));
	assert_memory_equal(got, cad_set1, sizeof(cad_set1));
	assert_int_equal(irq_level, 0);
}

static void test_reply_goes_first(void **state)
{
	uint8_t got[I8042_FIFO];

	(void)state;
	assert_int_equal(i8042_send_ctrl_alt_del(&k), 0);
	/* A command issued while keys wait gets its own reply, then the keys. */
	assert_int_equal(read_ctr(), CTR_KBDINT | CTR_SYS | CTR_XLATE);
	assert_int_equal(drain(got, sizeof(got)), sizeof(cad_set1));
	assert_memory_equal(got, cad_set1, sizeof(cad_set1));
}

static void test_fifo_bounded(void **state)
{
	uint8_t got[2 * I8042_FIFO];
	size_t sent = 0;
	int ret;

	(void)state;
	for (int i = 0; i < 10; i++) {
		ret = i8042_send_ctrl_alt_del(&k);
		if (ret < 0)
			break;
		sent += sizeof(cad_set1);
	}
	assert_int_equal(ret, -ENOSPC);
	assert_true(sent > 0 && sent <= I8042_FIFO);
	/* A refused sequence is not queued in part. */
	assert_int_equal(drain(got, sizeof(got)), sent);
	for (size_t i = 0; i < sent; i += sizeof(cad_set1))
		assert_memory_equal(got + i, cad_set1, sizeof(cad_set1));

	/* A reply into a full FIFO still arrives first, and nothing overruns. */
	while (i8042_send_ctrl_alt_del(&k) == 0)
		;
	wr(CMD, 0x20);
	assert_true(drain(got, sizeof(got)) <= I8042_FIFO);
	assert_int_equal(got[0], CTR_KBDINT | CTR_SYS | CTR_XLATE);
	assert_int_equal(got[1], cad_set1[0]);
	assert_false(rd(CMD) & STR_OBF);
}

static void test_reset(void **state)
{
	(void)state;
	wr(DATA, 0xfe); /* a keyboard byte, not a command */
	assert_int_equal(resets, 0);
	wr(CMD, I8042_CMD_RESET);
	assert_int_equal(resets, 1);
	/* Linux's reboot=k writes it up to 10 times: one call per write. */
	wr(CMD, I8042_CMD_RESET);
	assert_int_equal(resets, 2);
	/* Wider accesses use the low byte. */
	uint8_t wide[4] = { I8042_CMD_RESET, 0, 0, 0 };
	i8042_cmd_ops.write(&k, 0, wide, 4);
	assert_int_equal(resets, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_and_command_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrl_alt_del_set1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrl_alt_del_set2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irq_follows_kbdint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_goes_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
