/* machine_priv: struct machine, shared by the builder (machine.c) and its snapshot half (machine_snapshot.c) only. */
#ifndef EMBER_VMM_PRIV_H
#define EMBER_VMM_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/arch/x86_64/loader.h"
#include "vmm/core/bus.h"
#include "vmm/core/evloop.h"
#include "vmm/core/gmem.h"
#include "vmm/core/kvm.h"
#include "vmm/core/vcpu.h"
#include "vmm/core/vm.h"
#include "vmm/machine/console.h"
#include "vmm/machine/devices.h"
#include "vmm/machine/machine.h"
#include "vmm/machine/memguard.h"

#define MIB (1ull << 20)

struct machine {
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
	struct devices devs;
	int console_fd; /* the --console file until con owns it; -1: stdout */
	struct console con;
	struct memguard guard; /* SIGBUS on guest memory: a clean stop */
	int sig_fd;
	int rx_fd; /* eventfd: the guest drained the serial FIFO */
	bool stdin_polled, stdin_paused;
	int signal_exit;
	bool restoring; /* built from a snapshot: no kernel, state from the file */
	int uffd;	/* -1, or the Uffd backend's userfaultfd: open while gm lives */
};

/* machine_snapshot.c: the restore steps machine_build_with() runs for a snapshot. */
int machine_restore_memory(struct machine *vmm, const struct machine_restore *rs);
int machine_restore_state(struct machine *vmm, const struct machine_restore *rs);

#endif
