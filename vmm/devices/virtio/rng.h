/* rng: virtio-rng (virtio 1.x 5.4, device id 4), fed from getrandom().
 *
 * Contract:
 * - One queue ("requestq") of device-writable buffers. Each chain's writable
 *   part is filled with bytes from getrandom() and pushed back with its
 *   length; a readable part is ignored (the spec has none; 5.4.6.1 says the
 *   device fills what it can). No config space, no features.
 * - Bounded work: vrng_process() serves at most one queue's worth of chains
 *   (the queue size) and VRNG_MAX_BYTES_PER_KICK bytes, then asks for another
 *   round through vdev_kick, so the event loop stays fair to other fds.
 * - Guest misbehaviour: vq_pop/vq_push -EIO -> vdev_broken (the transport
 *   marks NEEDS_RESET); nothing else a guest writes is an error here.
 * - Threads: ops->activate/reset/notify run on a vCPU thread under the
 *   transport lock; vrng_process() runs on the event-loop thread. Both take
 *   the device's lock, so after reset returns the loop no longer touches the
 *   queues. ops->notify only calls vdev_kick (which wakes the loop). */
#ifndef EMBER_VRNG_H
#define EMBER_VRNG_H

#include <pthread.h>
#include <stdbool.h>

#include "vmm/devices/virtio/mmio.h"
#include "vmm/devices/virtio/queue.h"

#define VRNG_QUEUE_SIZE		256u
#define VRNG_MAX_BYTES_PER_KICK (1u << 20)

struct vrng {
	struct vdev vdev; /* vdev.ops = &vrng_ops */
	pthread_mutex_t lock;
	struct vq *vq;	       /* the transport's queue while active, else NULL */
	uint64_t bytes;	       /* handed to the guest, for tests and stats */
	struct vq_chain chain; /* scratch for vrng_process(), under the lock */
};

extern const struct vdev_ops vrng_ops;
/* The device's snapshot section (vrng_ops.snap): empty, the state is the
 * transport's. */
extern const struct snap_dev_ops vrng_snap_ops;

int vrng_init(struct vrng *r);
void vrng_destroy(struct vrng *r);
/* Serve queue q (event-loop thread; vrng_ops.process). */
void vrng_process(struct vdev *d, unsigned q);

#endif
