/* i8042: status, command byte, output FIFO, IRQ 1 and Ctrl-Alt-Del (see i8042.h).
 * Register and command semantics follow the IBM PC/AT keyboard controller, as
 * Linux's drivers/input/serio/i8042.[ch] uses it. */
#include "vmm/devices/i8042.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "vmm/snapshot/dev.h"
#include "lib/util/log.h"

/* Status register (port 0x64, read). */
#define STR_OBF	    0x01 /* output buffer full: a byte waits at port 0x60 */
#define STR_SYS	    0x04 /* system flag, a copy of CTR_SYS */
#define STR_KEYLOCK 0x10 /* 1: keyboard not inhibited (Linux warns otherwise) */

/* Controller commands (port 0x64, write). */
#define CMD_READ_CTR  0x20
#define CMD_WRITE_CTR 0x60 /* the parameter follows on port 0x60 */
#define CMD_SELF_TEST 0xaa

#define SELF_TEST_OK 0x55

/* Command byte bits. */
#define CTR_KBDINT 0x01 /* raise IRQ 1 when a keyboard byte waits */
#define CTR_SYS	   0x04
#define CTR_XLATE  0x40 /* translate the keyboard's set 2 into set 1 */
/* What a PC BIOS hands over: keyboard interrupt on, POST passed, translating. */
#define CTR_BOOT (CTR_KBDINT | CTR_SYS | CTR_XLATE)

/* Ctrl, Alt, Del pressed, then released in reverse. Set 1 marks a release by
 * bit 7, set 2 by an 0xF0 prefix; Del is an extended (0xE0) key in both. */
static const uint8_t cad_set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
static const uint8_t cad_set2[] = {
	0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14
};

static void update_irq_locked(struct i8042 *k)
{
	int level = k->len > 0 && (k->ctr & CTR_KBDINT);

	if (level != k->irq_level) {
		k->irq_level = level;
		k->irq(k->irq_opaque, level);
	}
}

/* A controller reply: the guest polls for it right after its command, so it
 * goes ahead of any keystrokes. If the FIFO is full the newest byte gives way,
 * since the command's caller is waiting for this one. */
static void push_reply_locked(struct i8042 *k, uint8_t v)
{
	if (k->len == I8042_FIFO)
		k->len--;
	k->head = (k->head + I8042_FIFO - 1) % I8042_FIFO;
	k->fifo[k->head] = v;
	k->len++;
}

static uint8_t status_locked(const struct i8042 *k)
{
	uint8_t st = STR_KEYLOCK;

	if (k->len > 0)
		st |= STR_OBF;
	if (k->ctr & CTR_SYS)
		st |= STR_SYS;
	return st;
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
		data[0] = k->fifo[k->head];
		k->head = (k->head + 1) % I8042_FIFO;
		k->len--;
		/* The ISA line is edge-triggered: drop it so that the next byte,
		 * if any, raises a fresh interrupt (update_irq_locked below). */
		if (k->irq_level) {
			k->irq_level = 0;
			k->irq(k->irq_opaque, 0);
		}
	}
	update_irq_locked(k);
	pthread_mutex_unlock(&k->lock);
}

static void i8042_cmd_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
	struct i8042 *k = opaque;
	bool reset = false;

	(void)size; /* byte register: wider writes use their low byte */
	if (offset != 0)
		return;
	pthread_mutex_lock(&k->lock);
	k->pending = 0; /* a new command abandons one still waiting for data */
	switch (data[0]) {
	case CMD_READ_CTR:
		push_reply_locked(k, k->ctr);
		break;
	case CMD_WRITE_CTR:
		k->pending = CMD_WRITE_CTR;
		break;
	case CMD_SELF_TEST:
		k->ctr |= CTR_SYS;
		push_reply_locked(k, SELF_TEST_OK);
		break;
	case I8042_CMD_RESET:
		reset = true;
		break;
	default:
		log_ratelimited(LOG_DEBUG, "i8042: ignoring command 0x%02x", data[0]);
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

	(void)size;
	if (offset != 0)
		return;
	pthread_mutex_lock(&k->lock);
	/* Without a pending command the byte is for the keyboard, which we do
	 * not model: i8042.dumbkbd keeps Linux from sending any. */
	if (k->pending == CMD_WRITE_CTR)
		k->ctr = data[0];
	k->pending = 0;
	update_irq_locked(k);
	pthread_mutex_unlock(&k->lock);
}

