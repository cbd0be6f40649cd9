/* mmio_snap: the virtio-mmio transport's snapshot section; restore replays the driver's writes. */
#include <errno.h>
#include <string.h>

#include "vmm/snapshot/dev.h"
#include "vmm/devices/virtio/mmio.h"

#define SNAP_VERSION 1

#define S_ACK	 VIRTIO_STATUS_ACKNOWLEDGE
#define S_DRV	 VIRTIO_STATUS_DRIVER
#define S_FEAT	 VIRTIO_STATUS_FEATURES_OK
#define S_DOK	 VIRTIO_STATUS_DRIVER_OK
#define S_FAIL	 VIRTIO_STATUS_FAILED
#define S_KNOWN	 (S_ACK | S_DRV | S_FEAT | S_DOK | S_FAIL)
#define INT_BITS (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG)

/* One queue as saved: the driver's setup, then the queue core's positions. */
struct q_state {
	bool ready, active;
	uint16_t size;
	gpa_t desc, avail, used;
	uint16_t last_avail, used_idx, signalled_used;
};

/* Version 1 of the section, after the instance number. */
struct t_state {
	uint32_t device_id;
	uint16_t num_queues;
	uint32_t status;
	bool needs_reset;
	uint32_t dev_features_sel, drv_features_sel, queue_sel;
	uint64_t driver_features;
	bool driver_features_bad;
	uint32_t config_generation, interrupt_status;
	struct q_state q[VMMIO_MAX_QUEUES];
};

static int save(const void *dev, struct snap_writer *w)
{
	const struct vmmio *t = dev;

	snap_w_u32(w, t->dev->ops->device_id);
	snap_w_u16(w, t->dev->ops->num_queues);
	snap_w_u32(w, __atomic_load_n(&t->status, __ATOMIC_ACQUIRE));
	snap_w_u8(w, __atomic_load_n(&t->needs_reset, __ATOMIC_ACQUIRE));
	snap_w_u32(w, t->dev_features_sel);
	snap_w_u32(w, t->drv_features_sel);
	snap_w_u32(w, t->queue_sel);
	snap_w_u64(w, t->driver_features);
	snap_w_u8(w, t->driver_features_bad);
	snap_w_u32(w, __atomic_load_n(&t->config_generation, __ATOMIC_ACQUIRE));
	snap_w_u32(w, __atomic_load_n(&t->interrupt_status, __ATOMIC_ACQUIRE));
	for (unsigned i = 0; i < t->dev->ops->num_queues; i++) {
		const struct vq *vq = &t->queues[i];

		snap_w_u8(w, t->ready[i]);
		snap_w_u16(w, vq->size);
		snap_w_u64(w, vq->desc_gpa);
		snap_w_u64(w, vq->avail_gpa);
		snap_w_u64(w, vq->used_gpa);
		snap_w_u8(w, vq->active);
		snap_w_u16(w, vq->last_avail);
		snap_w_u16(w, vq->used_idx);
		snap_w_u16(w, vq->signalled_used);
	}
	return 0;
}

static bool r_bool(struct snap_reader *r, const char *what)
{
	uint8_t v = snap_r_u8(r);

	if (v > 1)
		snap_r_fail(r, "%s is %u, not 0 or 1", what, v);
	return v == 1;
}

/* Reads the section into s; only the framing and the field shapes are checked. */
static int read_state(struct snap_reader *r, const struct vmmio *t, struct t_state *s)
{
	memset(s, 0, sizeof(*s));
	s->device_id = snap_r_u32(r);
	s->num_queues = snap_r_u16(r);
	if (r->failed)
		return -EBADMSG;
	if (s->device_id != t->dev->ops->device_id || s->num_queues != t->dev->ops->num_queues)
		return snap_r_fail(r,
				   "device_id %u with %u queues, but this slot holds %s (%u, %u)",
				   s->device_id, s->num_queues, t->dev->ops->name,
				   t->dev->ops->device_id, t->dev->ops->num_queues);
	s->status = snap_r_u32(r);
	s->needs_reset = r_bool(r, "needs_reset");
	s->dev_features_sel = snap_r_u32(r);
	s->drv_features_sel = snap_r_u32(r);
	s->queue_sel = snap_r_u32(r);
	s->driver_features = snap_r_u64(r);
	s->driver_features_bad = r_bool(r, "driver_features_bad");
	s->config_generation = snap_r_u32(r);
	s->interrupt_status = snap_r_u32(r);
	for (unsigned i = 0; i < s->num_queues; i++) {
		struct q_state *q = &s->q[i];

		q->ready = r_bool(r, "queue ready");
		q->size = snap_r_u16(r);
		q->desc = snap_r_u64(r);
		q->avail = snap_r_u64(r);
		q->used = snap_r_u64(r);
		q->active = r_bool(r, "queue active");
		q->last_avail = snap_r_u16(r);
		q->used_idx = snap_r_u16(r);
		q->signalled_used = snap_r_u16(r);
	}
	return r->failed ? -EBADMSG : 0;
}

