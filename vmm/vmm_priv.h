/* vmm_priv: struct vmm, shared by the builder (vmm.c) and its snapshot half (vmm_snapshot.c) only. */
#ifndef EMBER_VMM_PRIV_H
#define EMBER_VMM_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/loader.h"
#include "core/bus.h"
#include "core/evloop.h"
#include "core/gmem.h"
#include "core/kvm.h"
#include "core/vcpu.h"
#include "core/vm.h"
#include "devices/boot_timer.h"
#include "devices/i8042.h"
#include "devices/serial.h"
#include "virtio_slots.h"
#include "vmm.h"

#define MIB (1ull << 20)

struct vmm {
	const struct vm_config *cfg;
	uint64_t start_ns;
	struct loader_file kernel, initrd;
	struct filecopy copy; /* kernel and initrd, read into guest memory during setup */
	struct kernel_image img;
	struct kvm *kvm;
	struct gmem *gm;
	struct vm *vm;
	struct bus pio, mmio;
	struct evloop *ev;
	struct vcpu *vcpus[CONFIG_MAX_VCPUS];
	unsigned nvcpus;
	struct serial serial;
	bool serial_ready;
	struct i8042 i8042;
	struct boot_timer boot_timer;
	int console_fd; /* -1: stdout */
	int sig_fd;
	int rx_fd; /* eventfd: the guest drained the serial FIFO */
	bool stdin_polled, stdin_paused;
	int signal_exit;
	struct virtio_slots virtio;
	bool restoring; /* built from a snapshot: no kernel, state from the file */
	int uffd;	/* -1, or the Uffd backend's userfaultfd: open while gm lives */
};

/* vmm_snapshot.c: the restore steps vmm_build_with() runs for a snapshot. */
int vmm_restore_memory(struct vmm *vmm, const struct vmm_restore *rs);
int vmm_restore_state(struct vmm *vmm, const struct vmm_restore *rs);

#endif
