/* virtio_slots: lay out, wire and tear down the virtio-mmio devices (see virtio_slots.h). */
#include "vmm/machine/virtio_slots.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/util/log.h"
#include "lib/util/uds.h"

/* --- hooks from the devices and the transport to KVM and the loop --- */

/* Adds 1 to an eventfd. A failure can only be EAGAIN (the counter is about
 * to overflow), and then the fd is already readable: nothing is lost. */
static void signal_eventfd(int fd)
{
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof(one));

	(void)n;
}

static void vdev_kick(void *opaque, unsigned q)
{
	struct vdev *d = opaque;

	/* The same eventfd KVM signals for QueueNotify: the loop serves it. */
	if (q < VMMIO_MAX_QUEUES && d->kicks[q].fd >= 0)
		signal_eventfd(d->kicks[q].fd);
}

static void vdev_used(void *opaque, unsigned q)
{
	vmmio_used(&((struct vdev *)opaque)->t, q);
}

static void vdev_broken(void *opaque)
{
	vmmio_queue_broken(&((struct vdev *)opaque)->t);
}

/* An interrupt bit went from clear to set: pulse the (edge-triggered, per
 * the MP table's ISA defaults) IRQ line through the irqfd. */
static void vdev_raise(void *opaque)
{
	signal_eventfd(((struct vdev *)opaque)->irq_fd);
}

static void blk_process(void *dev, unsigned q)
{
	vblk_process(dev, q);
}

static void rng_process(void *dev, unsigned q)
{
	vrng_process(dev, q);
}

static void vsock_process(void *dev, unsigned q)
{
	(void)q; /* vsock_run() serves every queue and the host sockets */
	vsock_run(dev);
}

static void on_vsock(void *opaque, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	vsock_run(opaque);
}

static void on_kick(void *opaque, int fd, uint32_t events)
{
	struct vdev_kick *k = opaque;
	uint64_t v;

	(void)events;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	k->d->process(k->d->dev, k->q);
}

void virtio_slots_init(struct virtio_slots *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < VIRTIO_MAX_DEVS; i++) {
		s->devs[i].irq_fd = -1;
		for (unsigned q = 0; q < VMMIO_MAX_QUEUES; q++)
			s->devs[i].kicks[q].fd = -1;
	}
}

/* The guest command line: the configured one, then one virtio_mmio.device=
 * per device in slot order (so drives are vda, vdb, ...), then root=. */
int virtio_slots_cmdline(const struct virtio_slots *s, const struct vm_config *cfg, char *buf,
			 size_t cap)
{
	size_t len = (size_t)snprintf(buf, cap, "%s", cfg->boot_source.boot_args);

	for (unsigned i = 0; i < s->ndevs && len < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len, " virtio_mmio.device=%uK@%#llx:%u",
					LAYOUT_VIRTIO_MMIO_SIZE / 1024,
					(unsigned long long)(LAYOUT_VIRTIO_MMIO_BASE +
							     (gpa_t)i * LAYOUT_VIRTIO_MMIO_SIZE),
					LAYOUT_VIRTIO_IRQ_BASE + i);
	for (unsigned i = 0; i < cfg->ndrives && len < cap; i++)
		if (cfg->drives[i].is_root_device)
			len += (size_t)snprintf(buf + len, cap - len, " root=/dev/vd%c %s",
						'a' + (int)i,
						cfg->drives[i].is_read_only ? "ro" : "rw");
	if (len >= cap) {
		log_err("--cmdline: too long with the virtio devices added (limit %u bytes)",
			LAYOUT_CMDLINE_MAX - 1);
		return -E2BIG;
	}
	return 0;
}

/* The vsock slot: its device now (U listens from here on), its transport at
 * wire time. The device's hooks go to the slot's transport. */
