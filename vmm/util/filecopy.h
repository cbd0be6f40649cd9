/* filecopy: read file ranges into guest memory on helper threads, so that the
 * copy of a kernel and initrd overlaps the rest of the VM's setup.
 *
 * Why copy at all: a private file mapping would be free to set up, but its
 * pages are 4 KiB, so the guest would take one nested page fault per page of
 * its kernel as it boots, and run with its kernel on 4 KiB pages. Guest RAM
 * is backed by 2 MiB pages (gmem.h); a copy keeps it so.
 *
 * Contract:
 * - filecopy_add() queues `len` bytes of fd from `off` to `dst` (a gmem slice
 *   the caller checked). It copies nothing yet; -ENOSPC when the queue is
 *   full (the caller then copies itself).
 * - filecopy_start() starts up to `nthreads` helpers (fewer if a thread cannot
 *   be created: the work is still done, by the caller in filecopy_finish()).
 *   The work is cut at 2 MiB boundaries of `dst`, so two threads never fault
 *   the same huge page.
 * - filecopy_finish() copies whatever is left on the calling thread, joins the
 *   helpers and returns 0, or the first error (-EIO for a file that has
 *   become shorter than it was, else -errno of pread) with the failed range's
 *   label in *what. Call it exactly once after filecopy_start(), also on an
 *   error path, before guest memory is freed. The fds must stay open until
 *   then. filecopy_abort() is finish for an error path: what is not copied
 *   yet is dropped. filecopy_strerror() words an error of finish().
 *   Single-owner object: one thread adds, starts and finishes. */
#ifndef EMBER_FILECOPY_H
#define EMBER_FILECOPY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Room for every segment of a kernel (LOADER_MAX_SEGMENTS) and an initrd. */
#define FILECOPY_MAX_RANGES  17
#define FILECOPY_MAX_THREADS 4
#define FILECOPY_CHUNK	     (2ull << 20)

struct filecopy_range {
	uint8_t *dst;
	int fd;
	uint64_t off, len;
	uint64_t first_chunk; /* index of this range's first chunk in the whole job */
	const char *what;     /* label for errors, e.g. the file's path */
};

struct filecopy {
	struct filecopy_range r[FILECOPY_MAX_RANGES];
	unsigned n;
	uint64_t nchunks;
	uint64_t next; /* next chunk to take (atomic) */
	int err;       /* first error, 0 if none (atomic) */
	unsigned err_range;
	pthread_t threads[FILECOPY_MAX_THREADS];
	unsigned nthreads;
	bool started;
};

void filecopy_init(struct filecopy *fc);
int filecopy_add(struct filecopy *fc, void *dst, int fd, uint64_t off, uint64_t len,
		 const char *what);
void filecopy_start(struct filecopy *fc, unsigned nthreads);
int filecopy_finish(struct filecopy *fc, const char **what);
void filecopy_abort(struct filecopy *fc);
const char *filecopy_strerror(int err);

#endif
