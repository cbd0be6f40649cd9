/* i8042: controller commands, the keyboard behind it, output FIFO, IRQs 1 and 12, Ctrl-Alt-Del (see i8042.h).
 * Register and command semantics follow the IBM PC/AT keyboard controller and
 * the PS/2 keyboard, as Linux's drivers/input/serio/i8042.c and
 * drivers/input/keyboard/atkbd.c use them. */
#include "vmm/devices/i8042.h"

#include <errno.h>
#include <string.h>

#include "lib/util/log.h"
#include "vmm/snapshot/dev.h"

/* Status register (port 0x64, read). */
#define STR_OBF	    0x01 /* output buffer full: a byte waits at port 0x60 */
#define STR_SYS	    0x04 /* system flag, a copy of CTR_SYS */
#define STR_KEYLOCK 0x10 /* 1: keyboard not inhibited (Linux warns otherwise) */
#define STR_AUXDATA 0x20 /* the waiting byte is from the mouse port */
#define STR_TIMEOUT 0x40 /* ... and the device there did not answer */

/* Controller commands (port 0x64, write). */
#define CMD_READ_CTR	0x20
#define CMD_WRITE_CTR	0x60 /* the parameter follows on port 0x60, as for the others below */
#define CMD_AUX_DISABLE 0xa7
#define CMD_AUX_ENABLE	0xa8
#define CMD_AUX_TEST	0xa9
#define CMD_SELF_TEST	0xaa
#define CMD_KBD_TEST	0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE	0xae
#define CMD_READ_OUTP	0xd0
#define CMD_WRITE_OUTP	0xd1
#define CMD_KBD_LOOP	0xd2 /* the parameter comes back as keyboard input */
#define CMD_AUX_LOOP	0xd3 /* ... as mouse input */
#define CMD_AUX_SEND	0xd4 /* the parameter goes to the mouse */
#define CMD_PULSE	0xf0 /* 0xf0-0xff: pulse the output lines whose bit is 0 */

#define SELF_TEST_OK 0x55
#define PORT_TEST_OK 0x00

/* Command byte bits. */
#define CTR_KBDINT 0x01 /* raise IRQ 1 when a keyboard byte waits */
#define CTR_AUXINT 0x02 /* raise IRQ 12 when a mouse-port byte waits */
#define CTR_SYS	   0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE  0x40 /* translate the keyboard's set 2 into set 1 */
/* What a PC BIOS hands over: keyboard interrupt on, POST passed, translating. */
#define CTR_BOOT (CTR_KBDINT | CTR_SYS | CTR_XLATE)

/* Output port bits. */
#define OUTP_RESET 0x01 /* 0 holds the CPU in reset */
#define OUTP_A20   0x02
#define OUTP_BOOT  (OUTP_RESET | OUTP_A20)

/* Keyboard commands (port 0x60, write) and replies. */
#define KBD_SET_LEDS   0xed /* + LED bits */
#define KBD_ECHO       0xee
#define KBD_SCANSET    0xf0 /* + set, or 0 to ask */
#define KBD_GET_ID     0xf2
#define KBD_SET_REP    0xf3 /* + typematic rate and delay */
#define KBD_ENABLE     0xf4
#define KBD_RESET_DIS  0xf5
#define KBD_RESET_DEF  0xf6
#define KBD_SET3_FIRST 0xf7 /* 0xf7-0xfd: set 3 key types */
#define KBD_SET3_LAST  0xfd
#define KBD_RESET      0xff
#define KBD_ACK	       0xfa
#define KBD_RESEND     0xfe
#define KBD_BAT_OK     0xaa
#define KBD_ID0	       0xab
#define KBD_ID1	       0x83
#define KBD_ID1_XLATED 0x41

/* Ctrl, Alt, Del pressed, then released in reverse. Set 1 marks a release by
 * bit 7, sets 2 and 3 by an 0xF0 prefix; Del is an extended (0xE0) key in
 * sets 1 and 2, and set 3 has no extended keys. */
static const uint8_t cad_set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
static const uint8_t cad_set2[] = {
	0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14
};
static const uint8_t cad_set3[] = { 0x11, 0x19, 0x64, 0xf0, 0x64, 0xf0, 0x19, 0xf0, 0x11 };

