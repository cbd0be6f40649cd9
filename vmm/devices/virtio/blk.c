/* blk: virtio-blk device: parses requests from checked chains and does file I/O (see blk.h). */
#include "vmm/devices/virtio/blk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/snapshot/dev.h"
#include "lib/util/le.h"
#include "lib/util/log.h"

static void config_read(struct vdev *d, uint32_t off, uint8_t *data, unsigned size)
{
	struct vblk *b = vdev_of(d, struct vblk);

	/* The transport checked off + size <= VBLK_CFG_SIZE. The lock keeps
	 * the capacity whole while vblk_replace_backing() changes it. */
	pthread_mutex_lock(&b->lock);
	memcpy(data, b->config + off, size);
	pthread_mutex_unlock(&b->lock);
}

static void config_write(struct vdev *d, uint32_t off, const uint8_t *data, unsigned size)
{
	(void)d;
	(void)data;
	log_ratelimited(LOG_WARN, "virtio blk: config write at %u/%u ignored", off, size);
}

static int activate(struct vdev *d, struct vq *queues, uint64_t features)
{
	struct vblk *b = vdev_of(d, struct vblk);

	(void)features;
	if (!queues[0].active)
		return -EINVAL; /* the request queue is required */
	pthread_mutex_lock(&b->lock);
	b->vq = &queues[0];
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static void reset(struct vdev *d)
{
	struct vblk *b = vdev_of(d, struct vblk);

	/* Taking the lock waits for a vblk_process() in progress to finish. */
	pthread_mutex_lock(&b->lock);
	b->vq = NULL;
	pthread_mutex_unlock(&b->lock);
}

static void notify(struct vdev *d, unsigned q)
{
	vdev_kick(d, q);
}

const struct vdev_ops vblk_ops = {
	.name = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.num_queues = 1,
	.max_queue_size = VBLK_QUEUE_SIZE,
	.features = VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
		    VIRTIO_BIT(VIRTIO_BLK_F_FLUSH),
	.config_size = VBLK_CFG_SIZE,
	.config_read = config_read,
	.config_write = config_write,
	.activate = activate,
	.notify = notify,
	.reset = reset,
	.process = vblk_process,
	.snap = &vblk_snap_ops,
};

/* Snapshot section, version 1: capacity (sectors) u64, read-only u8, the
 * id's VBLK_ID_BYTES bytes. The device keeps no request in flight between
 * vblk_process() calls, so this is all it needs; the queue is the
 * transport's. Restore runs on a drive reopened from the same config (whose
 * file identity the config section checked) and refuses any difference:
 * the guest's page cache and file systems assume this disk. */
static int snap_save(const void *dev, struct snap_writer *w)
{
	const struct vblk *b = vdev_of(dev, const struct vblk);

	snap_w_u64(w, b->capacity);
	snap_w_u8(w, b->read_only);
	snap_w_bytes(w, b->id, VBLK_ID_BYTES);
	return 0;
}

static int snap_restore(void *dev, struct snap_reader *r, uint32_t version)
{
	struct vblk *b = vdev_of(dev, struct vblk);
	uint64_t capacity = snap_r_u64(r);
	uint8_t ro = snap_r_u8(r);
	char id[VBLK_ID_BYTES];

	(void)version;
	snap_r_bytes(r, id, sizeof(id));
	if (r->failed)
		return -EBADMSG;
	if (capacity != b->capacity)
		return snap_r_fail(r, "capacity %llu sectors, but drive %.20s now has %llu",
				   (unsigned long long)capacity, b->id,
				   (unsigned long long)b->capacity);
	if (ro != (uint8_t)b->read_only)
		return snap_r_fail(r, "read_only %u, but drive %.20s is %s", ro, b->id,
				   b->read_only ? "read-only" : "read-write");
	if (memcmp(id, b->id, sizeof(id)) != 0)
		return snap_r_fail(r, "id '%.20s', but this drive is '%.20s'", id, b->id);
	return 0;
}

const struct snap_dev_ops vblk_snap_ops = {
	.tag = SNAP_TAG_DEV_BLK,
	.version = 1,
	.save = snap_save,
	.restore = snap_restore,
};

/* Opens a backing file and finds its size; 0, or -errno with err set. */
static int open_backing(const char *path, bool read_only, int *fd, uint64_t *capacity, char *err,
			size_t errlen)
{
	struct stat st;
	off_t size;
	int ret;

	*fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (*fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(*fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		snprintf(err, errlen, "%s: not a regular file or block device", path);
		ret = -EINVAL;
		goto err_close;
	}
	size = lseek(*fd, 0, SEEK_END);
	if (size < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot find its size: %s", path, strerror(errno));
		goto err_close;
	}
	*capacity = (uint64_t)size / VBLK_SECTOR_SIZE;
	return 0;

err_close:
	close(*fd);
	*fd = -1;
	return ret;
}

static void set_capacity(struct vblk *b, uint64_t capacity)
{
	b->capacity = capacity;
	le_put(b->config + VBLK_CFG_CAPACITY, capacity, 8);
}

int vblk_open(struct vblk *b, const char *path, bool read_only, const char *id, char *err,
	      size_t errlen)
{
	uint64_t capacity;
	int ret;

	memset(b, 0, sizeof(*b));
	ret = open_backing(path, read_only, &b->fd, &capacity, err, errlen);
	if (ret < 0)
		return ret;
	if (pthread_mutex_init(&b->lock, NULL) != 0) {
		snprintf(err, errlen, "%s: out of memory", path);
		close(b->fd);
		b->fd = -1;
		return -ENOMEM;
	}
	b->read_only = read_only;
	/* Zero-padded, with no NUL if it takes all 20 bytes (5.2.6). */
	memcpy(b->id, id, strnlen(id, sizeof(b->id)));
	b->ops = vblk_ops;
	if (read_only)
		b->ops.features |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
	b->vdev.ops = &b->ops;
	set_capacity(b, capacity);
	le_put(b->config + VBLK_CFG_SIZE_MAX, VBLK_SIZE_MAX, 4);
	le_put(b->config + VBLK_CFG_SEG_MAX, VBLK_SEG_MAX, 4);
	return 0;
}

int vblk_replace_backing(struct vblk *b, const char *path, char *err, size_t errlen)
{
	uint64_t capacity;
	int fd, old, ret;

	ret = open_backing(path, b->read_only, &fd, &capacity, err, errlen);
	if (ret < 0)
		return ret;
	/* Requests already served used the old file; the next ones use the new one. */
	pthread_mutex_lock(&b->lock);
	old = b->fd;
	b->fd = fd;
	set_capacity(b, capacity);
	pthread_mutex_unlock(&b->lock);
	close(old);
	return 0;
}

void vblk_close(struct vblk *b)
{
	if (b->fd < 0)
		return;
	pthread_mutex_destroy(&b->lock);
	close(b->fd);
	b->fd = -1;
}

/* Moves len bytes between the file at pos and the chain's readable part
 * (write) or writable part (read), starting `off` bytes into that part.
 * The caller checked that the part holds off + len bytes. 0 or -EIO. */
static int file_io(struct vblk *b, const struct vq_chain *c, bool write, size_t off, size_t len,
		   uint64_t pos)
{
	struct iovec iov[VQ_MAX_SEGS];
	size_t niov = vq_chain_iov(c, !write, off, len, iov);

	for (size_t i = 0; i < niov; i++) {
		uint8_t *p = iov[i].iov_base;
		size_t n = iov[i].iov_len;

		len -= n;
		while (n > 0) {
			ssize_t r = write ? pwrite(b->fd, p, n, (off_t)pos)
					  : pread(b->fd, p, n, (off_t)pos);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				log_ratelimited(LOG_WARN, "virtio blk %s: %s at byte %llu: %s",
						b->id, write ? "write" : "read",
						(unsigned long long)pos,
						r < 0 ? strerror(errno) : "end of file");
				return -EIO;
			}
			p += r;
			pos += (uint64_t)r;
			n -= (size_t)r;
		}
	}
	return len == 0 ? 0 : -EIO;
}

/* Sectors [sector, sector + bytes/512) inside the disk, bytes a multiple of 512. */
static bool in_range(const struct vblk *b, uint64_t sector, uint64_t bytes)
{
	uint64_t n = bytes / VBLK_SECTOR_SIZE;

	return bytes % VBLK_SECTOR_SIZE == 0 && sector <= b->capacity && n <= b->capacity - sector;
}

/* Handles one request; returns the status and sets *data_written. */
static uint8_t handle(struct vblk *b, const struct vq_chain *c, uint32_t *data_written)
{
	uint8_t hdr[VBLK_HDR_SIZE];
	uint32_t type;
	uint64_t sector, len;

	*data_written = 0;
	/* Copy, then check: the guest may change the header after this. */
	if (vq_chain_read(c, 0, hdr, sizeof(hdr)) != sizeof(hdr)) {
		log_ratelimited(LOG_WARN, "virtio blk %s: request header too short", b->id);
		return VIRTIO_BLK_S_IOERR;
	}
	type = (uint32_t)le_get(hdr, 4);
	sector = le_get(hdr + 8, 8);
	switch (type) {
	case VIRTIO_BLK_T_IN:
		len = c->write_len - 1u; /* all but the status byte */
		if (!in_range(b, sector, len))
			goto range;
		if (file_io(b, c, false, 0, len, sector * VBLK_SECTOR_SIZE) < 0)
			return VIRTIO_BLK_S_IOERR;
		*data_written = (uint32_t)len;
		b->stats.read_ops++;
		b->stats.read_bytes += len;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_OUT:
		if (b->read_only) {
			log_ratelimited(LOG_WARN, "virtio blk %s: write to a read-only drive",
					b->id);
			return VIRTIO_BLK_S_IOERR;
		}
		len = c->read_len - VBLK_HDR_SIZE;
		if (!in_range(b, sector, len))
			goto range;
		if (file_io(b, c, true, VBLK_HDR_SIZE, len, sector * VBLK_SECTOR_SIZE) < 0)
			return VIRTIO_BLK_S_IOERR;
		b->stats.write_ops++;
		b->stats.write_bytes += len;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_FLUSH:
		if (fdatasync(b->fd) < 0) {
			log_ratelimited(LOG_WARN, "virtio blk %s: flush: %s", b->id,
					strerror(errno));
			return VIRTIO_BLK_S_IOERR;
		}
		b->stats.flush_ops++;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		len = c->write_len - 1u;
		*data_written = (uint32_t)vq_chain_write(c, 0, b->id,
							 len < VBLK_ID_BYTES ? len : VBLK_ID_BYTES);
		return VIRTIO_BLK_S_OK;
	}
	log_ratelimited(LOG_WARN, "virtio blk %s: request type %u unsupported", b->id, type);
	return VIRTIO_BLK_S_UNSUPP;

range:
	log_ratelimited(LOG_WARN,
			"virtio blk %s: sector %llu + %llu bytes outside the disk (%llu "
			"sectors) or not whole sectors",
			b->id, (unsigned long long)sector, (unsigned long long)len,
			(unsigned long long)b->capacity);
	return VIRTIO_BLK_S_IOERR;
}

void vblk_process(struct vdev *d, unsigned q)
{
	struct vblk *b = vdev_of(d, struct vblk);
	struct vq_chain *c = &b->chain;
	bool pushed = false, more = false;

	pthread_mutex_lock(&b->lock);
	if (b->vq == NULL || q != 0)
		goto out;
	for (unsigned n = 0; n < b->vq->size; n++) {
		uint32_t written = 0;
		uint8_t status;
		int ret;

		ret = vq_pop(b->vq, c);
		if (ret == -EAGAIN)
			break;
		if (ret < 0)
			goto broken;
		if (c->write_len == 0) {
			log_ratelimited(LOG_WARN, "virtio blk %s: request without a status byte",
					b->id);
		} else {
			status = handle(b, c, &written);
			/* The status byte goes last, after all data (5.2.6). */
			vq_chain_write(c, c->write_len - 1u, &status, 1);
			written += 1;
		}
		if (vq_push(b->vq, c->head, written) < 0)
			goto broken;
		pushed = true;
		if (n + 1 == b->vq->size)
			more = true;
	}
	if (pushed)
		vdev_used(&b->vdev, q);
out:
	pthread_mutex_unlock(&b->lock);
	if (more)
		vdev_kick(&b->vdev, q);
	return;
broken:
	if (pushed)
		vdev_used(&b->vdev, q);
	vdev_broken(&b->vdev);
	pthread_mutex_unlock(&b->lock);
}
