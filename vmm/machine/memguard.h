/* memguard: guest memory that vanishes under a running VM (its memory file truncated) stops the VM cleanly.
 *
 * Contract:
 * - A restored VM's memory is the memory file, mapped MAP_PRIVATE: a page
 *   the guest has not written is still the file's. If the file shrinks (a
 *   truncate, a full disk's cleanup), such a page is gone. The guest's
 *   access then fails in KVM (KVM_RUN returns EFAULT: vcpu.h stops the VM
 *   with VMM_EXIT_GUEST_MEMORY), and ember-vmm's own access (a device
 *   reading a ring, a snapshot) raises SIGBUS.
 * - memguard_arm() installs a process-wide SIGBUS handler for this VM's
 *   memory and a wake-up eventfd on the loop. A SIGBUS on guest memory, on
 *   any thread, turns the page into a zero page (gmem_sigbus_fixup) so the
 *   access completes, and wakes the loop, which logs one line and stops the
 *   VM with VMM_EXIT_GUEST_MEMORY. A SIGBUS anywhere else gets the default
 *   action (the process dies of it: a bug, not the guest's memory).
 * - memguard_explain() (after the VM stopped with VMM_EXIT_GUEST_MEMORY)
 *   logs what the memory file looks like now against what the snapshot
 *   needs, if it knows the file (memguard_watch_file()).
 * - memguard_disarm() restores the default handler. One VM per process: the
 *   handler's state is process-wide. Main/loop thread, except the handler. */
#ifndef EMBER_MEMGUARD_H
#define EMBER_MEMGUARD_H

#include <stdint.h>

#include "vmm/core/evloop.h"
#include "vmm/core/gmem.h"
#include "vmm/core/vm.h"

struct memguard {
	int wake_fd; /* -1 until armed */
	int mem_fd;  /* a dup of the memory file, or -1 */
	uint64_t mem_bytes;
	struct vm *vm;
	struct evloop *ev;
};

void memguard_init(struct memguard *g);
/* The memory file behind guest memory (dup'ed; the caller keeps fd). */
int memguard_watch_file(struct memguard *g, int fd, uint64_t bytes);
int memguard_arm(struct memguard *g, const struct gmem *gm, struct vm *vm, struct evloop *ev);
void memguard_explain(const struct memguard *g);
void memguard_disarm(struct memguard *g);

#endif
