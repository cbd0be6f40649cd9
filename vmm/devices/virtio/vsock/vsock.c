/* vsock: virtio-vsock device glue: vmmio ops, the TX/RX/event queue loops, bounded per run. */
#include "vmm/devices/virtio/vsock/vsock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "vmm/snapshot/dev.h"
#include "vmm/devices/virtio/vsock/hybrid.h"
#include "lib/util/log.h"

static void wake(struct vsock_dev *d)
{
	uint64_t one = 1;

	(void)!write(d->wakefd, &one, sizeof(one));
}

static void broken(struct vsock_dev *d)
{
	d->active = false;
	d->rx_held = false;
	vdev_broken(&d->vdev);
}

static void used(struct vsock_dev *d, unsigned q)
{
	vdev_used(&d->vdev, q);
}

/* A queue the loops may use: activated, not broken, with slots. A loop over
 * a queue that is not (size 0) would find itself "at its bound" at once and
 * wake the device again forever. */
static bool live(const struct vq *vq)
{
	return vq->active && !vq->broken && vq->size > 0;
}

/* Returns true if it stopped on its bound (more may be waiting). */
static bool run_tx(struct vsock_dev *d)
{
	struct vq *vq = &d->q[VSOCK_Q_TX];
	unsigned n = 0;
	bool more = false;

	if (!live(vq)) {
		broken(d);
		return false;
	}
	for (unsigned i = 0;; i++) {
		struct vsock_hdr h;
		const char *why;
		int ret;

		if (i >= vq->size) {
			more = true;
			break;
		}
		if (vsock_conns_rst_full(&d->conns))
			break; /* backpressure: RX must drain the replies first */
		ret = vq_pop(vq, &d->tx_chain);
		if (ret == -EAGAIN)
			break;
		if (ret < 0) {
			broken(d);
			return false;
		}
		switch (vsock_pkt_parse(&d->tx_chain, d->conns.guest_cid, &h, &why)) {
		case VSOCK_PKT_OK:
			vsock_conn_guest_pkt(&d->conns, &h, &d->tx_chain);
			break;
		case VSOCK_PKT_RST:
			log_ratelimited(LOG_WARN, "vsock: guest packet refused with RST: %s", why);
			(void)vsock_conns_queue_rst(&d->conns, &h);
			break;
		case VSOCK_PKT_DROP:
			log_ratelimited(LOG_WARN, "vsock: guest packet dropped: %s", why);
			break;
		}
		if (vq_push(vq, d->tx_chain.head, 0) < 0) {
			broken(d);
			return false;
		}
		n++;
	}
	if (n > 0)
		used(d, VSOCK_Q_TX);
	return more;
}

static bool run_rx(struct vsock_dev *d)
{
	struct vq *vq = &d->q[VSOCK_Q_RX];
	unsigned n = 0;
	bool more = false;

	if (!live(vq)) {
		broken(d);
		return false;
	}
	for (unsigned i = 0;; i++) {
		uint32_t written = 0;
		bool kept = d->rx_held; /* from an earlier pass: a snapshot may have come since */
		int ret;

		if (i >= vq->size) {
			more = true;
			break;
		}
		if (!d->rx_held) {
			ret = vq_pop(vq, &d->rx_chain);
			if (ret == -EAGAIN)
				break;
			if (ret < 0) {
				broken(d);
				return false;
			}
			d->rx_held = true;
		}
		if (d->rx_chain.write_len < VSOCK_HDR_SIZE) {
			log_ratelimited(LOG_WARN, "vsock: rx buffer of %u bytes is too short",
					d->rx_chain.write_len);
		} else if (!vsock_conns_fill_rx(&d->conns, &d->rx_chain, &written)) {
			break; /* nothing to send: keep the chain for later */
		}
		d->rx_held = false;
		if (kept)
			vq_chain_mark_written(vq, &d->rx_chain);
		if (vq_push(vq, d->rx_chain.head, written) < 0) {
			broken(d);
			return false;
		}
		n++;
	}
	if (n > 0)
		used(d, VSOCK_Q_RX);
	return more;
}

static void run_event(struct vsock_dev *d)
{
	struct vq *vq = &d->q[VSOCK_Q_EVENT];
	uint8_t ev[VSOCK_EVENT_SIZE] = { VSOCK_EVENT_TRANSPORT_RESET, 0, 0, 0 };
	uint32_t written = 0;
	int ret;

	if (!live(vq)) {
		broken(d);
		return;
	}
	if (d->event_unacked && vq_avail_idx(vq) != d->event_avail) {
		/* Linux handles an event, then gives the buffer back: a new
		 * buffer means the reset is done in the guest. */
		d->event_unacked = false;
	}
	if (!d->event_pending)
		return;
	ret = vq_pop(vq, &d->ev_chain);
	if (ret == -EAGAIN)
		return;
	if (ret < 0) {
		broken(d);
		return;
	}
	if (d->ev_chain.write_len >= sizeof(ev)) {
		written = (uint32_t)vq_chain_write(&d->ev_chain, 0, ev, sizeof(ev));
		d->event_pending = false;
		d->event_unacked = true;
		d->event_avail = vq_avail_idx(vq);
		/* Linux gives the buffer back after handling the event: make sure
		 * that arrives as a kick, or RX would wait for another wake-up. */
		vq_request_kick(vq);
	} else {
		log_ratelimited(LOG_WARN, "vsock: event buffer too short");
	}
	if (vq_push(vq, d->ev_chain.head, written) < 0) {
		broken(d);
		return;
	}
	used(d, VSOCK_Q_EVENT);
}

