/* rng: virtio-rng device: fills the driver's writable buffers from getrandom() (see rng.h). */
#include "vmm/devices/virtio/rng.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "vmm/snapshot/dev.h"
#include "lib/util/log.h"

static int activate(struct vdev *d, struct vq *queues, uint64_t features)
{
	struct vrng *r = vdev_of(d, struct vrng);

	(void)features;
	if (!queues[0].active)
		return -EINVAL; /* 5.4.2: the one queue is required */
	pthread_mutex_lock(&r->lock);
	r->vq = &queues[0];
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static void reset(struct vdev *d)
{
	struct vrng *r = vdev_of(d, struct vrng);

	/* Taking the lock waits for a vrng_process() in progress to finish. */
	pthread_mutex_lock(&r->lock);
	r->vq = NULL;
	pthread_mutex_unlock(&r->lock);
}

static void notify(struct vdev *d, unsigned q)
{
	vdev_kick(d, q);
}

/* Snapshot section, version 1: empty. Each chain is filled and pushed back
 * within one vrng_process() call, so between calls the device holds nothing
 * the transport's queue does not (`bytes` is a statistic of this process). */
static int snap_save(const void *dev, struct snap_writer *w)
{
	(void)dev;
	(void)w;
	return 0;
}

static int snap_restore(void *dev, struct snap_reader *r, uint32_t version)
{
	(void)dev;
	(void)r;
	(void)version;
	return 0;
}

const struct snap_dev_ops vrng_snap_ops = {
	.tag = SNAP_TAG_DEV_RNG,
	.version = 1,
	.save = snap_save,
	.restore = snap_restore,
};

const struct vdev_ops vrng_ops = {
	.name = "rng",
	.device_id = VIRTIO_ID_ENTROPY,
	.num_queues = 1,
	.max_queue_size = VRNG_QUEUE_SIZE,
	.features = 0,
	.config_size = 0,
	.activate = activate,
	.notify = notify,
	.reset = reset,
	.process = vrng_process,
	.snap = &vrng_snap_ops,
};

int vrng_init(struct vrng *r)
{
	memset(r, 0, sizeof(*r));
	if (pthread_mutex_init(&r->lock, NULL) != 0)
		return -ENOMEM;
	r->vdev.ops = &vrng_ops;
	return 0;
}

void vrng_destroy(struct vrng *r)
{
	pthread_mutex_destroy(&r->lock);
}

/* Fills seg with random bytes; returns bytes written (short only if getrandom fails). */
static uint32_t fill(uint8_t *p, uint32_t len)
{
	uint32_t done = 0;

	while (done < len) {
		ssize_t n = getrandom(p + done, len - done, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_ratelimited(LOG_WARN, "virtio rng: getrandom: %s", strerror(errno));
			break;
		}
		done += (uint32_t)n;
	}
	return done;
}

void vrng_process(struct vdev *d, unsigned q)
{
	struct vrng *r = vdev_of(d, struct vrng);
	struct vq_chain *c = &r->chain;
	uint32_t budget = VRNG_MAX_BYTES_PER_KICK;
	bool pushed = false, more = false;

	pthread_mutex_lock(&r->lock);
	if (r->vq == NULL || q != 0)
		goto out;
	for (unsigned n = 0; n < r->vq->size; n++) {
		struct iovec iov[VQ_MAX_SEGS];
		uint32_t written = 0;
		size_t niov;
		int ret;

		if (budget == 0) {
			more = true;
			break;
		}
		ret = vq_pop(r->vq, c);
		if (ret == -EAGAIN)
			break;
		if (ret < 0)
			goto broken;
		niov = vq_chain_iov(c, true, 0, budget, iov);
		for (size_t i = 0; i < niov; i++) {
			uint32_t want = (uint32_t)iov[i].iov_len;
			uint32_t got = fill(iov[i].iov_base, want);

			written += got;
			budget -= got;
			if (got < want) {
				budget = 0;
				break;
			}
		}
		if (vq_push(r->vq, c->head, written) < 0)
			goto broken;
		r->bytes += written;
		pushed = true;
		if (n + 1 == r->vq->size)
			more = true;
	}
	if (pushed)
		vdev_used(&r->vdev, q);
out:
	pthread_mutex_unlock(&r->lock);
	if (more)
		vdev_kick(&r->vdev, q);
	return;
broken:
	if (pushed)
		vdev_used(&r->vdev, q);
	vdev_broken(&r->vdev);
	pthread_mutex_unlock(&r->lock);
}
