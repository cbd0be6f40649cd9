/* Unit tests for vmm/devices/i8042.c: what Linux's i8042 and atkbd drivers do
 * at boot with no i8042.* flags (the AUX and MUX probes, the keyboard's),
 * every command the device answers and some it must not, Ctrl-Alt-Del, the
 * reset, and the snapshot section. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/util/log.h"
#include "vmm/devices/i8042.h"
#include "vmm/snapshot/dev.h"

#define DATA 0
#define CMD  1

/* Register bits from the 8042 and PS/2 specifications (Linux's i8042.h). */
#define STR_OBF	    0x01
#define STR_IBF	    0x02
#define STR_SYS	    0x04
#define STR_KEYLOCK 0x10
#define STR_AUXDATA 0x20
#define STR_TIMEOUT 0x40
#define CTR_KBDINT  0x01
#define CTR_AUXINT  0x02
#define CTR_SYS	    0x04
#define CTR_KBDDIS  0x10
#define CTR_AUXDIS  0x20
#define CTR_XLATE   0x40
#define CTR_BOOT    (CTR_KBDINT | CTR_SYS | CTR_XLATE)

static const uint8_t cad_set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
static const uint8_t cad_set2[] = {
	0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14
};
static const uint8_t cad_set3[] = { 0x11, 0x19, 0x64, 0xf0, 0x64, 0xf0, 0x19, 0xf0, 0x11 };

static struct i8042 k;
static int irq_level[2], irq_edges[2], resets;

static void irq_set(void *opaque, enum i8042_irq line, int level)
{
	(void)opaque;
	assert_true(line == I8042_IRQ_KBD || line == I8042_IRQ_AUX);
	if (level && !irq_level[line])
		irq_edges[line]++;
	irq_level[line] = level;
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
	/* Linux waits for IBF to clear before every write; it must never be set. */
	assert_false(rd(CMD) & STR_IBF);
	(port == CMD ? &i8042_cmd_ops : &i8042_data_ops)->write(&k, 0, &v, 1);
}

/* One reply byte, as Linux's i8042_command() reads it: OBF must be up at
 * once (a poll that would wait is a probe that times out), with AUXDATA as
 * expected. */
static uint8_t reply(uint8_t want_str)
{
	uint8_t st = rd(CMD);

	assert_true(st & STR_OBF);
	assert_int_equal(st & (STR_AUXDATA | STR_TIMEOUT), want_str);
	return rd(DATA);
}

static uint8_t read_ctr(void)
{
	wr(CMD, 0x20);
	return reply(0);
}

static void write_ctr(uint8_t v)
{
	wr(CMD, 0x60);
	wr(DATA, v);
}

static void assert_empty(void)
{
	assert_false(rd(CMD) & STR_OBF);
}

/* Reads bytes while OBF is set, as i8042_flush() does (bounded here too). */
static size_t drain(uint8_t *out, size_t cap)
{
	size_t n = 0;

	while ((rd(CMD) & STR_OBF) && n < cap)
		out[n++] = rd(DATA);
	return n;
}

/* A keyboard command and its replies, as atkbd's ps2_command() sees them. */
static void kbd_cmd(uint8_t cmd, const uint8_t *want, size_t n)
{
	uint8_t got[I8042_FIFO];

	wr(DATA, cmd);
	assert_int_equal(drain(got, sizeof(got)), n);
	assert_memory_equal(got, want, n);
}