static void run_host(struct vsock_dev *d)
{
	struct epoll_event evs[VSOCK_EVENTS_BURST];
	int n = epoll_wait(d->epfd, evs, VSOCK_EVENTS_BURST, 0);
	uint64_t drain;

	for (int i = 0; i < n; i++) {
		uint64_t tag = evs[i].data.u64 & UINT32_MAX;
		uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);

		if (tag == VSOCK_TAG_WAKE) {
			(void)!read(d->wakefd, &drain, sizeof(drain));
		} else if (tag == VSOCK_TAG_LISTEN) {
			vsock_hybrid_accept(&d->conns, d->lfd);
		} else if (tag == VSOCK_TAG_TIMER) {
			vsock_hybrid_expire(&d->conns);
		} else if (tag - VSOCK_TAG_CONN < VSOCK_MAX_CONNS) {
			struct vsock_conn *c = &d->conns.c[tag - VSOCK_TAG_CONN];

			/* An event queued for the slot's previous occupant is stale. */
			if (c->state != VSOCK_CONN_FREE && c->gen == gen)
				vsock_conn_host_event(&d->conns, c, evs[i].events);
		}
	}
	if (n == (int)VSOCK_EVENTS_BURST)
		wake(d);
}

void vsock_run(struct vsock_dev *d)
{
	bool more = false;

	pthread_mutex_lock(&d->lock);
	/* Host events are handled even before the driver is up: accepting and
	 * reading CONNECT lines needs no queue, and level-triggered fds must be
	 * consumed or the loop spins. */
	run_host(d);
	if (d->active) {
		/* A TRANSPORT_RESET (after a snapshot restore) goes first, and RX
		 * waits until the guest has handled it (it gives the event buffer
		 * back): a guest that saw a new connection's REQUEST before its
		 * reset work ran would reset that connection too. */
		bool hold = false;

		run_event(d);
		hold = d->event_pending || d->event_unacked;
		if (d->active)
			more |= run_tx(d);
		if (d->active && !hold)
			more |= run_rx(d);
		/* RST replies drained: TX may continue where it stopped. */
		if (d->active && !vsock_conns_rst_full(&d->conns))
			more |= run_tx(d);
		if (d->active && !hold)
			more |= run_rx(d);
	}
	if (more)
		wake(d);
	pthread_mutex_unlock(&d->lock);
}

void vsock_transport_reset(struct vsock_dev *d)
{
	pthread_mutex_lock(&d->lock);
	vsock_conns_clear(&d->conns);
	d->event_pending = true;
	wake(d);
	pthread_mutex_unlock(&d->lock);
}

static void cfg_read(struct vdev *vd, uint32_t off, uint8_t *data, unsigned size)
{
	struct vsock_dev *d = vdev_of(vd, struct vsock_dev);

	for (unsigned i = 0; i < size; i++)
		data[i] = off + i < VSOCK_CONFIG_SIZE
				  ? (uint8_t)(d->conns.guest_cid >> (8 * (off + i)))
				  : 0;
}

static void cfg_write(struct vdev *vd, uint32_t off, const uint8_t *data, unsigned size)
{
	(void)vd;
	(void)data;
	log_ratelimited(LOG_WARN, "vsock: guest wrote read-only config (%u bytes at %u)", size,
			off);
}

