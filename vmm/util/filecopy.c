/* filecopy: read file ranges into guest memory on helper threads (see filecopy.h). */
#include "vmm/util/filecopy.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static uint64_t base_of(const uint8_t *dst)
{
	return (uintptr_t)dst & ~(uintptr_t)(FILECOPY_CHUNK - 1);
}

static uint64_t chunks_of(const struct filecopy_range *r)
{
	return ((uintptr_t)r->dst - base_of(r->dst) + r->len + FILECOPY_CHUNK - 1) / FILECOPY_CHUNK;
}

void filecopy_init(struct filecopy *fc)
{
	memset(fc, 0, sizeof(*fc));
}

int filecopy_add(struct filecopy *fc, void *dst, int fd, uint64_t off, uint64_t len,
		 const char *what)
{
	struct filecopy_range *r;

	if (fc->n == FILECOPY_MAX_RANGES || fc->started)
		return -ENOSPC;
	if (len == 0)
		return 0;
	r = &fc->r[fc->n++];
	*r = (struct filecopy_range){ .dst = dst,
				      .fd = fd,
				      .off = off,
				      .len = len,
				      .first_chunk = fc->nchunks,
				      .what = what };
	fc->nchunks += chunks_of(r);
	return 0;
}

static int read_all(int fd, uint8_t *dst, uint64_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pread(fd, dst, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the file shrank since it was checked */
		dst += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* Copies chunk c: the part of its range inside one 2 MiB block of dst. */
static void copy_chunk(struct filecopy *fc, uint64_t c)
{
	unsigned i = 0;
	const struct filecopy_range *r;
	uintptr_t lo, hi, block;
	int ret, none = 0;

	while (i + 1 < fc->n && c >= fc->r[i + 1].first_chunk)
		i++;
	r = &fc->r[i];
	block = base_of(r->dst) + (c - r->first_chunk) * FILECOPY_CHUNK;
	lo = block > (uintptr_t)r->dst ? block : (uintptr_t)r->dst;
	hi = block + FILECOPY_CHUNK < (uintptr_t)r->dst + r->len ? block + FILECOPY_CHUNK
								 : (uintptr_t)r->dst + r->len;
	ret = read_all(r->fd, (uint8_t *)lo, hi - lo, r->off + (lo - (uintptr_t)r->dst));
	if (ret < 0 && __atomic_compare_exchange_n(&fc->err, &none, ret, false, __ATOMIC_ACQ_REL,
						   __ATOMIC_ACQUIRE))
		fc->err_range = i; /* read by the owner only after the join */
}

static void *worker(void *arg)
{
	struct filecopy *fc = arg;

	for (;;) {
		uint64_t c = __atomic_fetch_add(&fc->next, 1, __ATOMIC_RELAXED);

		if (c >= fc->nchunks || __atomic_load_n(&fc->err, __ATOMIC_ACQUIRE) != 0)
			return NULL;
		copy_chunk(fc, c);
	}
}

void filecopy_start(struct filecopy *fc, unsigned nthreads)
{
	fc->started = true;
	if (nthreads > FILECOPY_MAX_THREADS)
		nthreads = FILECOPY_MAX_THREADS;
	if (nthreads > fc->nchunks)
		nthreads = (unsigned)fc->nchunks;
	while (fc->nthreads < nthreads &&
	       pthread_create(&fc->threads[fc->nthreads], NULL, worker, fc) == 0)
		fc->nthreads++;
}

void filecopy_abort(struct filecopy *fc)
{
	int none = 0;

	__atomic_compare_exchange_n(&fc->err, &none, -ECANCELED, false, __ATOMIC_ACQ_REL,
				    __ATOMIC_ACQUIRE);
	filecopy_finish(fc, NULL);
}

const char *filecopy_strerror(int err)
{
	return err == -EIO ? "the file is shorter than it was" : strerror(-err);
}

int filecopy_finish(struct filecopy *fc, const char **what)
{
	worker(fc); /* help with what is left instead of waiting idle */
	for (unsigned i = 0; i < fc->nthreads; i++)
		pthread_join(fc->threads[i], NULL);
	fc->nthreads = 0;
	fc->started = false;
	if (fc->err != 0 && fc->err != -ECANCELED && what != NULL)
		*what = fc->r[fc->err_range].what;
	return fc->err;
}
