/* queue: the split virtqueue, the only code that reads rings; turns them into checked buffers.
 *
 * Contract:
 * - The transport fills in size and the three ring addresses while the
 *   driver sets the queue up, and sets the negotiated ring features
 *   (VQ_FEATURES); vq_activate() then checks them: size is a power of two,
 *   1..max_size (max_size <= VQ_SIZE_MAX), and the descriptor table (align
 *   16, 16*size bytes), available ring (align 2, 6+2*size) and used ring
 *   (align 4, 6+8*size) each lie wholly inside one gmem region. -EINVAL
 *   otherwise, and the queue stays inactive.
 * - vq_pop() hands out the next chain as host buffers: all device-readable
 *   segments first, then all device-writable ones, at most VQ_MAX_SEGS in all,
 *   each from gmem_slice(). Zero-length buffers are skipped. It checks the
 *   avail index distance (<= size) and head < size, copies every descriptor
 *   once before looking at it, and checks next < size, a TTL (the chain may
 *   visit at most `size` descriptors; an indirect table at most its entry
 *   count), the indirect rules (feature negotiated, not nested, not with
 *   NEXT, length a non-zero multiple of 16 and <= 16*VQ_MAX_SEGS, table in
 *   gmem), each buffer's range, the readable and writable totals (each must
 *   fit in 32 bits) and readable-before-writable.
 * - Any violation has one outcome: the queue becomes broken, the call
 *   returns -EIO, every later vq_pop()/vq_push() returns -EIO, and a
 *   rate-limited warning names the rule. The owner (the transport) then sets
 *   DEVICE_NEEDS_RESET. Nothing outside gmem is ever read or written, and
 *   every loop is bounded by the queue size.
 * - EVENT_IDX: a pop that finds the queue empty publishes avail_event =
 *   the next index it will consume (so the driver kicks for it) and looks
 *   once more; vq_should_interrupt() applies used_event. Without it, the
 *   driver's NO_INTERRUPT flag is honoured and the device never sets
 *   NO_NOTIFY (kicks are cheap through an ioeventfd).
 * - Chains point into guest memory: the guest may change buffer contents at
 *   any time, so devices copy request headers out (vq_chain_read) before
 *   checking them. A chain stays valid until its head is pushed back.
 * - Threads: after activation a queue belongs to one thread (the device's),
 *   no locking inside. Ring accesses use the barriers of 2.7.7 / 2.7.13.
 * Errors: -EINVAL (bad setup or argument), -EAGAIN (nothing to pop),
 * -EIO (broken). */
#ifndef EMBER_VQ_H
#define EMBER_VQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/core/gmem.h"
#include "vmm/devices/virtio/virtio.h"

/* Largest queue size any device may offer, and the most buffers in one chain
 * (direct or through an indirect table). Devices that advertise a segment
 * limit (virtio-blk seg_max) keep it within VQ_MAX_SEGS minus their headers. */
#define VQ_SIZE_MAX 256u
#define VQ_MAX_SEGS 256u

/* Ring features the queue core implements; the transport offers them. */
#define VQ_FEATURES (VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX))

struct vq_seg {
	uint8_t *host; /* inside gmem, valid for len bytes */
	uint32_t len;
	gpa_t gpa; /* where host is in the guest */
};

/* One validated chain: seg[0..nread) device-readable, then seg[nread..nread+nwrite)
 * device-writable. read_len/write_len are the byte totals of each part. */
struct vq_chain {
	uint16_t head;
	unsigned nread, nwrite;
	uint32_t read_len, write_len;
	struct vq_seg seg[VQ_MAX_SEGS];
};

struct vq {
	/* Set up by the transport before vq_activate(). */
	const char *name; /* for messages, e.g. "vsock.rx" */
	uint16_t size;
	gpa_t desc_gpa, avail_gpa, used_gpa;
	uint64_t features; /* negotiated; only VQ_FEATURES bits matter */

