/* mmio: virtio-mmio v2 transport (virtio 1.x 4.2): register file, status table and queue setup. */
#include "vmm/devices/virtio/mmio.h"

#include <errno.h>
#include <string.h>

#include "lib/util/log.h"

#define S_ACK  VIRTIO_STATUS_ACKNOWLEDGE
#define S_DRV  VIRTIO_STATUS_DRIVER
#define S_FEAT VIRTIO_STATUS_FEATURES_OK
#define S_DOK  VIRTIO_STATUS_DRIVER_OK
#define S_FAIL VIRTIO_STATUS_FAILED
#define S_ANY  0xffffffffu /* table wildcard: any current status */

enum status_action { ACT_NONE, ACT_FEATURES, ACT_ACTIVATE };

/* 3.1.1 Driver Requirements: Device Initialization. A write may set one bit
 * on top of the current status; these are the ones allowed. Writing 0
 * (reset) and rewriting the current value are always allowed. */
static const struct status_rule {
	uint32_t from;
	uint32_t set;
	enum status_action action;
} status_table[] = {
	{ 0, S_ACK, ACT_NONE },
	{ S_ACK, S_DRV, ACT_NONE },
	{ S_ACK | S_DRV, S_FEAT, ACT_FEATURES },
	{ S_ACK | S_DRV | S_FEAT, S_DOK, ACT_ACTIVATE },
	{ S_ANY, S_FAIL, ACT_NONE },
};

static uint64_t offered(const struct vmmio *t)
{
	return t->dev->ops->features | VIRTIO_BIT(VIRTIO_F_VERSION_1) | VQ_FEATURES;
}

static struct vq *selected(struct vmmio *t)
{
	return t->queue_sel < t->dev->ops->num_queues ? &t->queues[t->queue_sel] : NULL;
}

static bool needs_reset(struct vmmio *t)
{
	return __atomic_load_n(&t->needs_reset, __ATOMIC_ACQUIRE);
}

int vmmio_init(struct vmmio *t, struct vdev *dev, const struct gmem *gm, struct vmmio_irq irq)
{
	const struct vdev_ops *ops = dev->ops;

	if (ops->num_queues == 0 || ops->num_queues > VMMIO_MAX_QUEUES ||
	    ops->max_queue_size == 0 || ops->max_queue_size > VQ_SIZE_MAX ||
	    (ops->max_queue_size & (ops->max_queue_size - 1)) != 0)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	if (pthread_mutex_init(&t->lock, NULL) != 0)
		return -ENOMEM;
	t->dev = dev;
	t->gm = gm;
	t->irq = irq;
	for (unsigned i = 0; i < ops->num_queues; i++)
		t->queues[i].name = ops->name;
	return 0;
}

void vmmio_destroy(struct vmmio *t)
{
	pthread_mutex_destroy(&t->lock);
}

uint32_t vmmio_status(struct vmmio *t)
{
	return __atomic_load_n(&t->status, __ATOMIC_ACQUIRE) |
	       (needs_reset(t) ? VIRTIO_STATUS_DEVICE_NEEDS_RESET : 0);
}

/* An edge when a bit goes from clear to set: the guest reads and acks the
 * status before it looks at the rings, so an event while the bit is still
 * set is seen in that same pass. (Linux replays an edge that comes while the
 * line is disabled; an edge in flight when a snapshot is taken is raised
 * again at restore, mmio_snap.c.) An edge per event would cost each of them
 * a guest interrupt. */
void vmmio_interrupt(struct vmmio *t, uint32_t bits)
{
	uint32_t old = __atomic_fetch_or(&t->interrupt_status, bits, __ATOMIC_ACQ_REL);

	if ((old & bits) != bits && t->irq.raise != NULL)
		t->irq.raise(t->irq.opaque);
}

void vmmio_used(struct vmmio *t, unsigned q)
{
	if (q < t->dev->ops->num_queues && vq_should_interrupt(&t->queues[q]))
		vmmio_interrupt(t, VIRTIO_MMIO_INT_VRING);
}

void vmmio_queue_broken(struct vmmio *t)
{
	for (unsigned i = 0; i < t->dev->ops->num_queues; i++)
		vq_set_broken(&t->queues[i]);
	if (__atomic_exchange_n(&t->needs_reset, true, __ATOMIC_ACQ_REL))
		return;
	/* 2.1.2: with DRIVER_OK set, a device that sets DEVICE_NEEDS_RESET must
	 * send a configuration change notification. */
	if (__atomic_load_n(&t->status, __ATOMIC_ACQUIRE) & S_DOK)
		vmmio_interrupt(t, VIRTIO_MMIO_INT_CONFIG);
}

void vmmio_config_changed(struct vmmio *t)
{
	__atomic_fetch_add(&t->config_generation, 1, __ATOMIC_ACQ_REL);
	vmmio_interrupt(t, VIRTIO_MMIO_INT_CONFIG);
}

