/* vsock: the virtio-vsock device (virtio 1.2 §5.10): queues, config, the device thread's work.
 *
 * Contract:
 * - Device ID 19, three queues (VSOCK_Q_RX, VSOCK_Q_TX, VSOCK_Q_EVENT), all
 *   three required: activate() refuses (-EINVAL, so the transport sets
 *   NEEDS_RESET) unless each is active, and the queue loops use a queue only
 *   while it is live (active, not broken, size > 0). Config
 *   space = le64 guest_cid (read-only; writes are ignored), no device
 *   features beyond VERSION_1 (added by the transport); STREAM is implied
 *   (5.10.3).
 * - The device owns one epoll fd (vsock_fd) holding its wake eventfd, the
 *   listening socket U, the CONNECT-line timer (hybrid.h) and every host
 *   connection. The builder adds vsock_fd
 *   to the event loop (EPOLLIN) and calls vsock_run() when it is readable.
 *   ops->notify only writes the wake eventfd, so a kick may come from any
 *   thread (vCPU, ioeventfd handler).
 * - vsock_run() does bounded work per call: at most VSOCK_EVENTS_BURST host
 *   events, one queue's worth of TX chains, one queue's worth of RX chains;
 *   if it stopped on a bound it wakes itself again. Each TX chain goes back
 *   to the driver at once (TX never waits on a host socket: see conn.h).
 *   One RX chain may be held between calls when the packet it was popped
 *   for turned out not ready. An RX chain shorter than a header is returned
 *   empty (rate-limited log). A queue that reports -EIO calls vdev_broken
 *   and the device stops using its queues until reset.
 * - vsock_transport_reset() forgets all connections (host sockets closed,
 *   U stays) and sends VIRTIO_VSOCK_EVENT_TRANSPORT_RESET on the event queue
 *   as soon as the driver gave a buffer (snapshot restore). Until it is
 *   sent, RX waits: packets of new connections (host CONNECTs are accepted
 *   at once) reach the guest after the reset, which would kill them.
 * - Threads: vsock_run() on the event-loop thread; activate/reset/notify/
 *   config from vCPU threads. A device mutex serialises vsock_run against
 *   activate/reset, so reset stops all queue use before it returns. */
#ifndef EMBER_VSOCK_H
#define EMBER_VSOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/devices/virtio/mmio.h"
#include "vmm/devices/virtio/vsock/conn.h"

#define VSOCK_Q_RX	   0u
#define VSOCK_Q_TX	   1u
#define VSOCK_Q_EVENT	   2u
#define VSOCK_NUM_QUEUES   3u
#define VSOCK_QUEUE_MAX	   256u
#define VSOCK_CONFIG_SIZE  8u /* le64 guest_cid */
#define VSOCK_EVENTS_BURST 64u
#define VSOCK_CID_MIN	   3u /* 0-2 are reserved (5.10.4) */

struct vsock_dev {
	struct vdev vdev; /* vdev.ops = &vsock_ops */
	pthread_mutex_t lock;
	int epfd, wakefd, lfd, timerfd;
	struct vq *q; /* the transport's queues, from activate() to reset() */
	bool active;
	bool rx_held, event_pending;
	bool event_unacked;   /* the reset went out; the guest has not handled it yet */
	uint16_t event_avail; /* the event queue's avail idx when it went out */
	struct vq_chain rx_chain, tx_chain, ev_chain;
	struct vsock_conns conns;
};

extern const struct vdev_ops vsock_ops;
/* The device's snapshot section (vsock_ops.snap): guest CID and the
 * pending-event and held-RX flags; no connection. Restore (after the
 * transport's) re-queues a held RX chain and, if the driver is up, does
 * vsock_transport_reset(). */
extern const struct snap_dev_ops vsock_snap_ops;

/* guest_cid >= VSOCK_CID_MIN (and < 2^32 - 1); listens on uds_path. */
int vsock_create(uint64_t guest_cid, const char *uds_path, struct vsock_dev **out);
/* Closes everything and unlinks nothing (the builder owns U's lifetime). */
void vsock_destroy(struct vsock_dev *d);
int vsock_fd(const struct vsock_dev *d);
void vsock_run(struct vsock_dev *d);
void vsock_transport_reset(struct vsock_dev *d);

#endif