static int activate(struct vdev *vd, struct vq *queues, uint64_t features)
{
	struct vsock_dev *d = vdev_of(vd, struct vsock_dev);

	(void)features;
	/* 5.10.2: all three queues are the device's; a driver that left one out
	 * gets NEEDS_RESET (the transport's outcome for a refused activation). */
	for (unsigned i = 0; i < VSOCK_NUM_QUEUES; i++)
		if (!live(&queues[i])) {
			log_ratelimited(LOG_WARN, "vsock: queue %u is not set up, not activated",
					i);
			return -EINVAL;
		}
	pthread_mutex_lock(&d->lock);
	d->q = queues;
	d->active = true;
	d->rx_held = false;
	wake(d);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static void notify(struct vdev *vd, unsigned q)
{
	(void)q;
	wake(vdev_of(vd, struct vsock_dev));
}

static void dev_reset(struct vdev *vd)
{
	struct vsock_dev *d = vdev_of(vd, struct vsock_dev);

	pthread_mutex_lock(&d->lock);
	d->active = false;
	d->q = NULL;
	d->rx_held = false;
	d->event_pending = false;
	d->event_unacked = false;
	vsock_conns_clear(&d->conns);
	pthread_mutex_unlock(&d->lock);
}

/* Snapshot section, version 1: guest_cid u64, event_pending u8, rx_held u8.
 * Connections are not saved (as in Firecracker): the restored device has
 * none, and its listening socket is the fresh one vsock_create() made. */
static int snap_save(const void *dev, struct snap_writer *w)
{
	/* The lock is the only thing save changes; it keeps vsock_run() out. */
	struct vsock_dev *d = vdev_of((void *)(uintptr_t)dev, struct vsock_dev);

	pthread_mutex_lock(&d->lock);
	snap_w_u64(w, d->conns.guest_cid);
	snap_w_u8(w, d->event_pending);
	snap_w_u8(w, d->rx_held);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

/* After the transport's restore (which activated the device if the driver
 * was up). An RX chain held across the snapshot goes back to the queue, to
 * be popped again. If the driver was up, the guest may have sockets
 * connected to peers that no longer exist: they get a TRANSPORT_RESET as
 * soon as the event queue has a buffer (a saved pending event is the same
 * event). */
static int snap_restore(void *dev, struct snap_reader *r, uint32_t version)
{
	struct vsock_dev *d = vdev_of(dev, struct vsock_dev);
	uint64_t cid = snap_r_u64(r);
	uint8_t event_pending = snap_r_u8(r);
	uint8_t rx_held = snap_r_u8(r);

	(void)version;
	if (r->failed)
		return -EBADMSG;
	if (cid != d->conns.guest_cid)
		return snap_r_fail(r, "guest_cid %llu, but the device has %llu",
				   (unsigned long long)cid, (unsigned long long)d->conns.guest_cid);
	if (event_pending > 1 || rx_held > 1)
		return snap_r_fail(r, "event_pending %u / rx_held %u are not 0 or 1", event_pending,
				   rx_held);
	if (rx_held && (!d->active || vq_unpop(&d->q[VSOCK_Q_RX]) < 0))
		return snap_r_fail(r, "rx_held, but the RX queue has no chain out");
	if (d->active)
		vsock_transport_reset(d);
	return 0;
}

const struct snap_dev_ops vsock_snap_ops = {
	.tag = SNAP_TAG_DEV_VSOCK,
	.version = 1,
	.save = snap_save,
	.restore = snap_restore,
};

/* Every queue's kick and the device's own fd (host sockets, its wake-ups)
 * run the same bounded pass over everything. */
static void process(struct vdev *vd, unsigned q)
{
	(void)q;
	vsock_run(vdev_of(vd, struct vsock_dev));
}

static int own_fd(const struct vdev *vd)
{
	return vdev_of(vd, const struct vsock_dev)->epfd;
}

const struct vdev_ops vsock_ops = {
	.name = "vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.num_queues = VSOCK_NUM_QUEUES,
	.max_queue_size = VSOCK_QUEUE_MAX,
	.features = 0,
	.config_size = VSOCK_CONFIG_SIZE,
	.config_read = cfg_read,
	.config_write = cfg_write,
	.activate = activate,
	.notify = notify,
	.reset = dev_reset,
	.process = process,
	.own_fd = own_fd,
	.snap = &vsock_snap_ops,
};

int vsock_create(uint64_t guest_cid, const char *uds_path, struct vsock_dev **out)
{
	struct epoll_event e = { .events = EPOLLIN };
	struct vsock_dev *d;
	int ret;

	if (guest_cid < VSOCK_CID_MIN || guest_cid >= UINT32_MAX)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	d->vdev.ops = &vsock_ops;
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0) {
		ret = -errno;
		goto err_free;
	}
	d->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->wakefd < 0) {
		ret = -errno;
		goto err_epfd;
	}
	e.data.u64 = VSOCK_TAG_WAKE;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->wakefd, &e) < 0) {
		ret = -errno;
		goto err_wakefd;
	}
	ret = vsock_hybrid_listen(uds_path, &d->lfd);
	if (ret < 0)
		goto err_wakefd;
	e.data.u64 = VSOCK_TAG_LISTEN;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->lfd, &e) < 0) {
		ret = -errno;
		goto err_lfd;
	}
	d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->timerfd < 0) {
		ret = -errno;
		goto err_lfd;
	}
	e.data.u64 = VSOCK_TAG_TIMER;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->timerfd, &e) < 0) {
		ret = -errno;
		goto err_timerfd;
	}
	vsock_conns_init(&d->conns, guest_cid, d->epfd, d->timerfd, uds_path);
	pthread_mutex_init(&d->lock, NULL);
	*out = d;
	return 0;
err_timerfd:
	close(d->timerfd);
err_lfd:
	close(d->lfd);
err_wakefd:
	close(d->wakefd);
err_epfd:
	close(d->epfd);
err_free:
	free(d);
	return ret;
}

void vsock_destroy(struct vsock_dev *d)
{
	if (d == NULL)
		return;
	vsock_conns_clear(&d->conns);
	close(d->timerfd);
	close(d->lfd);
	close(d->wakefd);
	close(d->epfd);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

int vsock_fd(const struct vsock_dev *d)
{
	return d->epfd;
}
