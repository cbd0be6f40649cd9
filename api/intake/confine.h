/* confine: what ember-intake gives up before it reads an uploaded zip.
 *
 * The zip is untrusted input, and libarchive and mkfs.erofs parse and copy
 * it. Before the first byte of it is read, intake_confine() leaves the
 * process (and mkfs.erofs, which inherits all of it) with:
 *   - rlimits: no core file (it would hold the upload), CPU time
 *     INTAKE_CPU_S, files no larger than INTAKE_FSIZE_MAX, INTAKE_NOFILE
 *     descriptors;
 *   - no_new_privs, and no capability in any set, the bounding set included
 *     where the caller could clear it (emberd runs as root: it can). The uid
 *     stays: the staging folder and the image's folder are root's 0700, and
 *     root without capabilities reaches exactly its own files, never a jail
 *     uid's, and can neither ptrace emberd nor load a module;
 *   - a seccomp filter that kills the process on the system calls that
 *     neither unzipping nor imaging needs and that an exploit would want:
 *     sockets (emberd's API socket is root's), ptrace and other processes'
 *     memory, namespaces and mounts, bpf, io_uring, userfaultfd, keys,
 *     perf, modules. It is a denylist, not an allowlist: mkfs.erofs is
 *     another project's program, run under the same filter, whose system
 *     calls change with its version.
 * Errors: negative errno and a message in err; the caller must then not go
 * on (it reads no zip). */
#ifndef EMBER_API_INTAKE_CONFINE_H
#define EMBER_API_INTAKE_CONFINE_H

#include <stddef.h>

#include "api/code/zip.h"

#define INTAKE_CPU_S  300u /* a 250 MB zip images in seconds; a parser loop ends here */
#define INTAKE_NOFILE 256u
/* Above the largest image ZIP_UNZIPPED_MAX bytes in ZIP_ENTRIES_MAX files can
 * make (about 650 MB: each file's tail padded to a 4 KiB block, at worst). */
#define INTAKE_FSIZE_MAX (1024ull * 1024 * 1024)

int intake_confine(char *err, size_t errlen);

#endif