static int open_vsock(struct virtio_slots *s, const struct vsock_config *vc)
{
	struct vdev *d = &s->devs[s->ndevs];
	int ret;

	ret = uds_claim(vc->uds_path, "--vsock");
	if (ret < 0)
		return ret;
	ret = vsock_create(
		vc->guest_cid, vc->uds_path,
		(struct vsock_hooks){ .used = vdev_used, .broken = vdev_broken, .opaque = d },
		&s->vsock);
	if (ret < 0) {
		log_err("--vsock %s: %s", vc->uds_path, strerror(-ret));
		return ret;
	}
	s->vsock_path = vc->uds_path;
	d->ops = &vsock_ops;
	d->dev = s->vsock;
	d->process = vsock_process;
	s->ndevs++;
	return 0;
}

/* Opens every drive (bad paths are config errors) and lays out the virtio
 * slots: drives first, in order, then the entropy device. */
int virtio_slots_open(struct virtio_slots *s, const struct vm_config *cfg)
{
	char err[CONFIG_ERR_LEN];
	int ret;

	if (cfg->ndrives + (cfg->entropy.enabled ? 1u : 0u) + (cfg->vsock.enabled ? 1u : 0u) >
	    VIRTIO_MAX_DEVS) {
		log_err("too many virtio devices (at most %u)", VIRTIO_MAX_DEVS);
		return -ENOSPC;
	}
	for (unsigned i = 0; i < cfg->ndrives; i++) {
		const struct drive_config *dc = &cfg->drives[i];
		struct vdev *d = &s->devs[s->ndevs];

		ret = vblk_open(&s->blks[i], dc->path_on_host, dc->is_read_only, dc->drive_id,
				(struct vblk_hooks){ vdev_kick, vdev_used, vdev_broken, d }, err,
				sizeof(err));
		if (ret < 0) {
			log_err("--drive %s", err);
			return ret;
		}
		s->nblks++;
		d->ops = &s->blks[i].ops;
		d->dev = &s->blks[i];
		d->process = blk_process;
		s->ndevs++;
	}
	if (cfg->entropy.enabled) {
		struct vdev *d = &s->devs[s->ndevs];

		ret = vrng_init(&s->rng,
				(struct vrng_hooks){ vdev_kick, vdev_used, vdev_broken, d });
		if (ret < 0)
			return ret;
		s->rng_ready = true;
		d->ops = &vrng_ops;
		d->dev = &s->rng;
		d->process = rng_process;
		s->ndevs++;
	}
	if (cfg->vsock.enabled)
		return open_vsock(s, &cfg->vsock);
	return 0;
}

/* Transport, MMIO window, irqfd and one ioeventfd per queue for slot i.
 * KVM_IOEVENTFD on QueueNotify (datamatch = queue index) turns a kick into an
 * eventfd signal without an exit to this process; the loop thread serves it. */
static int wire(struct virtio_slots *s, unsigned i, struct vm *vm, struct gmem *gm,
		struct bus *mmio, struct evloop *ev)
{
	struct vdev *d = &s->devs[i];
	gpa_t base = LAYOUT_VIRTIO_MMIO_BASE + (gpa_t)i * LAYOUT_VIRTIO_MMIO_SIZE;
	int ret;