static int setup(void **state)
{
	(void)state;
	memset(irq_level, 0, sizeof(irq_level));
	memset(irq_edges, 0, sizeof(irq_edges));
	resets = 0;
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
	/* As a BIOS leaves it: interrupt on, translating; the same twice (Linux
	 * reads it until two reads agree). */
	assert_int_equal(read_ctr(), CTR_BOOT);
	assert_int_equal(read_ctr(), CTR_BOOT);
	assert_empty();

	/* i8042_controller_init: disable and mask the keyboard, write back. */
	write_ctr(CTR_KBDDIS | CTR_XLATE);
	assert_int_equal(read_ctr(), CTR_KBDDIS | CTR_XLATE);
	assert_int_equal(rd(CMD), STR_KEYLOCK); /* SYS follows the command byte */

	/* A new command abandons a 0x60 still waiting for its parameter. */
	wr(CMD, 0x60);
	wr(CMD, 0x20);
	assert_int_equal(reply(0), CTR_KBDDIS | CTR_XLATE);
	wr(DATA, 0xf4); /* for the keyboard now: an ACK, not a command byte */
	assert_int_equal(reply(0), 0xfa);
	assert_int_equal(read_ctr(), CTR_KBDDIS | CTR_XLATE);

	/* 0xAD/0xAE and 0xA7/0xA8 are the command byte's disable bits. */
	wr(CMD, 0xae);
	assert_int_equal(read_ctr(), CTR_XLATE);
	wr(CMD, 0xad);
	assert_int_equal(read_ctr(), CTR_KBDDIS | CTR_XLATE);
	wr(CMD, 0xa7);
	assert_int_equal(read_ctr(), CTR_AUXDIS | CTR_KBDDIS | CTR_XLATE);
	wr(CMD, 0xa8);
	assert_int_equal(read_ctr(), CTR_KBDDIS | CTR_XLATE);

	/* Self-test sets SYS; the port tests find no fault. */
	wr(CMD, 0xaa);
	assert_int_equal(reply(0), 0x55);
	assert_true(read_ctr() & CTR_SYS);
	wr(CMD, 0xab);
	assert_int_equal(reply(0), 0x00);
	wr(CMD, 0xa9);
	assert_int_equal(reply(0), 0x00);
	assert_empty();
	assert_int_equal(rd(DATA), 0); /* an empty data port reads 0 */
	assert_int_equal(resets, 0);
}

/* i8042_check_aux(), i8042_toggle_aux() and i8042_set_mux_mode(), in the
 * order Linux 6.1 runs them at boot without i8042.noaux/nomux. */
static void test_linux_aux_and_mux_probe(void **state)
{
	uint8_t ctr;

	(void)state;
	/* The loopback: the byte comes back at once, marked as mouse data (the
	 * mouse port's interrupt is off, so no IRQ 12). */
	wr(CMD, 0xd3);
	wr(DATA, 0x5a);
	assert_int_equal(reply(STR_AUXDATA), 0x5a);
	assert_int_equal(irq_edges[I8042_IRQ_AUX] + irq_edges[I8042_IRQ_KBD], 0);
	/* Disable, then enable the port, reading the command byte back. */
	wr(CMD, 0xa7);
	assert_true(read_ctr() & CTR_AUXDIS);
	wr(CMD, 0xa8);
	ctr = read_ctr();
	assert_false(ctr & CTR_AUXDIS);
	/* The IRQ test: the port enabled with its interrupt, a loopback byte
	 * Linux does not poll for must raise IRQ 12 (not 1). */
	write_ctr((uint8_t)((ctr & ~CTR_AUXDIS) | CTR_AUXINT));
	int kbd_edges = irq_edges[I8042_IRQ_KBD]; /* the command byte replies had IRQ 1 */
	wr(CMD, 0xd3);
	wr(DATA, 0xa5);
	assert_int_equal(irq_edges[I8042_IRQ_AUX], 1);
	assert_int_equal(irq_level[I8042_IRQ_AUX], 1);
	assert_int_equal(irq_edges[I8042_IRQ_KBD], kbd_edges);
	assert_int_equal(reply(STR_AUXDATA), 0xa5); /* i8042_aux_test_irq */
	assert_int_equal(irq_level[I8042_IRQ_AUX], 0);
	/* Disabled again at the end of the check. */
	write_ctr((uint8_t)((ctr | CTR_AUXDIS) & ~CTR_AUXINT));

	/* MUX detection: three loopbacks; a legacy controller echoes the third
	 * (0xa4) too, so Linux finds no multiplexer and goes on at once. */
	static const uint8_t mux_probe[] = { 0xf0, 0x56, 0xa4 };
	for (size_t i = 0; i < sizeof(mux_probe); i++) {
		wr(CMD, 0xd3);
		wr(DATA, mux_probe[i]);
		assert_int_equal(reply(STR_AUXDATA), mux_probe[i]);
	}
	/* A command for the mouse: nobody answers, and the controller says so
	 * at once (timeout), so a psmouse probe fails fast. */
	write_ctr(CTR_AUXINT | CTR_KBDINT | CTR_SYS | CTR_XLATE);
	wr(CMD, 0xd4);
	wr(DATA, 0xff);
	assert_int_equal(irq_edges[I8042_IRQ_AUX], 2);
	assert_int_equal(reply(STR_AUXDATA | STR_TIMEOUT), 0xfe);
	/* The keyboard's loopback (0xD2) is keyboard input, on IRQ 1. */
	kbd_edges = irq_edges[I8042_IRQ_KBD];
	wr(CMD, 0xd2);
	wr(DATA, 0x33);
	assert_int_equal(irq_edges[I8042_IRQ_KBD], kbd_edges + 1);
	assert_int_equal(reply(0), 0x33);
	assert_empty();
	assert_int_equal(resets, 0);
}