/* What the controller makes of a scancode set number when it translates
 * (set 2 to set 1): how the keyboard's reply to 0xF0 0x00 reaches the guest. */
static const uint8_t xlated_set[] = { [1] = 0x43, [2] = 0x41, [3] = 0x3f };

/* The levels the lines should have: the one for the byte at the head of the
 * FIFO is raised if the command byte enables its interrupt. */
static void wanted_irq(const struct i8042 *k, int want[2])
{
	bool aux = k->len > 0 && (k->fifo[k->head].str & STR_AUXDATA);

	want[I8042_IRQ_KBD] = k->len > 0 && !aux && (k->ctr & CTR_KBDINT);
	want[I8042_IRQ_AUX] = aux && (k->ctr & CTR_AUXINT);
}

static void update_irq_locked(struct i8042 *k)
{
	int want[2];

	wanted_irq(k, want);
	for (int line = I8042_IRQ_KBD; line <= I8042_IRQ_AUX; line++) {
		if (want[line] != k->irq_level[line]) {
			k->irq_level[line] = want[line];
			k->irq(k->irq_opaque, (enum i8042_irq)line, want[line]);
		}
	}
}

/* A reply: the guest polls for it right after its command, so it goes ahead
 * of any keystrokes. If the FIFO is full the newest byte gives way, since the
 * command's caller is waiting for this one. */
static void push_reply_locked(struct i8042 *k, uint8_t val, uint8_t str)
{
	if (k->len == I8042_FIFO)
		k->len--;
	k->head = (k->head + I8042_FIFO - 1) % I8042_FIFO;
	k->fifo[k->head] = (struct i8042_byte){ .val = val, .str = str };
	k->len++;
}

/* The keyboard's replies to one command, in order, ahead of any keystrokes. */
static void kbd_reply_locked(struct i8042 *k, const uint8_t *v, unsigned n)
{
	while (n > 0)
		push_reply_locked(k, v[--n], 0);
}

static uint8_t status_locked(const struct i8042 *k)
{
	uint8_t st = STR_KEYLOCK;

	if (k->len > 0)
		st |= STR_OBF | k->fifo[k->head].str;
	if (k->ctr & CTR_SYS)
		st |= STR_SYS;
	return st;
}

static void kbd_defaults_locked(struct i8042 *k)
{
	k->kbd_pending = 0;
	k->kbd_set = 2;
}

/* The parameter of a keyboard command; false if it is out of range, and so
 * (as on a real keyboard) a new command instead. */
static bool kbd_param_locked(struct i8042 *k, uint8_t cmd, uint8_t v)
{
	uint8_t reply[2] = { KBD_ACK, 0 };

	switch (cmd) {
	case KBD_SET_LEDS:
		if (v & ~7u)
			return false;
		break;
	case KBD_SET_REP:
		if (v & 0x80)
			return false;
		break;
	case KBD_SCANSET:
		if (v > 3)
			return false;
		if (v == 0) { /* report the current set */
			reply[1] = (k->ctr & CTR_XLATE) ? xlated_set[k->kbd_set] : k->kbd_set;
			kbd_reply_locked(k, reply, 2);
			return true;
		}
		k->kbd_set = v;
		break;
	default:
		return false;
	}
	kbd_reply_locked(k, reply, 1);
	return true;
}

/* A byte for the keyboard itself (a data-port write with no controller
 * command pending). */
static void kbd_write_locked(struct i8042 *k, uint8_t v)
{
	uint8_t reply[3] = { KBD_ACK, 0, 0 };
	unsigned n = 1;
	uint8_t cmd = k->kbd_pending;

	k->kbd_pending = 0;
	if (cmd != 0 && kbd_param_locked(k, cmd, v))
		return;
	switch (v) {
	case KBD_SET_LEDS:
	case KBD_SET_REP:
	case KBD_SCANSET:
		k->kbd_pending = v;
		break;
	case KBD_ECHO:
		reply[0] = KBD_ECHO;
		break;
	case KBD_GET_ID:
		reply[1] = KBD_ID0;
		reply[2] = (k->ctr & CTR_XLATE) ? KBD_ID1_XLATED : KBD_ID1;
		n = 3;
		break;
	case KBD_ENABLE:
		k->kbd_enabled = true;
		break;
	case KBD_RESET_DIS:
		kbd_defaults_locked(k);
		k->kbd_enabled = false;
		break;
	case KBD_RESET_DEF:
		kbd_defaults_locked(k);
		k->kbd_enabled = true;
		break;
	case KBD_RESET:
		kbd_defaults_locked(k);
		k->kbd_enabled = true;
		reply[1] = KBD_BAT_OK;
		n = 2;
		break;
	default:
		if (v >= KBD_SET3_FIRST && v <= KBD_SET3_LAST)
			break; /* set 3 key types: accepted, all keys act alike here */
		log_ratelimited(LOG_DEBUG, "i8042: keyboard: unknown command 0x%02x", v);
		reply[0] = KBD_RESEND;
		break;
	}
	kbd_reply_locked(k, reply, n);
}

