/* snap dev: the hook through which a device saves its state into, and restores it from, a section.
 *
 * Contract (the virtio-mmio transport, blk, rng and vsock implement it, and
 * virtio_slots_save/restore call them in slot order; serial and i8042 too,
 * called by the builder):
 * - Each device kind owns one tag (SNAP_TAG_DEV_*) and a layout version. A
 *   device's state is one section; the helper puts the device's instance
 *   number (its slot) first, so several devices of one kind can share a tag.
 * - save() writes a plain state struct field by field (snap_w_*), never a
 *   pointer, an fd or a live connection: those are reopened from the config
 *   on restore (vsock connections are not saved at all, as in Firecracker).
 *   It runs on the thread that paused the VM, with every vCPU parked.
 * - restore() reads with the bounded reader, refuses a version newer than it
 *   knows, and must push what it read through the same validators as live
 *   guest input (queue addresses through gmem_slice and the queue layer's
 *   checks, the status through the transport's transition table, indices
 *   against the queue size). A snapshot file is host input, but a hostile
 *   guest wrote much of what it holds; restore is an input path. On an
 *   invalid field it returns -EBADMSG via snap_r_fail, naming the field.
 * - snap_dev_save()/snap_dev_restore() wrap a device's ops in the section
 *   framing; restore finds the section by (tag, instance) and checks that
 *   the payload was consumed exactly (snap_r_done). */
#ifndef EMBER_SNAP_DEV_H
#define EMBER_SNAP_DEV_H

#include "lib/snapfile/format.h"

/* Device tags. The range is reserved here so the top-level decoder knows them. */
#define SNAP_TAG_DEV_MMIO  SNAP_TAG('D', 'M', 'I', 'O') /* virtio-mmio transport */
#define SNAP_TAG_DEV_BLK   SNAP_TAG('D', 'B', 'L', 'K')
#define SNAP_TAG_DEV_VSOCK SNAP_TAG('D', 'V', 'S', 'K')
#define SNAP_TAG_DEV_RNG   SNAP_TAG('D', 'R', 'N', 'G')
#define SNAP_TAG_DEV_UART  SNAP_TAG('D', 'U', 'R', 'T')
#define SNAP_TAG_DEV_I8042 SNAP_TAG('D', 'K', 'B', 'D')

struct snap_dev_ops {
	uint32_t tag;
	uint32_t version; /* of the layout save() writes */
	int (*save)(const void *dev, struct snap_writer *w);
	/* version is the section's, at most ops->version (checked by the helper). */
	int (*restore)(void *dev, struct snap_reader *r, uint32_t version);
};

int snap_dev_save(const struct snap_dev_ops *ops, const void *dev, uint32_t instance,
		  struct snap_writer *w);
/* -ENOENT (logged) if the file has no section for (tag, instance). */
int snap_dev_restore(const struct snap_dev_ops *ops, void *dev, uint32_t instance,
		     const struct snap_file *f);

#endif