/* atkbd_probe(), atkbd_select_set() and atkbd_activate() without
 * i8042.dumbkbd, then every other keyboard command. */
static void test_keyboard_commands(void **state)
{
	static const uint8_t ack[] = { 0xfa };
	static const uint8_t id_xlated[] = { 0xfa, 0xab, 0x41 };
	static const uint8_t id_raw[] = { 0xfa, 0xab, 0x83 };
	static const uint8_t bat[] = { 0xfa, 0xaa };
	static const uint8_t echo[] = { 0xee };
	static const uint8_t resend[] = { 0xfe };
	static const uint8_t set2_xlated[] = { 0xfa, 0x41 };
	static const uint8_t set3_xlated[] = { 0xfa, 0x3f };
	static const uint8_t set2_raw[] = { 0xfa, 0x02 };

	(void)state;
	kbd_cmd(0xf2, id_xlated, sizeof(id_xlated)); /* GETID, translated */
	kbd_cmd(0xf5, ack, 1);			     /* deactivate */
	assert_int_equal(i8042_send_ctrl_alt_del(&k), -EAGAIN);
	kbd_cmd(0xed, ack, 1); /* LEDs ... */
	kbd_cmd(0x00, ack, 1);
	kbd_cmd(0xf3, ack, 1); /* typematic ... */
	kbd_cmd(0x00, ack, 1);
	kbd_cmd(0xf4, ack, 1); /* activate */
	assert_int_equal(i8042_send_ctrl_alt_del(&k), 0);
	drain((uint8_t[I8042_FIFO]){ 0 }, I8042_FIFO);

	/* Each reply byte is its own IRQ 1 edge (the port's interrupt is on). */
	int edges = irq_edges[I8042_IRQ_KBD];
	kbd_cmd(0xf2, id_xlated, sizeof(id_xlated));
	assert_int_equal(irq_edges[I8042_IRQ_KBD], edges + 3);

	/* Scancode set: asked, set, asked again; translated, then raw. */
	kbd_cmd(0xf0, ack, 1);
	kbd_cmd(0x00, set2_xlated, sizeof(set2_xlated));
	kbd_cmd(0xf0, ack, 1);
	kbd_cmd(0x03, ack, 1);
	kbd_cmd(0xf0, ack, 1);
	kbd_cmd(0x00, set3_xlated, sizeof(set3_xlated));
	write_ctr(CTR_KBDINT | CTR_SYS); /* i8042.direct: no translation */
	kbd_cmd(0xf2, id_raw, sizeof(id_raw));
	kbd_cmd(0xf6, ack, 1); /* defaults: set 2 again, enabled */
	kbd_cmd(0xf0, ack, 1);
	kbd_cmd(0x00, set2_raw, sizeof(set2_raw));
	for (unsigned c = 0xf7; c <= 0xfd; c++)
		kbd_cmd((uint8_t)c, ack, 1); /* set 3 key types */
	kbd_cmd(0xee, echo, 1);
	kbd_cmd(0xff, bat, sizeof(bat));

	/* Garbage: not a command, and parameters out of range, which a real
	 * keyboard takes as the next command. */
	kbd_cmd(0x00, resend, 1);
	kbd_cmd(0x42, resend, 1);
	kbd_cmd(0xe0, resend, 1);
	kbd_cmd(0xf1, resend, 1);
	kbd_cmd(0xfe, resend, 1);
	kbd_cmd(0xed, ack, 1);
	kbd_cmd(0xf5, ack, 1); /* not an LED mask: the disable command */
	assert_int_equal(i8042_send_ctrl_alt_del(&k), -EAGAIN);
	kbd_cmd(0xf3, ack, 1);
	kbd_cmd(0xf4, ack, 1); /* bit 7 set: the enable command */
	kbd_cmd(0xf0, ack, 1);
	kbd_cmd(0x04, resend, 1); /* no set 4, and not a command either */
	kbd_cmd(0xf0, ack, 1);
	kbd_cmd(0x00, set2_raw, sizeof(set2_raw)); /* the set did not change */
	assert_int_equal(resets, 0);
}

