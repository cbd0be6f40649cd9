/* devices: open, attach, list, save, restore and tear down the machine's devices (see devices.h). */
#include "vmm/machine/devices.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/util/log.h"
#include "lib/util/boot_timer.h"
#include "lib/util/uds.h"
#include "vmm/core/vcpu.h"

/* --- hooks from the devices and the transport to KVM and the loop --- */

/* Adds 1 to an eventfd. A failure can only be EAGAIN (the counter is about
 * to overflow), and then the fd is already readable: nothing is lost. */
static void signal_eventfd(int fd)
{
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof(one));

	(void)n;
}

static void slot_kick(void *opaque, unsigned q)
{
	struct vslot *v = opaque;

	/* The same eventfd KVM signals for QueueNotify: the loop serves it. */
	if (q < VMMIO_MAX_QUEUES && v->kicks[q].fd >= 0)
		signal_eventfd(v->kicks[q].fd);
}

static void slot_used(void *opaque, unsigned q)
{
	vmmio_used(&((struct vslot *)opaque)->t, q);
}

static void slot_broken(void *opaque)
{
	vmmio_queue_broken(&((struct vslot *)opaque)->t);
}

/* An interrupt bit went from clear to set: pulse the (edge-triggered, per
 * the MP table's ISA defaults) IRQ line through the irqfd. */
static void slot_raise(void *opaque)
{
	signal_eventfd(((struct vslot *)opaque)->irq_fd);
}

static void on_kick(void *opaque, int fd, uint32_t events)
{
	struct vslot_kick *k = opaque;
	uint64_t v;

	(void)events;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	k->slot->dev->ops->process(k->slot->dev, k->q);
}

static void on_own_fd(void *opaque, int fd, uint32_t events)
{
	struct vdev *d = opaque;

	(void)fd;
	(void)events;
	d->ops->process(d, VDEV_OWN_EVENT);
}

static void serial_irq_set(void *opaque, int level)
{
	vm_irq_line(opaque, LAYOUT_COM1_IRQ, level);
}

static void i8042_irq_set(void *opaque, enum i8042_irq line, int level)
{
	if (line == I8042_IRQ_KBD) {
		vm_irq_line(opaque, LAYOUT_I8042_IRQ, level);
		return;
	}
	/* IRQ 12 may also be a virtio slot's (LAYOUT_I8042_AUX_IRQ), whose irqfd
	 * pulses it from the same KVM source: a held level would hide that
	 * slot's edges, so the edge-triggered line only ever gets a pulse. */
	if (level) {
		vm_irq_line(opaque, LAYOUT_I8042_AUX_IRQ, 1);
		vm_irq_line(opaque, LAYOUT_I8042_AUX_IRQ, 0);
	}
}

static void guest_reset(void *opaque)
{
	vm_request_stop(opaque, VMM_EXIT_OK);
}

void devices_init(struct devices *ds)
{
	memset(ds, 0, sizeof(*ds));
	for (unsigned i = 0; i < VIRTIO_MAX_DEVS; i++) {
		ds->slots[i].irq_fd = -1;
		for (unsigned q = 0; q < VMMIO_MAX_QUEUES; q++)
			ds->slots[i].kicks[q].fd = -1;
	}
}

/* The guest command line: the configured one, then one virtio_mmio.device=
 * per device in slot order (so drives are vda, vdb, ...), then root=. */
int devices_cmdline(const struct devices *ds, const struct vm_config *cfg, char *buf, size_t cap)
{
	size_t len = (size_t)snprintf(buf, cap, "%s", cfg->boot_source.boot_args);

	for (unsigned i = 0; i < ds->nslots && len < cap; i++)
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
static int open_vsock(struct devices *ds, const struct vsock_config *vc)
{
	int ret;

	ret = uds_claim(vc->uds_path, "--vsock");
	if (ret < 0)
		return ret;
	ret = vsock_create(vc->guest_cid, vc->uds_path, &ds->vsock);
	if (ret < 0) {
		log_err("--vsock %s: %s", vc->uds_path, strerror(-ret));
		return ret;
	}
	ds->vsock_path = vc->uds_path;
	ds->slots[ds->nslots++].dev = &ds->vsock->vdev;
	return 0;
}

/* Opens every drive (bad paths are config errors) and lays out the virtio
 * slots: drives first, in order, then the entropy device. */
int devices_open(struct devices *ds, const struct vm_config *cfg)
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

		ret = vblk_open(&ds->blks[i], dc->path_on_host, dc->is_read_only, dc->drive_id, err,
				sizeof(err));
		if (ret < 0) {
			log_err("--drive %s", err);
			return ret;
		}
		ds->nblks++;
		ds->slots[ds->nslots++].dev = &ds->blks[i].vdev;
	}
	if (cfg->entropy.enabled) {
		ret = vrng_init(&ds->rng);
		if (ret < 0)
			return ret;
		ds->rng_ready = true;
		ds->slots[ds->nslots++].dev = &ds->rng.vdev;
	}
	if (cfg->vsock.enabled)
		return open_vsock(ds, &cfg->vsock);
	return 0;
}

