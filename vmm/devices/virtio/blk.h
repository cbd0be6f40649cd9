/* blk: virtio-blk (virtio 1.x 5.2, device id 2) backed by a host file, read-only or read-write.
 *
 * Contract:
 * - One queue. A request is a chain whose readable part starts with the
 *   16-byte header (type, reserved, sector), followed for OUT by the data;
 *   its writable part holds, for IN and GET_ID, the data and then, always,
 *   one status byte (the last writable byte). The header is copied out once
 *   (vq_chain_read) and only the copy is checked and used.
 * - Outcomes, one per kind of request (the status byte is written last,
 *   after all data):
 *     IN/OUT inside [0, capacity) with a length multiple of 512 -> OK;
 *     out of range, overflowing, or not a multiple of 512      -> IOERR;
 *     OUT or a write-back on a read-only drive                   -> IOERR
 *       (VIRTIO_BLK_F_RO is offered, so a driver never sends one);
 *     host I/O error or short transfer                           -> IOERR;
 *     FLUSH -> fdatasync(), OK or IOERR; GET_ID -> the drive id, zero-padded
 *       to VBLK_ID_BYTES (cut to the buffer), OK;
 *     any other type -> UNSUPP; a header shorter than 16 bytes -> IOERR.
 *   A chain with no writable byte has nowhere to put a status: it is pushed
 *   back with 0 bytes written and a rate-limited warning. Each request is
 *   answered and the device goes on; only -EIO from the queue core (a broken
 *   ring) is fatal to the device, through vdev_broken (NEEDS_RESET).
 * - Config space (5.2.4): capacity in 512-byte sectors (the file size rounded
 *   down), size_max, seg_max = VQ_MAX_SEGS - 2 (header and status); features
 *   SIZE_MAX, SEG_MAX, FLUSH, and RO for a read-only drive. Config writes are
 *   ignored (no writable field is offered).
 * - Bounded work: vblk_process() serves at most one queue's worth of chains,
 *   then re-kicks through vdev_kick if more may be waiting.
 * - Threads: ops->activate/reset/notify run on a vCPU thread under the
 *   transport lock; vblk_process() runs on the event-loop thread and does
 *   the file I/O there (pread/pwrite). Both take the device's lock, so after
 *   reset returns the loop no longer touches the queue.
 * Errors: vblk_open() returns -errno and writes a reason into err. */
#ifndef EMBER_VBLK_H
#define EMBER_VBLK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/devices/virtio/mmio.h"
#include "vmm/devices/virtio/queue.h"
#include "vmm/stats.h"

#define VBLK_QUEUE_SIZE	 256u
#define VBLK_SECTOR_SIZE 512u
#define VBLK_ID_BYTES	 20u	    /* 5.2.6: GET_ID returns 20 bytes */
#define VBLK_SIZE_MAX	 (1u << 20) /* largest segment we advertise */
#define VBLK_SEG_MAX	 (VQ_MAX_SEGS - 2u)

/* 5.2.3 Feature bits. */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX  2
#define VIRTIO_BLK_F_RO	      5
#define VIRTIO_BLK_F_FLUSH    9

/* 5.2.6 Device Operation: request types and status values. */
#define VIRTIO_BLK_T_IN	    0u
#define VIRTIO_BLK_T_OUT    1u
#define VIRTIO_BLK_T_FLUSH  4u
#define VIRTIO_BLK_T_GET_ID 8u
#define VIRTIO_BLK_S_OK	    0u
#define VIRTIO_BLK_S_IOERR  1u
#define VIRTIO_BLK_S_UNSUPP 2u
#define VBLK_HDR_SIZE	    16u

/* 5.2.4 Device configuration layout: the fields ember offers. */
#define VBLK_CFG_CAPACITY 0u  /* le64 */
#define VBLK_CFG_SIZE_MAX 8u  /* le32 */
#define VBLK_CFG_SEG_MAX  12u /* le32 */
#define VBLK_CFG_SIZE	  16u

struct vblk {
	struct vdev vdev; /* vdev.ops = &ops */
	pthread_mutex_t lock;
	struct vblk_stats stats;
	struct vdev_ops ops; /* vblk_ops, with RO added for a read-only drive */
	int fd;
	bool read_only;
	uint64_t capacity; /* sectors */
	char id[VBLK_ID_BYTES];
	uint8_t config[VBLK_CFG_SIZE];
	struct vq *vq;	       /* the transport's queue while active, else NULL */
	struct vq_chain chain; /* scratch for vblk_process(), under the lock */
};

extern const struct vdev_ops vblk_ops;
/* The device's snapshot section (vblk_ops.snap): capacity, read-only flag
 * and id, refused on restore if the reopened drive differs. */
extern const struct snap_dev_ops vblk_snap_ops;

/* Opens path (O_RDONLY for a read-only drive); id is cut to VBLK_ID_BYTES. */
int vblk_open(struct vblk *b, const char *path, bool read_only, const char *id, char *err,
	      size_t errlen);
void vblk_close(struct vblk *b);
/* Firecracker's PATCH /drives: serve the drive from another file from now
 * on, with that file's capacity (same read-only mode). The caller then
 * tells the guest that the config changed (vmmio_config_changed). Loop
 * thread; -errno with err set if the new file cannot be used (the old one
 * stays). */
int vblk_replace_backing(struct vblk *b, const char *path, char *err, size_t errlen);
/* Serve queue q (event-loop thread; vblk_ops.process). */
void vblk_process(struct vdev *d, unsigned q);

#endif