static void test_ctrl_alt_del_sets(void **state)
{
	uint8_t got[I8042_FIFO];

	(void)state;
	/* Translating: set 1, one IRQ 1 edge per byte (Linux reads one byte
	 * per edge-triggered interrupt). */
	assert_int_equal(i8042_send_ctrl_alt_del(&k), 0);
	assert_int_equal(irq_level[I8042_IRQ_KBD], 1);
	assert_int_equal(drain(got, sizeof(got)), sizeof(cad_set1));
	assert_memory_equal(got, cad_set1, sizeof(cad_set1));
	assert_int_equal(irq_edges[I8042_IRQ_KBD], (int)sizeof(cad_set1));
	assert_int_equal(irq_level[I8042_IRQ_KBD], 0);
	assert_int_equal(irq_edges[I8042_IRQ_AUX], 0);

	/* i8042.direct, or a BIOS that left translation off: the keyboard's set. */
	write_ctr(CTR_KBDINT | CTR_SYS);
	assert_int_equal(i8042_send_ctrl_alt_del(&k), 0);
	assert_int_equal(drain(got, sizeof(got)), sizeof(cad_set2));
	assert_memory_equal(got, cad_set2, sizeof(cad_set2));
	wr(DATA, 0xf0);
	wr(DATA, 0x03);
	drain(got, sizeof(got));
	assert_int_equal(i8042_send_ctrl_alt_del(&k), 0);
	assert_int_equal(drain(got, sizeof(got)), sizeof(cad_set3));
	assert_memory_equal(got, cad_set3, sizeof(cad_set3));
	wr(DATA, 0xf0);
	wr(DATA, 0x01);
	drain(got, sizeof(got));
	assert_int_equal(i8042_send_ctrl_alt_del(&k), 0);
	assert_int_equal(drain(got, sizeof(got)), sizeof(cad_set1));
	assert_memory_equal(got, cad_set1, sizeof(cad_set1));
}

static void test_irq_follows_the_command_byte(void **state)
{
	uint8_t got[I8042_FIFO];

	(void)state;
	write_ctr(CTR_SYS | CTR_XLATE); /* keyboard interrupt off: polled */
	assert_int_equal(i8042_send_ctrl_alt_del(&k), 0);
	assert_int_equal(irq_level[I8042_IRQ_KBD], 0);
	assert_true(rd(CMD) & STR_OBF);
	/* Enabling the interrupt with a byte waiting raises it at once. */
	write_ctr(CTR_BOOT);
	assert_int_equal(irq_level[I8042_IRQ_KBD], 1);
	assert_int_equal(drain(got, sizeof(got)), sizeof(cad_set1));
	assert_memory_equal(got, cad_set1, sizeof(cad_set1));
	assert_int_equal(irq_level[I8042_IRQ_KBD], 0);

	/* A mouse byte ahead of keystrokes: IRQ 12 first, then IRQ 1. */
	write_ctr(CTR_BOOT | CTR_AUXINT);
	assert_int_equal(i8042_send_ctrl_alt_del(&k), 0);
	wr(CMD, 0xd3);
	wr(DATA, 0x77);
	assert_int_equal(irq_level[I8042_IRQ_AUX], 1);
	assert_int_equal(irq_level[I8042_IRQ_KBD], 0);
	assert_int_equal(reply(STR_AUXDATA), 0x77);
	assert_int_equal(irq_level[I8042_IRQ_AUX], 0);
	assert_int_equal(irq_level[I8042_IRQ_KBD], 1);
	assert_int_equal(drain(got, sizeof(got)), sizeof(cad_set1));
	/* A mouse byte with the mouse interrupt off raises nothing. */
	write_ctr(CTR_BOOT);
	wr(CMD, 0xd3);
	wr(DATA, 0x78);
	assert_int_equal(irq_level[I8042_IRQ_AUX] + irq_level[I8042_IRQ_KBD], 0);
	assert_int_equal(reply(STR_AUXDATA), 0x78);
}