/* The parameter of a controller command; true if it resets the CPU. */
static bool cmd_param_locked(struct i8042 *k, uint8_t cmd, uint8_t v)
{
	switch (cmd) {
	case CMD_WRITE_CTR:
		k->ctr = v;
		break;
	case CMD_WRITE_OUTP:
		k->outp = v | OUTP_RESET;
		return !(v & OUTP_RESET);
	case CMD_KBD_LOOP:
		push_reply_locked(k, v, 0);
		break;
	case CMD_AUX_LOOP:
		push_reply_locked(k, v, STR_AUXDATA);
		break;
	case CMD_AUX_SEND:
		/* No mouse: the controller times out on the port at once. */
		push_reply_locked(k, KBD_RESEND, STR_AUXDATA | STR_TIMEOUT);
		break;
	}
	return false;
}

static void i8042_cmd_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
	struct i8042 *k = opaque;

	memset(data, 0, size);
	if (offset != 0)
		return;
	pthread_mutex_lock(&k->lock);
	data[0] = status_locked(k);
	pthread_mutex_unlock(&k->lock);
}

static void i8042_data_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
	struct i8042 *k = opaque;

	memset(data, 0, size);
	if (offset != 0)
		return;
	pthread_mutex_lock(&k->lock);
	if (k->len > 0) {
		data[0] = k->fifo[k->head].val;
		k->head = (k->head + 1) % I8042_FIFO;
		k->len--;
		/* The ISA lines are edge-triggered: drop the raised one so that
		 * the next byte, if any, raises a fresh interrupt. */
		for (int line = I8042_IRQ_KBD; line <= I8042_IRQ_AUX; line++) {
			if (k->irq_level[line]) {
				k->irq_level[line] = 0;
				k->irq(k->irq_opaque, (enum i8042_irq)line, 0);
			}
		}
	}
	update_irq_locked(k);
	pthread_mutex_unlock(&k->lock);
}

static void i8042_cmd_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
	struct i8042 *k = opaque;
	uint8_t cmd = data[0]; /* byte register: wider writes use their low byte */
	bool reset = false;

	(void)size;
	if (offset != 0)
		return;
	pthread_mutex_lock(&k->lock);
	k->pending = 0; /* a new command abandons one still waiting for data */
	switch (cmd) {
	case CMD_READ_CTR:
		push_reply_locked(k, k->ctr, 0);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTP:
	case CMD_KBD_LOOP:
	case CMD_AUX_LOOP:
	case CMD_AUX_SEND:
		k->pending = cmd;
		break;
	case CMD_AUX_DISABLE:
		k->ctr |= CTR_AUXDIS;
		break;
	case CMD_AUX_ENABLE:
		k->ctr &= (uint8_t)~CTR_AUXDIS;
		break;
	case CMD_KBD_DISABLE:
		k->ctr |= CTR_KBDDIS;
		break;
	case CMD_KBD_ENABLE:
		k->ctr &= (uint8_t)~CTR_KBDDIS;
		break;
	case CMD_AUX_TEST:
	case CMD_KBD_TEST:
		push_reply_locked(k, PORT_TEST_OK, 0);
		break;
	case CMD_SELF_TEST:
		k->ctr |= CTR_SYS;
		push_reply_locked(k, SELF_TEST_OK, 0);
		break;
	case CMD_READ_OUTP:
		push_reply_locked(k, k->outp, 0);
		break;
	default:
		if ((cmd & CMD_PULSE) == CMD_PULSE) {
			/* Pulse the output lines whose bit is 0; only reset has one. */
			reset = !(cmd & OUTP_RESET);
			break;
		}
		log_ratelimited(LOG_DEBUG, "i8042: ignoring command 0x%02x", cmd);
		break;
	}
	update_irq_locked(k);
	pthread_mutex_unlock(&k->lock);
	if (reset) {
		log_debug("i8042: guest requested a CPU reset");
		k->reset(k->opaque);
	}
}