	/* Owned by the queue core after vq_activate(). */
	const struct gmem *gm;
	bool active, broken;
	uint8_t *desc, *avail, *used; /* host views of the three rings */
	uint16_t last_avail;	      /* next avail slot to consume */
	uint16_t used_idx;	      /* next used slot to fill */
	uint16_t signalled_used;      /* used_idx when we last decided to interrupt */
};

/* Checks the setup and starts the queue with indices at 0. */
int vq_activate(struct vq *vq, const struct gmem *gm, uint16_t max_size);
/* Forgets everything, setup included (device reset). */
void vq_reset(struct vq *vq);
/* Stops the queue for good until reset (used by the transport on NEEDS_RESET). */
void vq_set_broken(struct vq *vq);

/* Snapshot restore: gives back the newest chain popped and not yet pushed,
 * so that the next vq_pop() returns it again (a device that held a chain
 * across the snapshot). Its avail ring slot is still the driver's: the
 * driver cannot reuse it while the chain is out. -EINVAL if the queue is not
 * active or no chain is out (last_avail == used_idx). */
int vq_unpop(struct vq *vq);

/* Snapshot restore: where an active queue stood (what vq_pop/vq_push would
 * have left). The device pops and pushes in pairs (vsock may hold one RX
 * chain), so at most `size` chains can be out: -EINVAL unless
 * last_avail - used_idx <= size, or if the queue is not active.
 * signalled_used only decides whether the next push interrupts, so any value
 * is safe. The avail index itself is the guest's, in guest memory: vq_pop()
 * checks it at each pop, as for a live guest. */
int vq_set_positions(struct vq *vq, uint16_t last_avail, uint16_t used_idx,
		     uint16_t signalled_used);

/* 0 and *out filled, -EAGAIN if the driver made nothing available, -EIO if broken. */
int vq_pop(struct vq *vq, struct vq_chain *out);
/* Returns a chain to the driver with `written` bytes written into its writable part
 * (the device passes at most the chain's write_len). -EINVAL if the queue is not
 * active or head >= size (a caller bug); -EIO if the queue is broken. */
int vq_push(struct vq *vq, uint16_t head, uint32_t written);
/* Marks c's writable part dirty again. vq_pop() marks it, and a snapshot
 * clears the marks: a device that keeps a popped chain and writes into it
 * after a snapshot calls this before vq_push(), or a Diff snapshot misses
 * what it wrote. */
void vq_chain_mark_written(const struct vq *vq, const struct vq_chain *c);
/* The driver's avail idx as it is now (guest-written: only compare it for
 * change, never use it as an index); 0 on an inactive queue. */
uint16_t vq_avail_idx(const struct vq *vq);
/* Asks the driver to notify the device when it next makes a buffer
 * available, even though buffers are still pending (EVENT_IDX's avail_event;
 * without EVENT_IDX the driver notifies anyway). */
void vq_request_kick(struct vq *vq);
/* After one or more vq_push(): true if the driver wants an interrupt now
 * (EVENT_IDX used_event, or no NO_INTERRUPT flag). Consumes the decision. */
bool vq_should_interrupt(struct vq *vq);

/* The one walk over a chain's segments: points iov[] at its readable part
 * (writable false) or its writable part, starting `off` bytes in, for at most
 * `len` bytes in all. Returns the entries filled: at most VQ_MAX_SEGS, so an
 * array of that many always fits. Devices move bytes through these iovecs
 * (memcpy, preadv, sendmsg), never by indexing seg[] themselves. */
size_t vq_chain_iov(const struct vq_chain *c, bool writable, size_t off, size_t len,
		    struct iovec *iov);

/* Copy from the readable part starting at byte `off` / into the writable part
 * starting at byte `off`. Return the bytes copied (short at the end of the part). */
size_t vq_chain_read(const struct vq_chain *c, size_t off, void *dst, size_t len);
size_t vq_chain_write(const struct vq_chain *c, size_t off, const void *src, size_t len);

#endif