static void list_add(struct devices *ds, const char *name, const struct snap_dev_ops *snap,
		     void *state, uint32_t instance)
{
	/* DEVICES_MAX_ENTRIES counts every entry attach can add. */
	ds->list[ds->nlist++] = (struct device_entry){ name, snap, state, instance };
}

/* Serial, i8042 and the boot timer on their ports. */
static int attach_legacy(struct devices *ds, const struct devices_env *env, struct bus *pio)
{
	int ret;

	serial_init(&ds->serial, (struct serial_irq){ .set = serial_irq_set,
						      .opaque = env->vm,
						      .rx_drained = env->rx_drained,
						      .rx_opaque = env->rx_opaque,
						      .out_ready = env->out_ready,
						      .out_opaque = env->out_opaque });
	i8042_init(&ds->i8042, guest_reset, env->vm, i8042_irq_set, env->vm);
	boot_timer_init(&ds->boot_timer, env->start_ns);
	ds->legacy_ready = true;
	ret = bus_register(pio, LAYOUT_COM1_PORT, SERIAL_NREGS, &serial_ops, &ds->serial, "serial");
	if (ret == 0)
		ret = bus_register(pio, LAYOUT_I8042_DATA, 1, &i8042_data_ops, &ds->i8042, "i8042");
	if (ret == 0)
		ret = bus_register(pio, LAYOUT_I8042_CMD, 1, &i8042_cmd_ops, &ds->i8042, "i8042");
	if (ret == 0)
		ret = bus_register(pio, BOOT_TIMER_PORT, 1, &boot_timer_ops, &ds->boot_timer,
				   "boot-timer");
	if (ret < 0) {
		log_err("registering devices: %s", strerror(-ret));
		return ret;
	}
	list_add(ds, "serial", &serial_snap_ops, &ds->serial, 0);
	list_add(ds, "i8042", &i8042_snap_ops, &ds->i8042, 0);
	return 0;
}

/* Transport, MMIO window, irqfd and one ioeventfd per queue for slot i. */
static int attach_slot(struct devices *ds, unsigned i, struct vm *vm, struct gmem *gm,
		       struct bus *mmio, struct evloop *ev)
{
	struct vslot *v = &ds->slots[i];
	const struct vdev_ops *ops = v->dev->ops;
	gpa_t base = LAYOUT_VIRTIO_MMIO_BASE + (gpa_t)i * LAYOUT_VIRTIO_MMIO_SIZE;
	int ret;

	v->dev->hooks = (struct vdev_hooks){ slot_kick, slot_used, slot_broken, v };
	ret = vmmio_init(&v->t, v->dev, gm, (struct vmmio_irq){ slot_raise, v });
	if (ret < 0)
		return ret;
	v->t_ready = true;
	ret = bus_register(mmio, base, LAYOUT_VIRTIO_MMIO_SIZE, &vmmio_bus_ops, &v->t, ops->name);
	if (ret < 0)
		return ret;
	v->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->irq_fd < 0)
		return -errno;
	ret = vm_irqfd(vm, v->irq_fd, LAYOUT_VIRTIO_IRQ_BASE + i);
	if (ret < 0)
		return ret;
	for (unsigned q = 0; q < ops->num_queues; q++) {
		struct vslot_kick *k = &v->kicks[q];

		k->slot = v;
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
	if (ops->own_fd != NULL) {
		ret = evloop_add(ev, ops->own_fd(v->dev), EPOLLIN, on_own_fd, v->dev);
		if (ret < 0)
			return ret;
	}
	/* The transport first: its restore activates the device, whose own
	 * section may then act on the running queues. */
	list_add(ds, ops->name, &vmmio_snap_ops, &v->t, i);
	if (ops->snap != NULL)
		list_add(ds, ops->name, ops->snap, v->dev, i);
	return 0;
}

