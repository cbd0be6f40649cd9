/* virtio_slots: the builder's virtio-mmio devices, and their wiring to KVM.
 *
 * Slot i is the MMIO window LAYOUT_VIRTIO_MMIO_BASE + i * SIZE with IRQ
 * LAYOUT_VIRTIO_IRQ_BASE + i: drives first, in --drive order (vda, vdb, ...),
 * then the entropy device, then the vsock device. Each slot gets its transport, an irqfd for its
 * (edge-triggered) IRQ line, and one ioeventfd per queue on QueueNotify, so a
 * guest kick costs no exit to this process: the event-loop thread serves the
 * eventfd and runs the device. The vsock device also has its own epoll fd
 * (host sockets, its wake eventfd) in the loop; both run vsock_run(). Its
 * Unix socket U is ours: a stale U (a socket nobody answers on) is replaced,
 * a live one or any other file is a config error, and U is unlinked at
 * destroy. Called from the builder's thread only;
 * virtio_slots_destroy() runs after the vCPUs are joined and the loop is done.
 * Errors are negative errno values, logged here. */
#ifndef EMBER_VIRTIO_SLOTS_H
#define EMBER_VIRTIO_SLOTS_H

#include <stdbool.h>
#include <stddef.h>

#include "vmm/arch/x86_64/layout.h"
#include "lib/fcapi/config.h"
#include "vmm/core/bus.h"
#include "vmm/core/evloop.h"
#include "vmm/core/gmem.h"
#include "vmm/core/vm.h"
#include "vmm/devices/virtio/blk.h"
#include "vmm/devices/virtio/mmio.h"
#include "vmm/devices/virtio/rng.h"
#include "vmm/devices/virtio/vsock/vsock.h"
#include "vmm/snapshot/dev.h"

/* virtio-mmio slot i: window LAYOUT_VIRTIO_MMIO_BASE + i * SIZE, IRQ
 * LAYOUT_VIRTIO_IRQ_BASE + i. The ISA IRQs above the base bound the count. */
#define VIRTIO_MAX_DEVS (LAYOUT_ISA_IRQS - LAYOUT_VIRTIO_IRQ_BASE)

struct vdev;

/* One queue's kick: an eventfd that KVM signals on QueueNotify (ioeventfd). */
struct vdev_kick {
	struct vdev *d;
	unsigned q;
	int fd;
};

/* One virtio-mmio device as the builder wires it: transport, IRQ, kicks. */
struct vdev {
	struct vmmio t;
	bool t_ready;
	const struct vmmio_dev_ops *ops;
	void *dev;
	void (*process)(void *dev, unsigned q);
	int irq_fd;
	struct vdev_kick kicks[VMMIO_MAX_QUEUES];
};

struct virtio_slots {
	struct vdev devs[VIRTIO_MAX_DEVS];
	unsigned ndevs;
	struct vblk blks[CONFIG_MAX_DRIVES];
	unsigned nblks;
	struct vrng rng;
	bool rng_ready;
	struct vsock_dev *vsock; /* NULL without --vsock */
	const char *vsock_path;	 /* U, unlinked at destroy once vsock exists */
};

/* Marks every fd closed, so destroy is safe at any point after this. */
void virtio_slots_init(struct virtio_slots *s);
/* Opens every drive (a bad path is a config error) and lays out the slots. */
int virtio_slots_open(struct virtio_slots *s, const struct vm_config *cfg);
/* The guest command line: the configured one, a virtio_mmio.device= per
 * slot, then root= for a root drive. -E2BIG if it does not fit in cap. */
int virtio_slots_cmdline(const struct virtio_slots *s, const struct vm_config *cfg, char *buf,
			 size_t cap);
/* Transport, MMIO window, irqfd and ioeventfds for every slot. */
int virtio_slots_wire(struct virtio_slots *s, struct vm *vm, struct gmem *gm, struct bus *mmio,
		      struct evloop *ev);
void virtio_slots_destroy(struct virtio_slots *s);
/* Drive i (in config order) is served from path from now on, and the guest
 * gets a config-change interrupt. Event-loop thread. */
/* Snapshot: for each slot in order, the transport's section
 * (vmmio_snap_ops) then the device's (its ops->snap), both with instance =
 * the slot index. Save with the vCPUs parked, on the event-loop thread (or
 * with the loop stopped): no device work may run meanwhile. Restore on a
 * fresh VMM after virtio_slots_open() and virtio_slots_wire() from the same
 * config, before any vCPU runs or the loop starts: each transport replays
 * the driver's setup through its validators and activates its device (see
 * mmio.h), then the device checks its own section against what the config
 * reopened (blk: capacity, read-only, id; vsock: CID, and it sends the guest
 * a TRANSPORT_RESET). -ENOENT if a slot's section is missing, -EBADMSG for an
 * invalid one (logged, naming the field); after a failure the VM must not
 * run. */
int virtio_slots_save(const struct virtio_slots *s, struct snap_writer *w);
int virtio_slots_restore(struct virtio_slots *s, const struct snap_file *f);
int virtio_slots_replace_drive(struct virtio_slots *s, unsigned i, const char *path, char *err,
			       size_t errlen);

#endif