static void wr(struct vmmio *t, uint64_t off, uint32_t v)
{
	vmmio_write(t, off, (const uint8_t *)&v, sizeof(v));
}

/* Sets one more status bit through the register, i.e. through the status table. */
static int set_status_bit(struct vmmio *t, struct snap_reader *r, uint32_t bit, const char *name)
{
	uint32_t want = t->status | bit;

	wr(t, VIRTIO_MMIO_STATUS, want);
	if (t->status != want)
		return snap_r_fail(r, "status: %s refused by the status table (from %#x)", name,
				   want & ~bit);
	return 0;
}

static int replay_features(struct vmmio *t, struct snap_reader *r, const struct t_state *s)
{
	if (!(s->status & S_DRV)) {
		if (s->driver_features != 0 || s->driver_features_bad)
			return snap_r_fail(r, "driver_features %#llx accepted before DRIVER",
					   (unsigned long long)s->driver_features);
		return 0;
	}
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)s->driver_features);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(s->driver_features >> 32));
	if (s->driver_features_bad) {
		wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2);
		wr(t, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	}
	if (t->driver_features != s->driver_features ||
	    t->driver_features_bad != s->driver_features_bad)
		return snap_r_fail(r, "driver_features %#llx refused",
				   (unsigned long long)s->driver_features);
	return 0;
}

static bool queue_untouched(const struct q_state *q)
{
	return !q->ready && !q->active && q->size == 0 && q->desc == 0 && q->avail == 0 &&
	       q->used == 0 && q->last_avail == 0 && q->used_idx == 0 && q->signalled_used == 0;
}

/* The queue setup registers, written as a driver writes them after FEATURES_OK. */
static int replay_queues(struct vmmio *t, struct snap_reader *r, const struct t_state *s)
{
	for (unsigned i = 0; i < s->num_queues; i++) {
		const struct q_state *q = &s->q[i];
		struct vq *vq = &t->queues[i];

		if (!(s->status & S_FEAT)) {
			if (!queue_untouched(q))
				return snap_r_fail(r, "queue %u set up before FEATURES_OK", i);
			continue;
		}
		wr(t, VIRTIO_MMIO_QUEUE_SEL, i);
		wr(t, VIRTIO_MMIO_QUEUE_NUM, q->size);
		wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q->desc);
		wr(t, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(q->desc >> 32));
		wr(t, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)q->avail);
		wr(t, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(q->avail >> 32));
		wr(t, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)q->used);
		wr(t, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(q->used >> 32));
		wr(t, VIRTIO_MMIO_QUEUE_READY, q->ready);
		if (vq->size != q->size || vq->desc_gpa != q->desc || vq->avail_gpa != q->avail ||
		    vq->used_gpa != q->used || t->ready[i] != q->ready)
			return snap_r_fail(r, "queue %u setup refused", i);
	}
	return 0;
}

/* Before DRIVER_OK: the checks vq_activate() will make, on a scratch copy,
 * so that a refusal names the field. A device that was running (no
 * NEEDS_RESET) had every ready queue pass them. */
static int check_ready_queues(struct vmmio *t, struct snap_reader *r, const struct t_state *s)
{
	for (unsigned i = 0; i < s->num_queues; i++) {
		const struct q_state *q = &s->q[i];
		struct vq scratch = t->queues[i];

		if (!q->ready)
			continue;
		if (q->size == 0 || (q->size & (q->size - 1)) != 0 ||
		    q->size > t->dev->ops->max_queue_size)
			return snap_r_fail(r, "queue %u size %u (a power of two up to %u)", i,
					   q->size, t->dev->ops->max_queue_size);
		scratch.features = s->driver_features;
		if (vq_activate(&scratch, t->gm, t->dev->ops->max_queue_size) < 0)
			return snap_r_fail(r,
					   "queue %u rings (desc %#llx, avail %#llx, used %#llx) "
					   "misaligned or outside guest memory",
					   i, (unsigned long long)q->desc,
					   (unsigned long long)q->avail,
					   (unsigned long long)q->used);
	}
	return 0;
}

/* After DRIVER_OK: where each active queue stood, set through the queue's
 * own check (vq_set_positions). */
static int set_positions(struct vmmio *t, struct snap_reader *r, const struct t_state *s)
{
	for (unsigned i = 0; i < s->num_queues; i++) {
		const struct q_state *q = &s->q[i];
		struct vq *vq = &t->queues[i];

		if (!s->needs_reset && q->active != vq->active)
			return snap_r_fail(r, "queue %u: active %d, but DRIVER_OK made it %d", i,
					   q->active, vq->active);
		if (!vq->active) {
			if (q->last_avail != 0 || q->used_idx != 0 || q->signalled_used != 0)
				return snap_r_fail(r, "queue %u: positions on an inactive queue",
						   i);
			continue;
		}
		if (vq_set_positions(vq, q->last_avail, q->used_idx, q->signalled_used) < 0)
			return snap_r_fail(r,
					   "queue %u: last_avail %u runs %u ahead of used idx %u "
					   "(queue size %u)",
					   i, q->last_avail,
					   (uint16_t)(q->last_avail - q->used_idx), q->used_idx,
					   vq->size);
	}
	return 0;
}

