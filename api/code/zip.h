/* zip: unpack an uploaded function zip (libarchive) into a staging folder, refusing what Lambda refuses.
 *
 * Contract:
 * - zip_extract() reads the zip from memory and writes its entries under
 *   the folder dirfd (which should be empty), keeping unix permission bits
 *   (0777; setuid, setgid and sticky are dropped): an executable bootstrap
 *   stays executable. Folders get at least owner rwx.
 * - Refused, with -EINVAL and a message naming the entry: absolute paths,
 *   any ".." component, an empty or over-long path (ZIP_PATH_MAX, components
 *   over 255 bytes), hard links, device files, fifos and sockets, symlinks
 *   whose target is absolute or leaves the zip's root, an entry that goes
 *   through a symlink or a file, a second entry with the same path, more
 *   than ZIP_ENTRIES_MAX entries, and more than `unzipped_max` bytes of file
 *   data in all ("Unzipped size must be smaller than N bytes").
 * - A zip libarchive cannot read (or whose data is corrupt): -EINVAL with
 *   ZIP_MSG_CORRUPT. -EFBIG when the zip itself is over ZIP_ZIPPED_MAX.
 * - Host failures (disk full, ...) are other negative errnos with a message.
 * - Nothing is ever followed out of dirfd: every path is walked one
 *   component at a time with O_NOFOLLOW.
 * Errors: as above; msg (cap bytes) always says why. Thread: any. */
#ifndef EMBER_API_ZIP_H
#define EMBER_API_ZIP_H

#include <stddef.h>
#include <stdint.h>

#define ZIP_ZIPPED_MAX	 52428800ull  /* Lambda: direct upload */
#define ZIP_UNZIPPED_MAX 262144000ull /* Lambda: unzipped code */
#define ZIP_ENTRIES_MAX	 100000u
#define ZIP_PATH_MAX	 1024u
#define ZIP_MSG_LEN	 320
#define ZIP_MSG_CORRUPT                                                                            \
	"Could not unzip uploaded file. Please check your file, then try to upload again."

int zip_extract(const void *zip, size_t len, int dirfd, uint64_t unzipped_max, uint64_t *unzipped,
		char *msg, size_t cap);

#endif