static void test_reply_goes_first_and_fifo_is_bounded(void **state)
{
	uint8_t got[2 * I8042_FIFO];
	size_t sent = 0;
	int ret;

	(void)state;
	assert_int_equal(i8042_send_ctrl_alt_del(&k), 0);
	/* A command issued while keys wait gets its own reply, then the keys. */
	assert_int_equal(read_ctr(), CTR_BOOT);
	assert_int_equal(drain(got, sizeof(got)), sizeof(cad_set1));
	assert_memory_equal(got, cad_set1, sizeof(cad_set1));

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
	/* A reply into a full FIFO still arrives first, and nothing overruns,
	 * also for a three-byte keyboard reply. */
	while (i8042_send_ctrl_alt_del(&k) == 0)
		;
	wr(CMD, 0x20);
	assert_true(drain(got, sizeof(got)) <= I8042_FIFO);
	assert_int_equal(got[0], CTR_BOOT);
	assert_int_equal(got[1], cad_set1[0]);
	while (i8042_send_ctrl_alt_del(&k) == 0)
		;
	wr(DATA, 0xf2);
	assert_int_equal(drain(got, sizeof(got)), I8042_FIFO);
	assert_int_equal(got[0], 0xfa);
	assert_int_equal(got[1], 0xab);
	assert_int_equal(got[2], 0x41);
	assert_empty();
}

static void test_reset_and_output_port(void **state)
{
	(void)state;
	wr(DATA, 0xfe); /* a keyboard byte (resend), not a command */
	assert_int_equal(reply(0), 0xfe);
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
	/* 0xF0-0xFF pulse the lines whose bit is 0: bit 0 is reset. 0xFF is
	 * Linux's null command for SMM firmware. */
	wr(CMD, 0xff);
	wr(CMD, 0xf1);
	assert_int_equal(resets, 3);
	wr(CMD, 0xf0);
	assert_int_equal(resets, 4);

	/* The output port: A20 on and not in reset; Linux writes 0xDF (A20 on)
	 * at init, which must neither reset nor reach the keyboard. */
	wr(CMD, 0xd0);
	assert_int_equal(reply(0), 0x03);
	wr(CMD, 0xd1);
	wr(DATA, 0xdf);
	assert_empty();
	wr(CMD, 0xd0);
	assert_int_equal(reply(0), 0xdf);
	assert_int_equal(resets, 4);
	wr(CMD, 0xd1);
	wr(DATA, 0xde); /* bit 0 clear: the CPU goes into reset */
	assert_int_equal(resets, 5);

	/* Commands ember does not model are ignored: no reply, no reset. */
	static const uint8_t ignored[] = { 0x00, 0x21, 0x90, 0x93, 0xa1, 0xc0, 0xe0, 0xef };
	for (size_t i = 0; i < sizeof(ignored); i++) {
		wr(CMD, ignored[i]);
		assert_empty();
	}
	assert_int_equal(resets, 5);
	assert_int_equal(read_ctr(), CTR_BOOT);
}

/* ---- snapshot ---- */

struct snapfx {
	struct snap_writer w;
	struct snap_file f;
};

static void save(struct snapfx *s)
{
	assert_int_equal(snap_w_init(&s->w), 0);
	assert_int_equal(snap_dev_save(&i8042_snap_ops, &k, 0, &s->w), 0);
	assert_int_equal(snap_w_finish(&s->w), 0);
	assert_int_equal(snap_file_parse(s->w.buf, s->w.len, &s->f), 0);
}

