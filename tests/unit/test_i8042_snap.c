/* Unit tests for the i8042's snapshot hooks (vmm/devices/i8042.c): a round trip through a file, and every refusal of a bad section.
 *
 * As for the UART (test_serial_snap.c): restore is an input path, so each
 * check is driven from a section that is valid but for it. */
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
#include "vmm/devices/i8042.h"

#define STR_OBF	      0x01
#define STR_SYS	      0x04
#define CTR_KBDINT    0x01
#define CTR_SYS	      0x04
#define CMD_READ_CTR  0x20
#define CMD_WRITE_CTR 0x60

#define OUTP_BOOT 0x03 /* not in reset, A20 on */

/* The section's payload after the instance number (i8042.c, version 2):
 * then, per FIFO byte, its value and its status bits. */
enum {
	P_CTR,
	P_OUTP,
	P_PENDING,
	P_KBD_PENDING,
	P_KBD_SET,
	P_KBD_ENABLED,
	P_LEVEL,
	P_AUX_LEVEL,
	P_LEN,
	P_FIFO
};
#define PAYLOAD_MAX (P_FIFO + 2 * (I8042_FIFO + 1)) /* room for one byte too many */

static const uint8_t cad_set2[] = {
	0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14
};

struct kbd {
	struct i8042 k;
	int level, edges, resets;
};

struct fx {
	struct kbd a, b;
	struct snap_writer w;
	struct snap_file f;
};

static void irq_set(void *opaque, enum i8042_irq line, int level)
{
	struct kbd *d = opaque;

	if (line != I8042_IRQ_KBD)
		return;
	if (level && !d->level)
		d->edges++;
	d->level = level;
}

static void reset(void *opaque)
{
	((struct kbd *)opaque)->resets++;
}

static uint8_t rd(struct kbd *d, bool cmd)
{
	uint8_t v;

	(cmd ? &i8042_cmd_ops : &i8042_data_ops)->read(&d->k, 0, &v, 1);
	return v;
}