static void i8042_data_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
	struct i8042 *k = opaque;
	bool reset = false;

	(void)size;
	if (offset != 0)
		return;
	pthread_mutex_lock(&k->lock);
	if (k->pending != 0)
		reset = cmd_param_locked(k, k->pending, data[0]);
	else
		kbd_write_locked(k, data[0]);
	k->pending = 0;
	update_irq_locked(k);
	pthread_mutex_unlock(&k->lock);
	if (reset) {
		log_debug("i8042: guest cleared the output port's reset bit");
		k->reset(k->opaque);
	}
}

const struct bus_ops i8042_data_ops = { .read = i8042_data_read, .write = i8042_data_write };
const struct bus_ops i8042_cmd_ops = { .read = i8042_cmd_read, .write = i8042_cmd_write };

void i8042_init(struct i8042 *k, void (*reset)(void *opaque), void *opaque,
		void (*irq)(void *irq_opaque, enum i8042_irq line, int level), void *irq_opaque)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->reset = reset;
	k->opaque = opaque;
	k->irq = irq;
	k->irq_opaque = irq_opaque;
	k->ctr = CTR_BOOT;
	k->outp = OUTP_BOOT;
	kbd_defaults_locked(k);
	k->kbd_enabled = true; /* as at power-on: i8042.dumbkbd guests never send 0xF4 */
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}