/* Writing 0 to Status (4.2.3.1): back to the state right after vmmio_init(). */
static void reset(struct vmmio *t)
{
	if (t->dev->ops->reset != NULL)
		t->dev->ops->reset(t->dev);
	for (unsigned i = 0; i < VMMIO_MAX_QUEUES; i++) {
		vq_reset(&t->queues[i]);
		t->ready[i] = false;
	}
	__atomic_store_n(&t->status, 0, __ATOMIC_RELEASE);
	t->dev_features_sel = t->drv_features_sel = t->queue_sel = 0;
	t->driver_features = 0;
	t->driver_features_bad = false;
	__atomic_store_n(&t->interrupt_status, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&t->needs_reset, false, __ATOMIC_RELEASE);
}

/* 2.2.2 / 6.1: only offered features, and a modern driver (VERSION_1). */
static bool features_ok(struct vmmio *t)
{
	if (t->driver_features_bad || (t->driver_features & ~offered(t)) != 0) {
		log_ratelimited(LOG_WARN, "virtio %s: driver accepted features not offered",
				t->dev->ops->name);
		return false;
	}
	if (!(t->driver_features & VIRTIO_BIT(VIRTIO_F_VERSION_1))) {
		log_ratelimited(LOG_WARN, "virtio %s: legacy driver (no VIRTIO_F_VERSION_1)",
				t->dev->ops->name);
		return false;
	}
	return true;
}

/* DRIVER_OK: check every ready queue, then start the device. A failure is
 * the device's NEEDS_RESET outcome, not a refused write: the driver set up
 * something we will not run. */
static void activate(struct vmmio *t)
{
	int ret = 0;

	for (unsigned i = 0; i < t->dev->ops->num_queues && ret == 0; i++) {
		struct vq *vq = &t->queues[i];

		if (!t->ready[i])
			continue;
		vq->features = t->driver_features;
		ret = vq_activate(vq, t->gm, t->dev->ops->max_queue_size);
		if (ret < 0)
			log_ratelimited(LOG_WARN, "virtio %s: queue %u set up badly",
					t->dev->ops->name, i);
	}
	if (ret == 0 && t->dev->ops->activate != NULL)
		ret = t->dev->ops->activate(t->dev, t->queues, t->driver_features);
	if (ret < 0)
		vmmio_queue_broken(t);
}

static void write_status(struct vmmio *t, uint32_t val)
{
	uint32_t cur = t->status;

	/* NEEDS_RESET belongs to the device; a driver that ORs bits into what it
	 * read writes it back, which means nothing. */
	val &= ~VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	if (val == 0) {
		reset(t);
		return;
	}
	if (val == cur)
		return;
	for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++) {
		const struct status_rule *r = &status_table[i];

		if ((r->from != S_ANY && r->from != cur) || val != (cur | r->set) || (cur & r->set))
			continue;
		if (r->action == ACT_FEATURES && !features_ok(t))
			return; /* refused: the driver re-reads and sees no FEATURES_OK */
		__atomic_store_n(&t->status, val, __ATOMIC_RELEASE);
		if (r->action == ACT_ACTIVATE)
			activate(t);
		return;
	}
	log_ratelimited(LOG_WARN, "virtio %s: status %#x -> %#x refused", t->dev->ops->name, cur,
			val);
}

/* 4.2.3.2 Virtqueue Configuration: while the driver sets the queue up. */
static struct vq *setup_queue(struct vmmio *t, bool ready_reg)
{
	struct vq *vq = selected(t);

	if (vq == NULL || (t->status & (S_FEAT | S_DOK | S_FAIL)) != S_FEAT || needs_reset(t))
		return NULL;
	if (!ready_reg && t->ready[t->queue_sel])
		return NULL;
	return vq;
}

static void set_low(gpa_t *gpa, uint32_t v)
{
	*gpa = (*gpa & ~(gpa_t)UINT32_MAX) | v;
}

static void set_high(gpa_t *gpa, uint32_t v)
{
	*gpa = (*gpa & UINT32_MAX) | ((gpa_t)v << 32);
}

static bool write_queue_reg(struct vmmio *t, uint64_t off, uint32_t v)
{
	struct vq *vq = setup_queue(t, off == VIRTIO_MMIO_QUEUE_READY);

	if (vq == NULL)
		return false;
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM:
		if (v > UINT16_MAX)
			return false;
		vq->size = (uint16_t)v; /* checked at activation */
		return true;
	case VIRTIO_MMIO_QUEUE_READY:
		if (v > 1)
			return false;
		t->ready[t->queue_sel] = v == 1;
		return true;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		set_low(&vq->desc_gpa, v);
		return true;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		set_high(&vq->desc_gpa, v);
		return true;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
		set_low(&vq->avail_gpa, v);
		return true;
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		set_high(&vq->avail_gpa, v);
		return true;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
		set_low(&vq->used_gpa, v);
		return true;
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		set_high(&vq->used_gpa, v);
		return true;
	}
	return false;
}

