/* afile: write a file atomically: a temporary file in the same folder, fsync, rename, fsync the folder.
 *
 * Contract:
 * - afile_open() creates "<path>.<random>.tmp" (O_EXCL, close-on-exec, mode
 *   `mode`) next to path and opens it for writing: af->fd and af->tmp. The
 *   caller writes through af->fd, or lets another program write to af->tmp
 *   by name (say mkfs.erofs): either way the data reaches the same inode.
 * - afile_commit() fsyncs the file, closes it, renames it over path and
 *   fsyncs the folder: after it returns 0, path has the whole new content
 *   even across a power cut, and before it, path had the whole old content
 *   (or nothing). On failure the temporary file is removed.
 * - afile_abort() closes and removes the temporary file; safe after a failed
 *   commit and on a zeroed struct (fd 0 is never ours: afile_open sets -1 first).
 * - afile_write() is open + one buffer + commit.
 * - afile_fsync_dir() fsyncs a folder (after creating or removing entries).
 * Leftover "*.tmp" files of a crash are the caller's to sweep.
 * Errors: negative errno; nothing is logged. Thread: any (no shared state). */
#ifndef EMBER_AFILE_H
#define EMBER_AFILE_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#define AFILE_TMP_SUFFIX ".tmp"

struct afile {
	int fd;
	char path[PATH_MAX];
	char tmp[PATH_MAX];
};

int afile_open(struct afile *af, const char *path, mode_t mode);
int afile_commit(struct afile *af);
void afile_abort(struct afile *af);
int afile_write(const char *path, const void *buf, size_t len, mode_t mode);
int afile_fsync_dir(const char *dir);

#endif