int i8042_send_ctrl_alt_del(struct i8042 *k)
{
	const uint8_t *seq;
	size_t n;

	pthread_mutex_lock(&k->lock);
	/* With translation on, the guest expects what the controller makes of
	 * the keyboard's set 2: set 1. */
	if ((k->ctr & CTR_XLATE) || k->kbd_set == 1) {
		seq = cad_set1;
		n = sizeof(cad_set1);
	} else if (k->kbd_set == 2) {
		seq = cad_set2;
		n = sizeof(cad_set2);
	} else {
		seq = cad_set3;
		n = sizeof(cad_set3);
	}
	if (!k->kbd_enabled || I8042_FIFO - k->len < n) {
		int ret = k->kbd_enabled ? -ENOSPC : -EAGAIN;

		pthread_mutex_unlock(&k->lock);
		return ret;
	}
	for (size_t i = 0; i < n; i++) {
		k->fifo[(k->head + k->len) % I8042_FIFO] = (struct i8042_byte){ .val = seq[i] };
		k->len++;
	}
	update_irq_locked(k);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

/* Snapshot section, version 2: command byte, output port, pending controller
 * command, keyboard (pending command, scancode set, enabled), IRQ levels
 * (keyboard, mouse port), then the output FIFO: its length (u8), then each
 * byte's value and status bits, oldest first. Version 1, from before the
 * mouse port and the keyboard: command byte, pending command, IRQ level,
 * FIFO length, bytes. */
static int snap_save(const void *dev, struct snap_writer *w)
{
	/* The lock is the only thing save changes (Ctrl-Alt-Del comes from the loop). */
	struct i8042 *k = (struct i8042 *)(uintptr_t)dev;

	pthread_mutex_lock(&k->lock);
	snap_w_u8(w, k->ctr);
	snap_w_u8(w, k->outp);
	snap_w_u8(w, k->pending);
	snap_w_u8(w, k->kbd_pending);
	snap_w_u8(w, k->kbd_set);
	snap_w_u8(w, k->kbd_enabled);
	snap_w_u8(w, (uint8_t)k->irq_level[I8042_IRQ_KBD]);
	snap_w_u8(w, (uint8_t)k->irq_level[I8042_IRQ_AUX]);
	snap_w_u8(w, (uint8_t)k->len);
	for (unsigned i = 0; i < k->len; i++) {
		const struct i8042_byte *b = &k->fifo[(k->head + i) % I8042_FIFO];

		snap_w_u8(w, b->val);
		snap_w_u8(w, b->str);
	}
	pthread_mutex_unlock(&k->lock);
	return 0;
}

/* Reads the FIFO into t (head 0): len bytes, with their status bits from
 * version 2 on. */
static int read_fifo(struct snap_reader *r, struct i8042 *t, uint32_t version)
{
	unsigned len = snap_r_u8(r);

	if (len > I8042_FIFO)
		return snap_r_fail(r, "output FIFO holds %u bytes (at most %u)", len, I8042_FIFO);
	for (unsigned i = 0; i < len && !r->failed; i++) {
		t->fifo[i].val = snap_r_u8(r);
		t->fifo[i].str = version >= 2 ? snap_r_u8(r) : 0;
		if (t->fifo[i].str != 0 && t->fifo[i].str != STR_AUXDATA &&
		    t->fifo[i].str != (STR_AUXDATA | STR_TIMEOUT))
			return snap_r_fail(r, "FIFO byte %u has status bits %#x", i,
					   t->fifo[i].str);
	}
	t->head = 0;
	t->len = len;
	return r->failed ? -EBADMSG : 0;
}

/* The same rules as live guest input: only commands that take a parameter
 * can be pending, a set is 1 to 3, the CPU is not in reset, and the IRQ
 * levels are what the FIFO and the command byte imply. The lines are not
 * driven: the restored irqchip holds them. */
static int snap_restore(void *dev, struct snap_reader *r, uint32_t version)
{
	static const uint8_t params[] = { CMD_WRITE_CTR, CMD_WRITE_OUTP, CMD_KBD_LOOP, CMD_AUX_LOOP,
					  CMD_AUX_SEND };
	struct i8042 *k = dev;
	struct i8042 t = { .outp = OUTP_BOOT, .kbd_set = 2, .kbd_enabled = true };
	uint8_t enabled = 1;
	int level[2] = { 0, 0 }, want[2];

	t.ctr = snap_r_u8(r);
	if (version >= 2) {
		t.outp = snap_r_u8(r);
		t.pending = snap_r_u8(r);
		t.kbd_pending = snap_r_u8(r);
		t.kbd_set = snap_r_u8(r);
		enabled = snap_r_u8(r);
		level[I8042_IRQ_KBD] = snap_r_u8(r);
		level[I8042_IRQ_AUX] = snap_r_u8(r);
	} else {
		t.pending = snap_r_u8(r);
		level[I8042_IRQ_KBD] = snap_r_u8(r);
	}
	if (r->failed || read_fifo(r, &t, version) < 0)
		return -EBADMSG;
	if (t.pending != 0 && memchr(params, t.pending, sizeof(params)) == NULL)
		return snap_r_fail(r, "pending command %#x (it takes no parameter)", t.pending);
	if (t.kbd_pending != 0 && t.kbd_pending != KBD_SET_LEDS && t.kbd_pending != KBD_SET_REP &&
	    t.kbd_pending != KBD_SCANSET)
		return snap_r_fail(r, "pending keyboard command %#x (it takes no parameter)",
				   t.kbd_pending);
	if (t.kbd_set < 1 || t.kbd_set > 3 || enabled > 1 || !(t.outp & OUTP_RESET))
		return snap_r_fail(r, "keyboard set %u, enabled %u, output port %#x", t.kbd_set,
				   enabled, t.outp);
	t.kbd_enabled = enabled;
	wanted_irq(&t, want);
	if (level[0] != want[0] || level[1] != want[1])
		return snap_r_fail(r, "IRQ levels %d/%d, but the FIFO and command byte say %d/%d",
				   level[0], level[1], want[0], want[1]);
	pthread_mutex_lock(&k->lock);
	k->ctr = t.ctr;
	k->outp = t.outp;
	k->pending = t.pending;
	k->kbd_pending = t.kbd_pending;
	k->kbd_set = t.kbd_set;
	k->kbd_enabled = t.kbd_enabled;
	memcpy(k->fifo, t.fifo, sizeof(k->fifo));
	k->head = 0;
	k->len = t.len;
	k->irq_level[I8042_IRQ_KBD] = level[I8042_IRQ_KBD];
	k->irq_level[I8042_IRQ_AUX] = level[I8042_IRQ_AUX];
	pthread_mutex_unlock(&k->lock);
	return 0;
}

const struct snap_dev_ops i8042_snap_ops = {
	.tag = SNAP_TAG_DEV_I8042,
	.version = 2,
	.save = snap_save,
	.restore = snap_restore,
};