static void wr(struct kbd *d, bool cmd, uint8_t v)
{
	(cmd ? &i8042_cmd_ops : &i8042_data_ops)->write(&d->k, 0, &v, 1);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	i8042_init(&f->a.k, reset, &f->a, irq_set, &f->a);
	i8042_init(&f->b.k, reset, &f->b, irq_set, &f->b);
	log_clear_last_error();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	i8042_destroy(&f->a.k);
	i8042_destroy(&f->b.k);
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

/* A command byte without translation, a FIFO that has wrapped, and a
 * command waiting for its parameter. */
static void test_round_trip(void **state)
{
	struct fx *f = *state;
	uint8_t want[I8042_FIFO];
	unsigned n = 0;

	wr(&f->a, true, CMD_WRITE_CTR);
	wr(&f->a, false, CTR_KBDINT | CTR_SYS); /* set 2: no translation */
	assert_int_equal(i8042_send_ctrl_alt_del(&f->a.k), 0);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(rd(&f->a, false), cad_set2[i]);
	assert_int_equal(i8042_send_ctrl_alt_del(&f->a.k), 0); /* 3 + 11 bytes, past the end */
	for (unsigned i = 8; i < sizeof(cad_set2); i++)
		want[n++] = cad_set2[i];
	for (unsigned i = 0; i < sizeof(cad_set2); i++)
		want[n++] = cad_set2[i];
	wr(&f->a, true, CMD_WRITE_CTR); /* its parameter comes after the restore */
	assert_int_equal(f->a.level, 1);

	snap_dev_file_save(&f->w, &f->f, &i8042_snap_ops, &f->a.k, 0);
	assert_int_equal(snap_dev_restore(&i8042_snap_ops, &f->b.k, 0, &f->f), 0);
	/* Restore does not drive the line: the restored irqchip holds it. */
	assert_int_equal(f->b.edges, 0);
	assert_int_equal(f->b.k.irq_level[I8042_IRQ_KBD], 1);
	assert_int_equal(rd(&f->b, true), STR_OBF | STR_SYS | 0x10);
	/* The guest reads on, oldest byte first; each byte read raises the line again. */
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(rd(&f->b, false), want[i]);
	assert_int_equal(rd(&f->b, true) & STR_OBF, 0);
	assert_int_equal(f->b.level, 0);
	assert_int_equal(f->b.edges, (int)n - 1);
	/* The pending command takes its parameter. */
	wr(&f->b, false, CTR_SYS);
	wr(&f->b, true, CMD_READ_CTR);
	assert_int_equal(rd(&f->b, false), CTR_SYS);
	assert_int_equal(f->b.resets, 0);
}

/* A valid payload: interrupts on, 2 keyboard bytes waiting, the line up. */
static size_t good(uint8_t p[PAYLOAD_MAX])
{
	memset(p, 0, PAYLOAD_MAX);
	p[P_CTR] = CTR_KBDINT | CTR_SYS;
	p[P_OUTP] = OUTP_BOOT;
	p[P_KBD_SET] = 2;
	p[P_KBD_ENABLED] = 1;
	p[P_LEVEL] = 1;
	p[P_LEN] = 2;
	p[P_FIFO] = 0x1d;
	p[P_FIFO + 2] = 0x9d;
	return P_FIFO + 4;
}

#define EXPECT_REFUSED(len, version, text)                                                         \
	do {                                                                                       \
		log_clear_last_error();                                                            \
		assert_int_equal(snap_dev_file_restore_raw(&f->w, &f->f, &i8042_snap_ops, &f->b.k, \
							   (version), p, (len)),                   \
				 -EBADMSG);                                                        \
		assert_true(last_error_has(text));                                                 \
	} while (0)

static void test_every_refusal(void **state)
{
	struct fx *f = *state;
	uint8_t p[PAYLOAD_MAX];
	size_t n = good(p);

	assert_int_equal(snap_dev_file_restore_raw(&f->w, &f->f, &i8042_snap_ops, &f->b.k, 2, p, n),
			 0);
	assert_int_equal(rd(&f->b, false), 0x1d);
	assert_int_equal(rd(&f->b, false), 0x9d);
	for (size_t len = 0; len < n; len++) {
		log_clear_last_error();
		assert_int_equal(snap_dev_file_restore_raw(&f->w, &f->f, &i8042_snap_ops, &f->b.k,
							   2, p, len),
				 -EBADMSG);
		assert_true(last_error_has("payload offset"));
	}
	EXPECT_REFUSED(n + 1, 2, "1 bytes left over");
	EXPECT_REFUSED(n, 3, "version 3 is newer than this ember's 2");
	/* Only commands that take a parameter can wait for one. */
	p[P_PENDING] = CMD_READ_CTR;
	EXPECT_REFUSED(n, 2, "pending command 0x20 (it takes no parameter)");
	n = good(p);
	p[P_PENDING] = CMD_WRITE_CTR;
	assert_int_equal(snap_dev_file_restore_raw(&f->w, &f->f, &i8042_snap_ops, &f->b.k, 2, p, n),
			 0);
	n = good(p);
	p[P_KBD_PENDING] = 0xf4; /* enable: no parameter */
	EXPECT_REFUSED(n, 2, "pending keyboard command 0xf4 (it takes no parameter)");
	/* The keyboard's set, its enable flag and the CPU's reset line. */
	n = good(p);
	p[P_KBD_SET] = 4;
	EXPECT_REFUSED(n, 2, "keyboard set 4, enabled 1, output port 0x3");
	n = good(p);
	p[P_KBD_ENABLED] = 2;
	EXPECT_REFUSED(n, 2, "keyboard set 2, enabled 2, output port 0x3");
	n = good(p);
	p[P_OUTP] = 0x02;
	EXPECT_REFUSED(n, 2, "keyboard set 2, enabled 1, output port 0x2");
	/* A FIFO longer than the controller's, and status bits no byte has. */
	n = good(p);
	p[P_LEN] = I8042_FIFO + 1;
	EXPECT_REFUSED(P_FIFO + 2 * (I8042_FIFO + 1), 2, "output FIFO holds 17 bytes (at most 16)");
	n = good(p);
	p[P_FIFO + 1] = 0x01;
	EXPECT_REFUSED(n, 2, "FIFO byte 0 has status bits 0x1");
	/* The lines contradict the FIFO and the command byte, every way. */
	n = good(p);
	p[P_LEVEL] = 0;
	EXPECT_REFUSED(n, 2, "IRQ levels 0/0, but the FIFO and command byte say 1/0");
	n = good(p);
	p[P_LEN] = 0;
	EXPECT_REFUSED(P_FIFO, 2, "IRQ levels 1/0, but the FIFO and command byte say 0/0");
	n = good(p);
	p[P_CTR] = CTR_SYS;
	EXPECT_REFUSED(n, 2, "IRQ levels 1/0, but the FIFO and command byte say 0/0");
	n = good(p);
	p[P_LEVEL] = 2;
	EXPECT_REFUSED(n, 2, "IRQ levels 2/0");
	n = good(p);
	p[P_AUX_LEVEL] = 1;
	EXPECT_REFUSED(n, 2, "IRQ levels 1/1, but the FIFO and command byte say 1/0");
	/* A full FIFO with the interrupt off is fine. */
	n = good(p);
	p[P_CTR] = CTR_SYS;
	p[P_LEVEL] = 0;
	p[P_LEN] = I8042_FIFO;
	assert_int_equal(snap_dev_file_restore_raw(&f->w, &f->f, &i8042_snap_ops, &f->b.k, 2, p,
						   P_FIFO + 2 * I8042_FIFO),
			 0);
	assert_int_equal(i8042_send_ctrl_alt_del(&f->b.k), -ENOSPC);
}

/* Version 1 (before the mouse port and the keyboard): command byte, pending
 * command, IRQ level, FIFO length, bytes. It still restores, and is checked
 * the same way. */
static void test_version_1(void **state)
{
	struct fx *f = *state;
	const uint8_t v1[] = { CTR_KBDINT | CTR_SYS, 0, 1, 2, 0x1d, 0x9d };
	uint8_t p[sizeof(v1)];

	memcpy(p, v1, sizeof(p));
	assert_int_equal(
		snap_dev_file_restore_raw(&f->w, &f->f, &i8042_snap_ops, &f->b.k, 1, p, sizeof(p)),
		0);
	assert_int_equal(rd(&f->b, false), 0x1d);
	assert_int_equal(rd(&f->b, false), 0x9d);
	p[2] = 0;
	EXPECT_REFUSED(sizeof(p), 1, "IRQ levels 0/0, but the FIFO and command byte say 1/0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_refusal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_1, setup, teardown),
	};

	/* Errors are asserted through log_last_error(); keep them off the terminal. */
	log_init("test_i8042_snap", LOG_ERR);
	log_set_output(open("/dev/null", O_WRONLY | O_CLOEXEC), false, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
