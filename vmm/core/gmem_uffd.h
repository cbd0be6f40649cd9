/* gmem_uffd: the VMM side of the Uffd memory backend (Firecracker's protocol).
 *
 * Contract:
 * - gmem_uffd_send() takes guest memory just created by gmem_create() and not
 *   yet touched (anonymous private mappings). It creates a userfaultfd
 *   (O_CLOEXEC | O_NONBLOCK, UFFDIO_API with no optional features), registers
 *   every region with UFFDIO_REGISTER_MODE_MISSING, connects to the Unix
 *   socket sock_path and sends, in one sendmsg(), the regions (lib/uffdmsg: Firecracker's
 *   GuestRegionUffdMapping list) with the userfaultfd as SCM_RIGHTS data.
 *   Then it closes the connection: nothing else is ever said on it. Each
 *   region's offset is its place in the snapshot's memory file (the regions
 *   one after another, as gmem_dump() writes them).
 * - From then on every first touch of a guest page, by a vCPU, by KVM or by
 *   the VMM itself, waits until the handler process fills it (UFFDIO_COPY or
 *   UFFDIO_ZEROPAGE). The caller keeps *uffd open for the life of the guest
 *   memory: if every copy of a userfaultfd closes, the kernel unregisters the
 *   ranges and missing pages read as zeros, which would corrupt the guest;
 *   with ours open, a dead handler makes faults hang instead (as in Firecracker).
 * - Nothing may map over registered memory afterwards (gmem_map_file() would
 *   drop the registration): a restore maps no kernel, no initrd and no file.
 * - No UFFD_EVENT_* features are requested (no fork, remap, remove or unmap
 *   events): ember has no balloon and never discards guest pages.
 * Errors: negative errno, with one log_err() line naming the socket or the
 * step: -ENOSYS (kernel without userfaultfd), -EPERM (not allowed to create
 * one), -EINVAL/-EFAULT (UFFDIO_API or UFFDIO_REGISTER refused),
 * -ENOENT/-ECONNREFUSED (no handler listening), -EPIPE/-ECONNRESET (the
 * handler closed the connection), -ENAMETOOLONG (sock_path). Main thread,
 * before the vCPUs exist. */
#ifndef EMBER_GMEM_UFFD_H
#define EMBER_GMEM_UFFD_H

#include <stddef.h>

#include "vmm/core/gmem.h"

int gmem_uffd_send(const struct gmem *gm, const char *sock_path, int *uffd);

/* The regions' JSON description (above), NUL-terminated, into buf. Returns
 * its length, or -ENOSPC if it does not fit. */
int gmem_uffd_regions_json(const struct gmem *gm, char *buf, size_t len);

#endif
