/* vdev: what a virtio device is to its transport and to the machine: one ops table, one set of hooks.
 *
 * Contract:
 * - Every virtio device (blk, rng, vsock) embeds a struct vdev and points
 *   vdev.ops at its ops table. The transport (mmio.h) and the machine hold
 *   only the struct vdev *; each callback gets it back and finds its device
 *   with vdev_of(). Devices do not know which transport they sit on.
 * - The ops table: identity (device id, queues, features, config size), the
 *   transport's callbacks (config_read/config_write, activate with checked
 *   queues, notify, reset: vCPU threads, under the transport lock; see
 *   mmio.h), process() (the event-loop thread: serve queue q, or with
 *   VDEV_OWN_EVENT the device's own fd, own_fd(), which the machine watches
 *   too), and the device's snapshot section (snapshot/dev.h; it is given the
 *   struct vdev *).
 * - The hooks are the machine's, set before the transport can activate the
 *   device: kick (run process(q) on the loop soon), used (chains were pushed
 *   on q: the transport decides about the interrupt), broken (a queue
 *   reported -EIO: the transport sets DEVICE_NEEDS_RESET). Devices call them
 *   through vdev_kick/vdev_used/vdev_broken, from any thread. */
#ifndef EMBER_VDEV_H
#define EMBER_VDEV_H

#include <stddef.h>
#include <stdint.h>

struct vq;
struct snap_dev_ops;
struct vdev;

/* process()'s queue number for the device's own fd. */
#define VDEV_OWN_EVENT (~0u)

struct vdev_ops {
	const char *name;
	uint32_t device_id;	 /* 5 Device Types */
	uint16_t num_queues;	 /* 1..VMMIO_MAX_QUEUES */
	uint16_t max_queue_size; /* power of two, <= VQ_SIZE_MAX */
	uint64_t features;	 /* device features; VERSION_1 and VQ_FEATURES are added */
	uint32_t config_size;	 /* bytes of config space */
	void (*config_read)(struct vdev *d, uint32_t off, uint8_t *data, unsigned size);
	void (*config_write)(struct vdev *d, uint32_t off, const uint8_t *data, unsigned size);
	/* Queues are checked; features are the negotiated set. 0 or -errno. */
	int (*activate)(struct vdev *d, struct vq *queues, uint64_t features);
	void (*notify)(struct vdev *d, unsigned q);
	void (*reset)(struct vdev *d);
	void (*process)(struct vdev *d, unsigned q);
	/* An fd the loop watches besides the queues (process(VDEV_OWN_EVENT)), or NULL. */
	int (*own_fd)(const struct vdev *d);
	/* The device's own snapshot section, after the transport's; NULL: none. */
	const struct snap_dev_ops *snap;
};

struct vdev_hooks {
	void (*kick)(void *opaque, unsigned q);
	void (*used)(void *opaque, unsigned q);
	void (*broken)(void *opaque);
	void *opaque;
};

struct vdev {
	const struct vdev_ops *ops;
	struct vdev_hooks hooks;
};

/* The device that embeds vdev as its member `vdev`. */
#define vdev_of(d, type) ((type *)((char *)(d)-offsetof(type, vdev)))

/* A hook not set (a device not attached to a transport) does nothing. */
static inline void vdev_kick(struct vdev *d, unsigned q)
{
	if (d->hooks.kick != NULL)
		d->hooks.kick(d->hooks.opaque, q);
}

static inline void vdev_used(struct vdev *d, unsigned q)
{
	if (d->hooks.used != NULL)
		d->hooks.used(d->hooks.opaque, q);
}

static inline void vdev_broken(struct vdev *d)
{
	if (d->hooks.broken != NULL)
		d->hooks.broken(d->hooks.opaque);
}

#endif
