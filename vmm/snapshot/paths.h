/* paths: the rule for host paths a state file names (drives, the vsock socket): the file may not choose host files.
 *
 * Contract:
 * - A snapshot is an input path (CONTRIBUTING.md). A state file written or
 *   edited by someone else must not make ember-vmm open, create or remove a
 *   host file of its choosing. So a path read from a state file is used only
 *   if snap_path_confined() accepts it:
 *     - it is relative (an absolute path is refused: -EPERM);
 *     - the working directory is not this process's root directory (from
 *       "/", everything is "beneath": -EPERM);
 *     - resolved from the working directory it stays beneath it: openat2(2)
 *       with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS refuses "..", absolute
 *       symlinks and symlinks that lead out (-EXDEV), and /proc magic links.
 *   For a socket (socket true: the vsock device's U, which bind() creates)
 *   the path's folder is resolved that way and its last component must be a
 *   plain name (not "", "." or ".."); an existing file there is uds_claim()'s
 *   to judge (it removes only a stale socket).
 * - Every other path is the caller's: the load request's overrides
 *   (vsock_override, drive_overrides), trusted as any API field.
 * - In a jail, ember-vmm's root directory is the jail root: run it from a
 *   folder inside the jail, or give overrides (paths inside the jail).
 * - err gets one line naming `what` (e.g. "drive 'rootfs': path_on_host") and
 *   the override that would do instead (`hint`). Needs Linux 5.6 (openat2);
 *   without it every state-file path is refused (-ENOSYS). Any thread. */
#ifndef EMBER_SNAP_PATHS_H
#define EMBER_SNAP_PATHS_H

#include <stdbool.h>
#include <stddef.h>

int snap_path_confined(const char *path, bool socket, const char *what, const char *hint, char *err,
		       size_t errlen);

#endif