	ret = vmmio_init(&d->t, d->ops, d->dev, gm, (struct vmmio_irq){ vdev_raise, d });
	if (ret < 0)
		return ret;
	d->t_ready = true;
	ret = bus_register(mmio, base, LAYOUT_VIRTIO_MMIO_SIZE, &vmmio_bus_ops, &d->t,
			   d->ops->name);
	if (ret < 0)
		return ret;
	d->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->irq_fd < 0)
		return -errno;
	ret = vm_irqfd(vm, d->irq_fd, LAYOUT_VIRTIO_IRQ_BASE + i);
	if (ret < 0)
		return ret;
	for (unsigned q = 0; q < d->ops->num_queues; q++) {
		struct vdev_kick *k = &d->kicks[q];

		k->d = d;
		k->q = q;
		k->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (k->fd < 0)
			return -errno;
		ret = vm_ioeventfd(vm, k->fd, base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, q);
		if (ret < 0)
			return ret;
		ret = evloop_add(ev, k->fd, EPOLLIN, on_kick, k);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int virtio_slots_wire(struct virtio_slots *s, struct vm *vm, struct gmem *gm, struct bus *mmio,
		      struct evloop *ev)
{
	int ret;

	for (unsigned i = 0; i < s->ndevs; i++) {
		ret = wire(s, i, vm, gm, mmio, ev);
		if (ret < 0) {
			log_err("virtio device %u (%s): %s", i, s->devs[i].ops->name,
				strerror(-ret));
			return ret;
		}
	}
	/* Host connections and the device's own wake-ups; kicks come through
	 * the slot's ioeventfds like every other device's. */
	if (s->vsock != NULL) {
		ret = evloop_add(ev, vsock_fd(s->vsock), EPOLLIN, on_vsock, s->vsock);
		if (ret < 0) {
			log_err("vsock: %s", strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void virtio_slots_destroy(struct virtio_slots *s)
{
	for (unsigned i = 0; i < s->ndevs; i++) {
		struct vdev *d = &s->devs[i];

		if (d->t_ready)
			vmmio_destroy(&d->t);
		if (d->irq_fd >= 0)
			close(d->irq_fd);
		for (unsigned q = 0; q < VMMIO_MAX_QUEUES; q++)
			if (d->kicks[q].fd >= 0)
				close(d->kicks[q].fd);
	}
	for (unsigned i = 0; i < s->nblks; i++)
		vblk_close(&s->blks[i]);
	if (s->rng_ready)
		vrng_destroy(&s->rng);
	if (s->vsock != NULL) {
		vsock_destroy(s->vsock);
		if (unlink(s->vsock_path) < 0 && errno != ENOENT)
			log_warn("--vsock %s: unlink: %s", s->vsock_path, strerror(errno));
	}
}

int virtio_slots_save(const struct virtio_slots *s, struct snap_writer *w)
{
	for (unsigned i = 0; i < s->ndevs; i++) {
		const struct vdev *d = &s->devs[i];
		int ret;

		if (!d->t_ready)
			return -EINVAL; /* not wired: nothing a guest could have set up */
		ret = snap_dev_save(&vmmio_snap_ops, &d->t, i, w);
		if (ret == 0 && d->ops->snap != NULL)
			ret = snap_dev_save(d->ops->snap, d->dev, i, w);
		if (ret < 0) {
			log_err("snapshot: virtio device %u (%s): %s", i, d->ops->name,
				strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int virtio_slots_restore(struct virtio_slots *s, const struct snap_file *f)
{
	for (unsigned i = 0; i < s->ndevs; i++) {
		struct vdev *d = &s->devs[i];
		int ret;

		if (!d->t_ready)
			return -EINVAL;
		/* The transport first: it activates the device, whose own
		 * section may then act on the running queues. */
		ret = snap_dev_restore(&vmmio_snap_ops, &d->t, i, f);
		if (ret == 0 && d->ops->snap != NULL)
			ret = snap_dev_restore(d->ops->snap, d->dev, i, f);
		if (ret < 0) {
			log_err("snapshot: virtio device %u (%s) not restored", i, d->ops->name);
			return ret;
		}
	}
	return 0;
}

int virtio_slots_replace_drive(struct virtio_slots *s, unsigned i, const char *path, char *err,
			       size_t errlen)
{
	int ret;

	if (i >= s->nblks) {
		snprintf(err, errlen, "no drive %u", i);
		return -ENOENT;
	}
	ret = vblk_replace_backing(&s->blks[i], path, err, errlen);
	/* Drive i sits in slot i; the guest re-reads the capacity on this. */
	if (ret == 0 && s->devs[i].t_ready)
		vmmio_config_changed(&s->devs[i].t);
	return ret;
}
