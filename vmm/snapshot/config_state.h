/* snap config: the configuration a snapshot was taken under, which a restoring VMM must match.
 *
 * Contract:
 * - snap_config_from() records from a vm_config what the guest's memory and
 *   devices depend on: vCPU count, memory size, each drive (id, path,
 *   read-only and root flags, and the backing file's identity: size, inode
 *   and mtime from stat(2), so a file replaced or written since is caught),
 *   whether the entropy device exists, and vsock (enabled, guest CID, uds
 *   path). It fails (logged) if a drive file cannot be stat'ed.
 * - snap_config_check() compares a saved record with one made from the
 *   restoring VMM's config and refuses the first difference with a message
 *   naming the field and both values: a mismatch would hand the guest a
 *   disk or memory it did not see when it was paused, and corrupt it. A
 *   writable drive's file is compared by size only: each clone must have a
 *   copy of its own (made at the pause by whoever restores, as emberd does
 *   for /tmp), which is never the same inode.
 * - encode/decode: one SNAP_TAG_CONFIG section; strings are a u32 length and
 *   the bytes without NUL, refused if too long for their field or holding a
 *   NUL. Pure.
 * Errors: negative errno, logged. */
#ifndef EMBER_SNAP_CONFIG_STATE_H
#define EMBER_SNAP_CONFIG_STATE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/fcapi/config.h"
#include "lib/snapfile/format.h"

#define SNAP_TAG_CONFIG	    SNAP_TAG('C', 'O', 'N', 'F')
#define SNAP_CONFIG_VERSION 1

struct snap_drive {
	char id[CONFIG_DRIVE_ID_LEN];
	char path[PATH_MAX];
	bool read_only, is_root;
	uint64_t size, ino, mtime_ns;
};

struct snap_config {
	uint32_t vcpu_count;
	uint64_t mem_size_mib;
	uint32_t ndrives;
	struct snap_drive drives[CONFIG_MAX_DRIVES];
	bool entropy;
	bool vsock;
	uint32_t vsock_cid;
	char vsock_uds[CONFIG_VSOCK_PATH_MAX + 1];
};

int snap_config_from(const struct vm_config *cfg, struct snap_config *out);
int snap_config_check(const struct snap_config *saved, const struct snap_config *cur);
void snap_config_encode(struct snap_writer *w, const struct snap_config *c);
int snap_config_decode(const struct snap_section *sec, struct snap_config *out);

#endif