static int replay(struct vmmio *t, struct snap_reader *r, const struct t_state *s)
{
	int ret;

	if (s->status & ~S_KNOWN)
		return snap_r_fail(r, "status %#x has unknown bits", s->status);
	if (s->needs_reset && !(s->status & S_DOK))
		return snap_r_fail(r, "needs_reset without DRIVER_OK (status %#x)", s->status);
	if (s->interrupt_status & ~INT_BITS)
		return snap_r_fail(r, "interrupt_status %#x has unknown bits", s->interrupt_status);
	/* 3.1.1's order; the table refuses a bit whose predecessors are missing. */
	if ((s->status & S_ACK) && (ret = set_status_bit(t, r, S_ACK, "ACKNOWLEDGE")) < 0)
		return ret;
	if ((s->status & S_DRV) && (ret = set_status_bit(t, r, S_DRV, "DRIVER")) < 0)
		return ret;
	if ((ret = replay_features(t, r, s)) < 0)
		return ret;
	if ((s->status & S_FEAT) && (ret = set_status_bit(t, r, S_FEAT, "FEATURES_OK")) < 0)
		return ret;
	if ((ret = replay_queues(t, r, s)) < 0)
		return ret;
	if (s->status & S_DOK) {
		if (!s->needs_reset && (ret = check_ready_queues(t, r, s)) < 0)
			return ret;
		if ((ret = set_status_bit(t, r, S_DOK, "DRIVER_OK")) < 0)
			return ret;
		if (!s->needs_reset && t->needs_reset)
			return snap_r_fail(r, "the %s device refused activation",
					   t->dev->ops->name);
	}
	if ((ret = set_positions(t, r, s)) < 0)
		return ret;
	if ((s->status & S_FAIL) && (ret = set_status_bit(t, r, S_FAIL, "FAILED")) < 0)
		return ret;
	if (s->needs_reset) { /* as vmmio_queue_broken(), without its interrupt */
		for (unsigned i = 0; i < t->dev->ops->num_queues; i++)
			vq_set_broken(&t->queues[i]);
		__atomic_store_n(&t->needs_reset, true, __ATOMIC_RELEASE);
	}
	wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, s->dev_features_sel);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, s->drv_features_sel);
	wr(t, VIRTIO_MMIO_QUEUE_SEL, s->queue_sel);
	__atomic_store_n(&t->config_generation, s->config_generation, __ATOMIC_RELEASE);
	__atomic_store_n(&t->interrupt_status, s->interrupt_status, __ATOMIC_RELEASE);
	return 0;
}

static int restore(void *dev, struct snap_reader *r, uint32_t version)
{
	struct vmmio *t = dev;
	struct vmmio_irq irq = t->irq;
	struct t_state s;
	int ret;

	(void)version; /* 1 is the only layout so far */
	if (t->status != 0)
		return snap_r_fail(r, "restore into a transport the driver already touched");
	ret = read_state(r, t, &s);
	if (ret < 0)
		return ret;
	/* Interrupts the replay would raise were delivered (or are pending in
	 * the irqchip) before the snapshot; the saved interrupt_status says so. */
	t->irq.raise = NULL;
	ret = replay(t, r, &s);
	t->irq = irq;
	if (ret < 0)
		return ret;
	/* A pending interrupt may have been an edge in flight when the snapshot
	 * was taken (KVM injects an irqfd's edge from a worker, so it may not have
	 * reached the irqchip the snapshot read): give it again. Otherwise the
	 * bit stays set, no new edge comes (vmmio_interrupt), and the device
	 * stalls for good. A spurious one costs the guest a status read. */
	if (__atomic_load_n(&t->interrupt_status, __ATOMIC_ACQUIRE) != 0 && t->irq.raise != NULL)
		t->irq.raise(t->irq.opaque);
	/* A kick the guest wrote just before the pause may never have been
	 * served: look at every running queue once. A spurious kick finds nothing. */
	if ((t->status & S_DOK) && !t->needs_reset && t->dev->ops->notify != NULL)
		for (unsigned i = 0; i < t->dev->ops->num_queues; i++)
			if (t->queues[i].active)
				t->dev->ops->notify(t->dev, i);
	return 0;
}

const struct snap_dev_ops vmmio_snap_ops = {
	.tag = SNAP_TAG_DEV_MMIO,
	.version = SNAP_VERSION,
	.save = save,
	.restore = restore,
};
