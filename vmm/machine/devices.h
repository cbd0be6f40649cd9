/* devices: every device of the machine, and the one list that boot, snapshot and restore walk.
 *
 * Contract:
 * - The machine has the legacy devices (8250 serial on COM1, the i8042
 *   keyboard controller, the boot timer; port I/O) and up to VIRTIO_MAX_DEVS
 *   virtio-mmio devices. Slot i is the MMIO window LAYOUT_VIRTIO_MMIO_BASE +
 *   i * SIZE with IRQ LAYOUT_VIRTIO_IRQ_BASE + i: drives first, in --drive
 *   order (vda, vdb, ...), then the entropy device, then vsock.
 * - devices_open() opens the inputs (every drive: a bad path is a config
 *   error; the vsock socket U: a stale one is replaced, a live one or any
 *   other file is a config error) and lays out the slots;
 *   devices_cmdline() then adds a virtio_mmio.device= per slot and root= to
 *   the guest command line (-E2BIG if it does not fit).
 * - devices_attach() puts every device on its bus and in the list, in one
 *   order: serial, i8042, the boot timer, then each slot. A virtio slot gets
 *   its transport, an irqfd for its (edge-triggered) IRQ line and one
 *   ioeventfd per queue on QueueNotify, so a guest kick costs no exit to
 *   this process: the event-loop thread serves the eventfd and runs the
 *   device's ops->process(). A device's own fd (ops->own_fd: vsock's host
 *   sockets) is watched by the loop too.
 * - The list (struct device_entry, one per snapshot section) is the single
 *   source of the devices' order: devices_save() writes each entry's
 *   section, devices_restore() reads them back through the devices' own
 *   validators (snapshot/dev.h). A virtio slot is two entries: its
 *   transport (vmmio_snap_ops) first, whose restore replays the driver's
 *   setup and activates the device, then the device's own section; both
 *   have instance = the slot index. Save with the vCPUs parked and no device
 *   work running (the loop thread, or the loop stopped); restore on fresh
 *   devices attached from the same config, before any vCPU runs or the loop
 *   starts. -ENOENT if a section is missing, -EBADMSG for an invalid one
 *   (logged, naming the field); after a failure the VM must not run.
 * - devices_replace_drive(): drive i is served from path from now on, and
 *   the guest gets a config-change interrupt. Loop thread.
 * - devices_destroy() runs after the vCPUs are joined and the loop is done;
 *   it unlinks U.
 * Called from the builder's thread only. Errors are negative errno values,
 * logged here. */
#ifndef EMBER_DEVICES_H
#define EMBER_DEVICES_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/fcapi/config.h"
#include "lib/snapfile/format.h"
#include "vmm/arch/x86_64/layout.h"
#include "vmm/core/bus.h"
#include "vmm/core/evloop.h"
#include "vmm/core/gmem.h"
#include "vmm/core/vm.h"
#include "vmm/devices/boot_timer.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/serial.h"
#include "vmm/devices/virtio/blk.h"
#include "vmm/devices/virtio/mmio.h"
#include "vmm/devices/virtio/rng.h"
#include "vmm/devices/virtio/vsock/vsock.h"
#include "vmm/snapshot/dev.h"

/* The ISA IRQs above the virtio base bound the count. */
#define VIRTIO_MAX_DEVS (LAYOUT_ISA_IRQS - LAYOUT_VIRTIO_IRQ_BASE)
/* Serial, i8042, and two entries per virtio slot. */
#define DEVICES_MAX_ENTRIES (2 + 2 * VIRTIO_MAX_DEVS)

struct vslot;

/* One queue's kick: an eventfd that KVM signals on QueueNotify (ioeventfd). */
struct vslot_kick {
	struct vslot *slot;
	unsigned q;
	int fd;
};

/* One virtio-mmio device as the machine wires it: transport, IRQ, kicks. */
struct vslot {
	struct vmmio t;
	bool t_ready;
	struct vdev *dev;
	int irq_fd;
	struct vslot_kick kicks[VMMIO_MAX_QUEUES];
};

/* One snapshot section of one device. */
struct device_entry {
	const char *name;
	const struct snap_dev_ops *snap;
	void *state; /* what snap->save and ->restore are given */
	uint32_t instance;
};

/* What the legacy devices need from the machine. */
struct devices_env {
	struct vm *vm;
	void (*rx_drained)(void *); /* the guest emptied the serial receive FIFO */
	void *rx_opaque;
	void (*out_ready)(void *); /* the serial port has output (console.h) */
	void *out_opaque;
	uint64_t start_ns; /* the boot timer's zero */
};

struct devices {
	struct serial serial;
	struct i8042 i8042;
	struct boot_timer boot_timer;
	bool legacy_ready;
	struct vslot slots[VIRTIO_MAX_DEVS];
	unsigned nslots;
	struct vblk blks[CONFIG_MAX_DRIVES];
	unsigned nblks;
	struct vrng rng;
	bool rng_ready;
	struct vsock_dev *vsock; /* NULL without --vsock */
	const char *vsock_path;	 /* U, unlinked at destroy once vsock exists */
	struct device_entry list[DEVICES_MAX_ENTRIES];
	unsigned nlist;
};

/* Marks every fd closed, so destroy is safe at any point after this. */
void devices_init(struct devices *ds);
int devices_open(struct devices *ds, const struct vm_config *cfg);
int devices_cmdline(const struct devices *ds, const struct vm_config *cfg, char *buf, size_t cap);
int devices_attach(struct devices *ds, const struct devices_env *env, struct gmem *gm,
		   struct bus *pio, struct bus *mmio, struct evloop *ev);
int devices_save(const struct devices *ds, struct snap_writer *w);
int devices_restore(struct devices *ds, const struct snap_file *f);
int devices_replace_drive(struct devices *ds, unsigned i, const char *path, char *err,
			  size_t errlen);
/* The drives' and vsock's counters into st (loop thread). */
void devices_stats(struct devices *ds, const struct vm_config *cfg, struct machine_stats *st);
void devices_destroy(struct devices *ds);

#endif
