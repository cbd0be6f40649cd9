/* mmio: the virtio-mmio v2 transport: registers, features, the status table and queue setup.
 *
 * Contract:
 * - The transport owns everything the driver writes through the registers
 *   (4.2.2): feature selects, QueueSel, queue setup, status, interrupt ack.
 *   The device (vdev.h) sees only its ops table's callbacks and, from
 *   activate() on, checked queues (queue.h). Devices do not know they sit on MMIO.
 * - Status changes follow status_table in mmio.c: 0 -> ACKNOWLEDGE ->
 *   DRIVER -> FEATURES_OK -> DRIVER_OK, FAILED from anywhere, 0 resets.
 *   Anything else is refused and the status stays. FEATURES_OK is refused
 *   if the driver accepted a feature the device did not offer, or did not
 *   accept VIRTIO_F_VERSION_1. DRIVER_OK activates every ready queue through
 *   vq_activate() and then the device; if either fails the device is marked
 *   DEVICE_NEEDS_RESET (with a config interrupt) and no queue runs.
 * - QueueSel may hold any value; queue registers of a queue that does not
 *   exist read 0 and ignore writes. Queue setup registers are writable only
 *   after FEATURES_OK, before DRIVER_OK, and while the queue is not ready.
 *   DriverFeatures is writable only between DRIVER and FEATURES_OK.
 * - Register accesses must be 32 bits wide and aligned; config space
 *   (offset >= 0x100) takes any width inside ops->config_size. Refused
 *   accesses read as 0, are otherwise ignored, and are logged rate-limited.
 *   Nothing a guest writes can crash the VMM or leave the transport in a
 *   state outside the table.
 * - Threads: vmmio_read/vmmio_write run on vCPU threads and take the lock;
 *   the ops they call (config_*, activate, notify, reset) run under it and
 *   must not call back into vmmio_read/vmmio_write. ops->notify only wakes
 *   the device's thread. vmmio_interrupt(), vmmio_used() and
 *   vmmio_queue_broken() are lock-free and meant for the device's thread,
 *   which owns the queues after activate(); ops->reset must stop that
 *   thread's use of the queues before it returns.
 * - Hooks for the builder: `irq` is called each time an interrupt bit goes
 *   from clear to set (connect it to an irqfd); QueueNotify writes call
 *   ops->notify unless the builder routes them to an ioeventfd instead. */
#ifndef EMBER_VMMIO_H
#define EMBER_VMMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/core/bus.h"
#include "vmm/core/gmem.h"
#include "vmm/devices/virtio/queue.h"
#include "vmm/devices/virtio/vdev.h"
#include "vmm/devices/virtio/virtio.h"

#define VMMIO_MAX_QUEUES 8
#define VMMIO_VENDOR_ID	 0x52424d45u /* "EMBR" */

struct vmmio_irq {
	void (*raise)(void *opaque); /* an interrupt bit became set */
	void *opaque;
};

struct vmmio {
	pthread_mutex_t lock;
	struct vdev *dev; /* dev->ops: the device's ops table (vdev.h) */
	const struct gmem *gm;
	struct vmmio_irq irq;

	uint32_t status; /* driver-visible bits, without NEEDS_RESET; written under
			  * the lock, read atomically by the device thread */
	uint32_t dev_features_sel, drv_features_sel, queue_sel;
	uint64_t driver_features;
	bool driver_features_bad; /* wrote a bit in a page beyond 64 */
	uint32_t config_generation;
	uint32_t interrupt_status; /* atomic */
	bool needs_reset;	   /* atomic */
	struct vq queues[VMMIO_MAX_QUEUES];
	bool ready[VMMIO_MAX_QUEUES]; /* QueueReady as the driver wrote it */
};

extern const struct bus_ops vmmio_bus_ops;

/* -EINVAL if ops are inconsistent (no queues, too many, bad max size). */
int vmmio_init(struct vmmio *t, struct vdev *dev, const struct gmem *gm, struct vmmio_irq irq);
void vmmio_destroy(struct vmmio *t);

/* Register access; offset is from the device's base, size 1..8. */
void vmmio_read(struct vmmio *t, uint64_t offset, uint8_t *data, unsigned size);
void vmmio_write(struct vmmio *t, uint64_t offset, const uint8_t *data, unsigned size);

/* Device side. vmmio_used(): after pushing on queue q, raise the used-buffer
 * interrupt if the queue says the driver wants one. */
void vmmio_interrupt(struct vmmio *t, uint32_t bits);
void vmmio_used(struct vmmio *t, unsigned q);
/* A queue reported -EIO: stop all queues, set DEVICE_NEEDS_RESET, config interrupt. */
void vmmio_queue_broken(struct vmmio *t);
/* The device changed its config space: bump ConfigGeneration, config interrupt. */
void vmmio_config_changed(struct vmmio *t);

/* Status as the driver reads it (NEEDS_RESET included). */
uint32_t vmmio_status(struct vmmio *t);

/* Snapshot hooks for the transport (mmio_snap.c; dev is a struct vmmio).
 * save: registers, negotiated features and each queue's setup and
 * positions. Call it with the vCPUs parked and no device work running (the
 * event-loop thread, or the loop stopped).
 * restore: into a transport fresh from vmmio_init() over the same device
 * kind, before any vCPU or the event loop runs. It replays the driver's
 * register writes through vmmio_write() (status bit by bit through the
 * status table, features, queue setup), so DRIVER_OK activates the queues
 * (vq_activate: size, ring ranges in gmem) and the device as a live guest's
 * write would; then it sets the queue positions, checked against the queue
 * size, and the interrupt status, raising no interrupt (the guest's pending
 * interrupts are in the restored irqchip). Finally it kicks every active
 * queue through ops->notify, so requests the guest made available before
 * the snapshot, whose kick may have been lost, are served. An invalid
 * field: -EBADMSG, logged with the field's name. */
extern const struct snap_dev_ops vmmio_snap_ops;

#endif