/* A section written by hand: version, then the payload after the instance. */
static void craft(struct snapfx *s, uint32_t version, const uint8_t *p, size_t n)
{
	assert_int_equal(snap_w_init(&s->w), 0);
	snap_w_section_begin(&s->w, SNAP_TAG_DEV_I8042, version);
	snap_w_u32(&s->w, 0);
	snap_w_bytes(&s->w, p, n);
	snap_w_section_end(&s->w);
	assert_int_equal(snap_w_finish(&s->w), 0);
	assert_int_equal(snap_file_parse(s->w.buf, s->w.len, &s->f), 0);
}

static int restore_into_fresh(struct snapfx *s)
{
	int ret;

	i8042_destroy(&k);
	i8042_init(&k, reset, NULL, irq_set, NULL);
	memset(irq_level, 0, sizeof(irq_level));
	memset(irq_edges, 0, sizeof(irq_edges));
	ret = snap_dev_restore(&i8042_snap_ops, &k, 0, &s->f);
	snap_w_free(&s->w);
	return ret;
}

static void test_snapshot_round_trip(void **state)
{
	static const uint8_t ack[] = { 0xfa };
	struct snapfx s;

	(void)state;
	/* Mid-conversation: a mouse byte waiting on IRQ 12, then keystrokes, a
	 * keyboard command waiting for its parameter, set 3, the output port
	 * written, and the controller waiting for a command byte. */
	write_ctr(CTR_BOOT | CTR_AUXINT);
	kbd_cmd(0xf0, ack, 1);
	kbd_cmd(0x03, ack, 1);
	wr(CMD, 0xd1);
	wr(DATA, 0xdd);
	assert_int_equal(i8042_send_ctrl_alt_del(&k), 0);
	wr(CMD, 0xd4);
	wr(DATA, 0xf2);
	assert_int_equal(reply(STR_AUXDATA | STR_TIMEOUT), 0xfe);
	wr(DATA, 0xed); /* LEDs: the parameter is still to come */
	assert_int_equal(reply(0), 0xfa);
	wr(CMD, 0xd3);
	wr(DATA, 0x99);
	assert_int_equal(irq_level[I8042_IRQ_AUX], 1);
	wr(CMD, 0x60);
	save(&s);
	assert_int_equal(restore_into_fresh(&s), 0);
	/* The restored device goes on exactly where the first one was: IRQ 12
	 * is up already (so writing the command byte raises no new edge), and
	 * reading the mouse byte passes the line to the keystrokes. */
	wr(DATA, CTR_BOOT | CTR_AUXINT); /* the pending 0x60's parameter */
	assert_int_equal(irq_edges[I8042_IRQ_AUX] + irq_edges[I8042_IRQ_KBD], 0);
	assert_int_equal(reply(STR_AUXDATA), 0x99);
	assert_int_equal(irq_edges[I8042_IRQ_KBD], 1);
	uint8_t got[I8042_FIFO];
	assert_int_equal(drain(got, sizeof(got)), sizeof(cad_set1)); /* translated */
	assert_memory_equal(got, cad_set1, sizeof(cad_set1));
	kbd_cmd(0x07, ack, 1); /* the LED parameter */
	wr(CMD, 0xd0);
	assert_int_equal(reply(0), 0xdd);
	write_ctr(CTR_KBDINT | CTR_SYS);
	assert_int_equal(i8042_send_ctrl_alt_del(&k), 0);
	assert_int_equal(drain(got, sizeof(got)), sizeof(cad_set3));
	assert_memory_equal(got, cad_set3, sizeof(cad_set3));

	/* A disabled keyboard stays disabled. */
	wr(DATA, 0xf5);
	drain(got, sizeof(got));
	save(&s);
	assert_int_equal(restore_into_fresh(&s), 0);
	assert_int_equal(i8042_send_ctrl_alt_del(&k), -EAGAIN);
}

