/* Unit tests for vmm/util/filecopy.c: file ranges read into memory by helper threads. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/util/filecopy.h"

#define MIB	  (1ull << 20)
#define FILE_SIZE (9 * MIB + 123)
#define AREA_SIZE (16 * MIB)

struct fixture {
	int fd;
	uint8_t *want; /* the file's bytes */
	uint8_t *area; /* 2 MiB-aligned destination */
	void *map;
};

static int setup(void **state)
{
	char path[] = "/tmp/ember-test-filecopy-XXXXXX";
	struct fixture *f = calloc(1, sizeof(*f));

	f->fd = mkstemp(path);
	unlink(path);
	f->want = malloc(FILE_SIZE);
	for (size_t i = 0; i < FILE_SIZE; i++)
		f->want[i] = (uint8_t)(i * 13 + (i >> 16));
	assert_int_equal(write(f->fd, f->want, FILE_SIZE), (ssize_t)FILE_SIZE);
	f->map = mmap(NULL, AREA_SIZE + FILECOPY_CHUNK, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(f->map != MAP_FAILED);
	f->area = (uint8_t *)(((uintptr_t)f->map + FILECOPY_CHUNK - 1) & ~(FILECOPY_CHUNK - 1));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	munmap(f->map, AREA_SIZE + FILECOPY_CHUNK);
	close(f->fd);
	free(f->want);
	free(f);
	return 0;
}

/* Ranges that start and end off 2 MiB boundaries, several of them, copied by
 * more threads than there are chunks or by the caller alone: every byte lands,
 * and nothing outside the ranges is written. */
static void test_ranges_land(void **state)
{
	struct fixture *f = *state;
	static const unsigned threads[] = { 0, 1, 3, FILECOPY_MAX_THREADS + 5 };

	for (unsigned t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
		struct filecopy fc;
		const char *what = NULL;

		memset(f->area, 0xcc, AREA_SIZE);
		filecopy_init(&fc);
		/* 4097 bytes into a block, across four blocks, from an odd offset. */
		assert_int_equal(filecopy_add(&fc, f->area + 4097, f->fd, 77, 7 * MIB, "a"), 0);
		assert_int_equal(filecopy_add(&fc, f->area + 12 * MIB, f->fd, 0, 4096, "b"), 0);
		assert_int_equal(filecopy_add(&fc, f->area + 13 * MIB, f->fd, 5, 0, "empty"), 0);
		assert_int_equal(fc.n, 2);
		assert_int_equal(fc.nchunks, 4 + 1);
		filecopy_start(&fc, threads[t]);
		assert_int_equal(filecopy_finish(&fc, &what), 0);
		assert_null(what);
		assert_memory_equal(f->area + 4097, f->want + 77, 7 * MIB);
		assert_memory_equal(f->area + 12 * MIB, f->want, 4096);
		assert_int_equal(f->area[4096], 0xcc);
		assert_int_equal(f->area[4097 + 7 * MIB], 0xcc);
		assert_int_equal(f->area[12 * MIB + 4096], 0xcc);
	}
}

static void test_queue_full(void **state)
{
	struct fixture *f = *state;
	struct filecopy fc;

	filecopy_init(&fc);
	for (unsigned i = 0; i < FILECOPY_MAX_RANGES; i++)
		assert_int_equal(filecopy_add(&fc, f->area + i * 4096, f->fd, 0, 4096, "r"), 0);
	assert_int_equal(filecopy_add(&fc, f->area, f->fd, 0, 4096, "r"), -ENOSPC);
	filecopy_start(&fc, 2);
	assert_int_equal(filecopy_add(&fc, f->area, f->fd, 0, 4096, "r"), -ENOSPC);
	assert_int_equal(filecopy_finish(&fc, NULL), 0);
}

/* A range past the end of the file (it shrank) fails with its label; a bad
 * fd fails with EBADF; an abort drops the rest and reports nothing. */
static void test_errors(void **state)
{
	struct fixture *f = *state;
	struct filecopy fc;
	const char *what = NULL;

	filecopy_init(&fc);
	assert_int_equal(filecopy_add(&fc, f->area, f->fd, 0, 4096, "good"), 0);
	assert_int_equal(filecopy_add(&fc, f->area + MIB, f->fd, FILE_SIZE - 10, 4096, "short"), 0);
	filecopy_start(&fc, 2);
	assert_int_equal(filecopy_finish(&fc, &what), -EIO);
	assert_string_equal(what, "short");
	assert_string_equal(filecopy_strerror(-EIO), "the file is shorter than it was");

	filecopy_init(&fc);
	assert_int_equal(filecopy_add(&fc, f->area, -1, 0, 4096, "badfd"), 0);
	filecopy_start(&fc, 0);
	assert_int_equal(filecopy_finish(&fc, &what), -EBADF);
	assert_string_equal(what, "badfd");

	memset(f->area, 0xcc, 4 * MIB);
	filecopy_init(&fc);
	assert_int_equal(filecopy_add(&fc, f->area, f->fd, 0, 4 * MIB, "dropped"), 0);
	filecopy_start(&fc, 0);
	filecopy_abort(&fc);
	assert_int_equal(f->area[0], 0xcc);
	assert_false(fc.started);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ranges_land),
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