const struct bus_ops i8042_data_ops = { .read = i8042_data_read, .write = i8042_data_write };
const struct bus_ops i8042_cmd_ops = { .read = i8042_cmd_read, .write = i8042_cmd_write };

void i8042_init(struct i8042 *k, void (*reset)(void *opaque), void *opaque,
		void (*irq)(void *irq_opaque, int level), void *irq_opaque)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->reset = reset;
	k->opaque = opaque;
	k->irq = irq;
	k->irq_opaque = irq_opaque;
	k->ctr = CTR_BOOT;
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
	if (k->ctr & CTR_XLATE) {
		seq = cad_set1;
		n = sizeof(cad_set1);
	} else {
		seq = cad_set2;
		n = sizeof(cad_set2);
	}
	if (I8042_FIFO - k->len < n) {
		pthread_mutex_unlock(&k->lock);
		return -ENOSPC;
	}
	for (size_t i = 0; i < n; i++) {
		k->fifo[(k->head + k->len) % I8042_FIFO] = seq[i];
		k->len++;
	}
	update_irq_locked(k);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

/* Snapshot section, version 1: command byte, pending command, IRQ level,
 * then the output FIFO (length u8, bytes oldest first). */
static int snap_save(const void *dev, struct snap_writer *w)
{
	/* The lock is the only thing save changes (Ctrl-Alt-Del comes from the loop). */
	struct i8042 *k = (struct i8042 *)(uintptr_t)dev;

	pthread_mutex_lock(&k->lock);
	snap_w_u8(w, k->ctr);
	snap_w_u8(w, k->pending);
	snap_w_u8(w, (uint8_t)k->irq_level);
	snap_w_u8(w, (uint8_t)k->len);
	for (unsigned i = 0; i < k->len; i++)
		snap_w_u8(w, k->fifo[(k->head + i) % I8042_FIFO]);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

/* The pending command can only be CMD_WRITE_CTR, and the IRQ level must be
 * what the FIFO and command byte imply. The line is not driven: the
 * restored irqchip holds it. */
static int snap_restore(void *dev, struct snap_reader *r, uint32_t version)
{
	struct i8042 *k = dev;
	uint8_t ctr = snap_r_u8(r), pending = snap_r_u8(r), level = snap_r_u8(r);
	uint8_t len = snap_r_u8(r);
	uint8_t fifo[I8042_FIFO];

	(void)version;
	if (r->failed)
		return -EBADMSG;
	if (pending != 0 && pending != CMD_WRITE_CTR)
		return snap_r_fail(r, "pending command %#x (only %#x takes a parameter)", pending,
				   CMD_WRITE_CTR);
	if (len > I8042_FIFO)
		return snap_r_fail(r, "output FIFO holds %u bytes (at most %u)", len, I8042_FIFO);
	if (level != (len > 0 && (ctr & CTR_KBDINT)))
		return snap_r_fail(r, "IRQ level %u, but the FIFO and command byte say %d", level,
				   len > 0 && (ctr & CTR_KBDINT));
	snap_r_bytes(r, fifo, len);
	if (r->failed)
		return -EBADMSG;
	pthread_mutex_lock(&k->lock);
	k->ctr = ctr;
	k->pending = pending;
	memcpy(k->fifo, fifo, len);
	k->head = 0;
	k->len = len;
	k->irq_level = level;
	pthread_mutex_unlock(&k->lock);
	return 0;
}

const struct snap_dev_ops i8042_snap_ops = {
	.tag = SNAP_TAG_DEV_I8042,
	.version = 1,
	.save = snap_save,
	.restore = snap_restore,
};