static void test_snapshot_version_1(void **state)
{
	/* From before the mouse port: command byte, pending 0x60, IRQ level,
	 * then two keystroke bytes. */
	static const uint8_t v1[] = { CTR_BOOT, 0x60, 1, 2, 0x1d, 0x38 };
	static const uint8_t ack[] = { 0xfa };
	struct snapfx s;
	uint8_t got[I8042_FIFO];

	(void)state;
	craft(&s, 1, v1, sizeof(v1));
	assert_int_equal(restore_into_fresh(&s), 0);
	assert_int_equal(irq_level[I8042_IRQ_KBD], 0); /* held by the irqchip, not driven */
	assert_int_equal(rd(CMD), STR_KEYLOCK | STR_SYS | STR_OBF);
	wr(DATA, CTR_BOOT);
	assert_int_equal(drain(got, sizeof(got)), 2);
	assert_int_equal(got[0], 0x1d);
	/* The keyboard as it boots: enabled, set 2 (translated), output port. */
	kbd_cmd(0xf4, ack, 1);
	assert_int_equal(i8042_send_ctrl_alt_del(&k), 0);
	drain(got, sizeof(got));
	wr(CMD, 0xd0);
	assert_int_equal(reply(0), 0x03);
}

static void test_snapshot_refusals(void **state)
{
	/* Version 2 payloads, each with one field wrong. */
	static const struct {
		uint8_t p[16];
		size_t n;
	} bad[] = {
		/* ctr outp pend kpend set en irq1 irq12 len [val str]... */
		{ { CTR_BOOT, 3, 0x20, 0, 2, 1, 0, 0, 0 }, 9 }, /* 0x20 takes no parameter */
		{ { CTR_BOOT, 3, 0, 0xf4, 2, 1, 0, 0, 0 }, 9 }, /* 0xF4 neither */
		{ { CTR_BOOT, 3, 0, 0, 4, 1, 0, 0, 0 }, 9 },	/* no set 4 */
		{ { CTR_BOOT, 3, 0, 0, 2, 2, 0, 0, 0 }, 9 },	/* enabled is a bool */
		{ { CTR_BOOT, 2, 0, 0, 2, 1, 0, 0, 0 }, 9 },	/* in reset */
		{ { CTR_BOOT, 3, 0, 0, 2, 1, 0, 0, 17 }, 9 },	/* FIFO too long */
		{ { CTR_BOOT, 3, 0, 0, 2, 1, 0, 0, 1, 0x1d, 0x40 }, 11 }, /* timeout alone */
		{ { CTR_BOOT, 3, 0, 0, 2, 1, 0, 0, 1, 0x1d, 0 }, 11 },	  /* IRQ 1 should be up */
		{ { CTR_BOOT, 3, 0, 0, 2, 1, 1, 0, 1, 0x1d, 0x20 }, 11 }, /* the byte is AUX */
		{ { CTR_BOOT, 3, 0, 0, 2, 1, 0, 0, 2, 0x1d, 0 }, 11 },	  /* truncated */
		{ { CTR_BOOT, 3, 0, 0, 2, 1, 0, 0, 0, 0 }, 10 },	  /* a byte too many */
	};
	static const uint8_t v1_bad[] = { CTR_BOOT, 0xd3, 0, 0 }; /* v1 knew only 0x60 ... */
	struct snapfx s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		craft(&s, 2, bad[i].p, bad[i].n);
		if (restore_into_fresh(&s) != -EBADMSG)
			fail_msg("bad section %zu was accepted", i);
	}
	/* ... but this ember reads 0xD3 in a version 1 section as a parameter
	 * command too: the rules are this device's, the layout the file's. */
	craft(&s, 1, v1_bad, sizeof(v1_bad));
	assert_int_equal(restore_into_fresh(&s), 0);
	craft(&s, 3, v1_bad, sizeof(v1_bad));
	assert_int_equal(restore_into_fresh(&s), -EBADMSG); /* newer than this ember */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_and_command_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_aux_and_mux_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyboard_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrl_alt_del_sets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irq_follows_the_command_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_goes_first_and_fifo_is_bounded, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reset_and_output_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_version_1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_refusals, setup, teardown),
	};

	log_init("test_i8042", LOG_NONE);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