static bool write_reg(struct vmmio *t, uint64_t off, uint32_t v)
{
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		t->dev_features_sel = v;
		return true;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		t->drv_features_sel = v;
		return true;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (t->status != (S_ACK | S_DRV))
			return false;
		if (t->drv_features_sel == 0)
			t->driver_features = (t->driver_features & ~(uint64_t)UINT32_MAX) | v;
		else if (t->drv_features_sel == 1)
			t->driver_features =
				(t->driver_features & UINT32_MAX) | ((uint64_t)v << 32);
		else if (v != 0)
			t->driver_features_bad = true;
		return true;
	case VIRTIO_MMIO_QUEUE_SEL:
		t->queue_sel = v; /* checked at every use */
		return true;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		if ((t->status & S_DOK) && !needs_reset(t) && v < t->dev->ops->num_queues &&
		    t->queues[v].active && t->dev->ops->notify != NULL) {
			t->dev->ops->notify(t->dev, v);
			return true;
		}
		return false;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		__atomic_fetch_and(&t->interrupt_status, ~v, __ATOMIC_ACQ_REL);
		return true;
	case VIRTIO_MMIO_STATUS:
		write_status(t, v);
		return true;
	}
	return write_queue_reg(t, off, v);
}

static uint32_t read_reg(struct vmmio *t, uint64_t off)
{
	struct vq *vq = selected(t);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return VIRTIO_MMIO_VERSION_MODERN;
	case VIRTIO_MMIO_DEVICE_ID:
		return t->dev->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VMMIO_VENDOR_ID;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (t->dev_features_sel > 1)
			return 0;
		return (uint32_t)(offered(t) >> (32 * t->dev_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return vq != NULL ? t->dev->ops->max_queue_size : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return vq != NULL && t->ready[t->queue_sel];
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return __atomic_load_n(&t->interrupt_status, __ATOMIC_ACQUIRE);
	case VIRTIO_MMIO_STATUS:
		return vmmio_status(t);
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return __atomic_load_n(&t->config_generation, __ATOMIC_ACQUIRE);
	}
	log_ratelimited(LOG_WARN, "virtio %s: read of register %#llx refused", t->dev->ops->name,
			(unsigned long long)off);
	return 0;
}

/* Config space: any width, wholly inside config_size, else refused. */
static bool config_range(const struct vmmio *t, uint64_t offset, unsigned size, uint32_t *off)
{
	uint64_t o = offset - VIRTIO_MMIO_CONFIG;

	if (o >= t->dev->ops->config_size || size > t->dev->ops->config_size - o)
		return false;
	*off = (uint32_t)o;
	return true;
}

void vmmio_read(struct vmmio *t, uint64_t offset, uint8_t *data, unsigned size)
{
	uint32_t off, v;

	memset(data, 0, size);
	pthread_mutex_lock(&t->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		if (config_range(t, offset, size, &off) && t->dev->ops->config_read != NULL)
			t->dev->ops->config_read(t->dev, off, data, size);
		else
			log_ratelimited(LOG_WARN, "virtio %s: config read %#llx/%u refused",
					t->dev->ops->name, (unsigned long long)offset, size);
	} else if (size == 4 && offset % 4 == 0) {
		v = read_reg(t, offset);
		memcpy(data, &v, 4);
	} else {
		log_ratelimited(LOG_WARN, "virtio %s: %u-byte register read at %#llx refused",
				t->dev->ops->name, size, (unsigned long long)offset);
	}
	pthread_mutex_unlock(&t->lock);
}

void vmmio_write(struct vmmio *t, uint64_t offset, const uint8_t *data, unsigned size)
{
	uint32_t off, v;
	bool ok = false;

	pthread_mutex_lock(&t->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		ok = config_range(t, offset, size, &off) && t->dev->ops->config_write != NULL;
		if (ok)
			t->dev->ops->config_write(t->dev, off, data, size);
	} else if (size == 4 && offset % 4 == 0) {
		memcpy(&v, data, 4);
		ok = write_reg(t, offset, v);
	}
	if (!ok)
		log_ratelimited(LOG_WARN, "virtio %s: %u-byte write at %#llx refused (status %#x)",
				t->dev->ops->name, size, (unsigned long long)offset, t->status);
	pthread_mutex_unlock(&t->lock);
}

static void bus_read_cb(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
	vmmio_read(opaque, offset, data, size);
}

static void bus_write_cb(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
	vmmio_write(opaque, offset, data, size);
}

const struct bus_ops vmmio_bus_ops = { .read = bus_read_cb, .write = bus_write_cb };
