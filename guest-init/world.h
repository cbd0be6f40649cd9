/* world: the function's filesystem view, environment and identity (Lambda's sandbox).
 *
 * Contract:
 * - world_mount() builds the function's root under WORLD_ROOT in PID 1's
 *   mount tree: the runtime image (WORLD_RUNTIME_DEV, erofs or ext4) read-only
 *   as /, the code image (WORLD_CODE_DEV) read-only at /var/task, at /tmp
 *   the ext4 disk WORLD_TMP_DEV when the host gave one (emberd does: Lambda's
 *   /tmp is storage, not memory) and else a tmpfs of tmp_mib MiB, and proc
 *   and devtmpfs at /proc and /dev. All are
 *   nosuid (and nodev but /dev), so a setuid file in an image grants nothing.
 *   The runtime image must contain the mount points (var/task, tmp, proc,
 *   dev): images are read-only, so they cannot be created. The caller mounts
 *   once (world keeps no state); a failure unmounts what it mounted. Errors:
 *   -errno with a message in err.
 * - The bootstrap enters that root with chroot(2) in the child, then drops
 *   to WORLD_UID/WORLD_GID (bootstrap.h). chroot, not pivot_root: PID 1 must
 *   keep its own root (the vsock listener, /dev/vd*, remounts after restore),
 *   pivot_root would need a private mount namespace (CONFIG_NAMESPACES is not
 *   in the guest kernel), and a process that is not root cannot leave a
 *   chroot (that needs CAP_SYS_CHROOT).
 * - world_env_build() derives Lambda's environment from INIT. The variables
 *   ember-init derives (_HANDLER, AWS_REGION, AWS_LAMBDA_RUNTIME_API, ...) are
 *   reserved: an INIT env entry with the same key is dropped, with a warning,
 *   so the user cannot override them. Other keys, including PATH, LANG, TZ and
 *   LD_LIBRARY_PATH (which Lambda lets users set) and the credentials the host
 *   sends (AWS_ACCESS_KEY_ID, ...), come from INIT and replace defaults.
 *   Pure: no I/O but a log line per dropped key.
 * - world_entrypoint() picks the bootstrap under a root directory (WORLD_ROOT
 *   in the guest): for "provided*" runtimes the function's own
 *   /var/task/bootstrap when it exists, else the runtime image's
 *   /var/runtime/bootstrap (Lambda's custom-runtime rule, without layers).
 * - world_restore() applies RESTORE: credits the entropy to the kernel's
 *   pool (RNDADDENTROPY) and sets CLOCK_REALTIME.
 * Called from the event loop thread only (no locking). */
#ifndef EMBER_WORLD_H
#define EMBER_WORLD_H

#include "lib/gproto/gproto.h"

#include <stdbool.h>
#include <stddef.h>

#define WORLD_ROOT	  "/lambda"
#define WORLD_RUNTIME_DEV "/dev/vda"
#define WORLD_CODE_DEV	  "/dev/vdb"
#define WORLD_TMP_DEV	  "/dev/vdc"
/* Lambda runs functions as sbx_user1051, uid 993 and gid 990 (as in the runtime
 * images' /etc/passwd); so do we. */
#define WORLD_UID 993u
#define WORLD_GID 990u
/* Lambda's quota on the function's processes and threads; the bootstrap
 * gets it as RLIMIT_NPROC (the guest kernel has no pids cgroup). */
#define WORLD_NPROC_MAX	  1024u
#define WORLD_RUNTIME_API "127.0.0.1:9001"
#define WORLD_TASK_ROOT	  "/var/task"
#define WORLD_RUNTIME_DIR "/var/runtime"
/* Entries the derived environment adds to INIT's (upper bound, with NULL). */
#define WORLD_ENV_DERIVED_MAX 32u

int world_mount(unsigned tmp_mib, char *err, size_t errlen);
/* True if `key` is one ember-init sets itself. */
bool world_env_reserved(const char *key);
/* A malloc'ed NULL-terminated envp (one allocation with its strings); free()
 * it. Returns 0 or -ENOMEM. */
int world_env_build(const struct gproto_init *in, char ***envp);
struct world_entrypoint {
	const char *path;     /* inside the root (static string) */
	const char *searched; /* the paths looked at, space-separated (static) */
	bool found;	      /* path exists under the root */
};

void world_entrypoint(const char *root, const char *runtime, struct world_entrypoint *ep);
int world_restore(const struct gproto_restore *r);

#endif