int devices_attach(struct devices *ds, const struct devices_env *env, struct gmem *gm,
		   struct bus *pio, struct bus *mmio, struct evloop *ev)
{
	int ret = attach_legacy(ds, env, pio);

	for (unsigned i = 0; i < ds->nslots && ret == 0; i++) {
		ret = attach_slot(ds, i, env->vm, gm, mmio, ev);
		if (ret < 0)
			log_err("virtio device %u (%s): %s", i, ds->slots[i].dev->ops->name,
				strerror(-ret));
	}
	return ret;
}

int devices_save(const struct devices *ds, struct snap_writer *w)
{
	for (unsigned i = 0; i < ds->nlist; i++) {
		const struct device_entry *e = &ds->list[i];
		int ret = snap_dev_save(e->snap, e->state, e->instance, w);

		if (ret < 0) {
			log_err("snapshot: device %s (%u): %s", e->name, e->instance,
				strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int devices_restore(struct devices *ds, const struct snap_file *f)
{
	for (unsigned i = 0; i < ds->nlist; i++) {
		const struct device_entry *e = &ds->list[i];
		int ret = snap_dev_restore(e->snap, e->state, e->instance, f);

		if (ret < 0) {
			log_err("snapshot: device %s (%u) not restored", e->name, e->instance);
			return ret;
		}
	}
	return 0;
}

int devices_replace_drive(struct devices *ds, unsigned i, const char *path, char *err,
			  size_t errlen)
{
	int ret;

	if (i >= ds->nblks) {
		snprintf(err, errlen, "no drive %u", i);
		return -ENOENT;
	}
	ret = vblk_replace_backing(&ds->blks[i], path, err, errlen);
	/* Drive i sits in slot i; the guest re-reads the capacity on this. */
	if (ret == 0 && ds->slots[i].t_ready)
		vmmio_config_changed(&ds->slots[i].t);
	return ret;
}

void devices_stats(struct devices *ds, const struct vm_config *cfg, struct machine_stats *st)
{
	st->boot_us = atomic_load(&ds->boot_timer.boot_us);
	for (unsigned i = 0; i < ds->nblks; i++) {
		pthread_mutex_lock(&ds->blks[i].lock);
		st->drives[i].s = ds->blks[i].stats;
		pthread_mutex_unlock(&ds->blks[i].lock);
		snprintf(st->drives[i].id, sizeof(st->drives[i].id), "%s", cfg->drives[i].drive_id);
	}
	st->ndrives = ds->nblks;
	if (ds->vsock != NULL) {
		st->vsock_enabled = true;
		pthread_mutex_lock(&ds->vsock->lock);
		st->vsock = ds->vsock->conns.stats;
		pthread_mutex_unlock(&ds->vsock->lock);
	}
}

void devices_destroy(struct devices *ds)
{
	if (ds->legacy_ready) {
		serial_destroy(&ds->serial);
		i8042_destroy(&ds->i8042);
	}
	for (unsigned i = 0; i < ds->nslots; i++) {
		struct vslot *v = &ds->slots[i];

		if (v->t_ready)
			vmmio_destroy(&v->t);
		if (v->irq_fd >= 0)
			close(v->irq_fd);
		for (unsigned q = 0; q < VMMIO_MAX_QUEUES; q++)
			if (v->kicks[q].fd >= 0)
				close(v->kicks[q].fd);
	}
	for (unsigned i = 0; i < ds->nblks; i++)
		vblk_close(&ds->blks[i]);
	if (ds->rng_ready)
		vrng_destroy(&ds->rng);
	if (ds->vsock != NULL) {
		vsock_destroy(ds->vsock);
		if (unlink(ds->vsock_path) < 0 && errno != ENOENT)
			log_warn("--vsock %s: unlink: %s", ds->vsock_path, strerror(errno));
	}
}
