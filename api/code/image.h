/* image: build a read-only EROFS code image from a staging folder with mkfs.erofs, as a child process.
 *
 * Contract: image_build() runs `mkfs.erofs --quiet -T0 -x-1 --all-root OUT SRC`
 * (found on PATH; uncompressed, since the guest kernel reads no compressed
 * erofs; fixed timestamps, no xattrs, every file owned by root) and waits
 * for it. It writes OUT itself, so the caller passes a temporary path
 * (afile.h) and renames it after success. On failure msg holds the tool's
 * last line of stderr (bounded) or the reason it could not run.
 * Errors: -EIO (mkfs.erofs failed), or the errno of spawning it.
 * Thread: any; blocks until the child exits (run it on a worker). */
#ifndef EMBER_API_IMAGE_H
#define EMBER_API_IMAGE_H

#include <stddef.h>

#define IMAGE_MKFS "mkfs.erofs"

int image_build(const char *src_dir, const char *out_path, char *msg, size_t cap);

#endif
