/* Unit tests for vmm/core/gmem.c: layout around the MMIO gap and whole-range checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/core/gmem.h"
#include "vmm/core/gmem_priv.h"

#define MIB	  (1ull << 20)
#define GIB	  (1ull << 30)
#define GAP_START (3 * GIB)
#define GAP_END	  (4 * GIB)

static void test_small_is_one_region(void **state)
{
	struct gmem *gm;

	(void)state;
	assert_int_equal(gmem_create(128 * MIB, GAP_START, GAP_END, &gm), 0);
	assert_int_equal(gm->nregions, 1);
	assert_int_equal(gm->regions[0].gpa, 0);
	assert_int_equal(gm->regions[0].size, 128 * MIB);
	assert_int_equal(gmem_region_end(gm, 0), 128 * MIB);
	assert_int_equal(gmem_region_end(gm, 128 * MIB), 0);
	gmem_destroy(gm);
}

static void test_large_skips_gap(void **state)
{
	struct gmem *gm;

	(void)state;
	assert_int_equal(gmem_create(3 * GIB + 512 * MIB, GAP_START, GAP_END, &gm), 0);
	assert_int_equal(gm->nregions, 2);
	assert_int_equal(gm->regions[0].size, 3 * GIB);
	assert_int_equal(gm->regions[1].gpa, 4 * GIB);
	assert_int_equal(gm->regions[1].size, 512 * MIB);
	assert_int_equal(gm->total, 3 * GIB + 512 * MIB);
	/* Inside the gap there is no memory; around it there is. */
	assert_null(gmem_slice(gm, GAP_START, 1));
	assert_null(gmem_slice(gm, GAP_END - 1, 1));
	assert_non_null(gmem_slice(gm, GAP_START - 1, 1));
	assert_non_null(gmem_slice(gm, GAP_END, 1));
	assert_non_null(gmem_slice(gm, GAP_END + 512 * MIB - 8, 8));
	assert_null(gmem_slice(gm, GAP_END + 512 * MIB - 8, 9));
	/* A range may not straddle the gap even if both ends are RAM. */
	assert_null(gmem_slice(gm, GAP_START - 8, GAP_END - GAP_START + 16));
	gmem_destroy(gm);
}

/* Host address and gpa agree modulo 2 MiB in every region, also for a region
 * that starts off a huge-page boundary, so KVM can map huge pages. */
static void test_huge_page_alignment(void **state)
{
	struct gmem *gm;

	(void)state;
	assert_int_equal(gmem_create(3 * GIB + 6 * MIB, GAP_START, GAP_END, &gm), 0);
	for (unsigned i = 0; i < gm->nregions; i++)
		assert_int_equal((uintptr_t)gm->regions[i].host % GMEM_HUGE_SIZE,
				 gm->regions[i].gpa % GMEM_HUGE_SIZE);
	gmem_destroy(gm);
	assert_int_equal(gmem_create(64 * MIB, GAP_START - 1 * MIB, GAP_END + 1 * MIB, &gm), 0);
	assert_int_equal((uintptr_t)gm->regions[0].host % GMEM_HUGE_SIZE, 0);
	gmem_destroy(gm);
	assert_int_equal(gmem_create(GAP_START, GAP_START - 1 * MIB, GAP_END + 1 * MIB, &gm), 0);
	assert_int_equal(gm->regions[1].gpa, GAP_END + 1 * MIB);
	assert_int_equal((uintptr_t)gm->regions[1].host % GMEM_HUGE_SIZE, 1 * MIB);
	gmem_destroy(gm);
}

static void test_ranges(void **state)
{
	struct gmem *gm;
	uint8_t buf[16] = { 1, 2, 3 }, back[16];

	(void)state;
	assert_int_equal(gmem_create(32 * MIB, GAP_START, GAP_END, &gm), 0);
	assert_null(gmem_slice(gm, 0, 0));		/* zero length */
	assert_null(gmem_slice(gm, UINT64_MAX, 2));	/* overflow */
	assert_null(gmem_slice(gm, UINT64_MAX - 3, 8)); /* overflow */
	assert_null(gmem_slice(gm, 32 * MIB - 4, 8));	/* runs off the end */
	assert_null(gmem_slice(gm, 1, 32 * MIB));	/* one byte too long */
	assert_non_null(gmem_slice(gm, 0, 32 * MIB));	/* all of it */
	assert_int_equal(gmem_write(gm, 0x1000, buf, sizeof(buf)), 0);
	assert_int_equal(gmem_read(gm, back, 0x1000, sizeof(back)), 0);
	assert_memory_equal(buf, back, sizeof(buf));
	assert_int_equal(gmem_write(gm, 32 * MIB - 8, buf, sizeof(buf)), -EFAULT);
	assert_int_equal(gmem_read(gm, back, 32 * MIB, 1), -EFAULT);
	assert_int_equal(gmem_fill(gm, 0x2000, 0xaa, 4096), 0);
	assert_int_equal(*(uint8_t *)gmem_slice(gm, 0x2fff, 1), 0xaa);
	assert_int_equal(gmem_fill(gm, 32 * MIB, 0, 1), -EFAULT);
	gmem_destroy(gm);
}

static void test_bad_layout(void **state)
{
	struct gmem *gm = NULL;

	(void)state;
	assert_int_equal(gmem_create(0, GAP_START, GAP_END, &gm), -EINVAL);
	assert_int_equal(gmem_create(4097, GAP_START, GAP_END, &gm), -EINVAL);
	assert_int_equal(gmem_create(4096, GAP_END, GAP_START, &gm), -EINVAL);
	assert_int_equal(gmem_create(4096, 0, GAP_END, &gm), -EINVAL);
	assert_int_equal(gmem_create(UINT64_MAX & ~4095ull, GAP_START, GAP_END, &gm), -EINVAL);
	assert_null(gm);
}

static void test_map_file(void **state)
{
	char path[] = "/tmp/ember-test-gmem-XXXXXX";
	uint8_t page[8192];
	struct gmem *gm;
	int fd = mkstemp(path);
	uint8_t *p;

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)i;
	assert_int_equal(write(fd, page, sizeof(page)), (ssize_t)sizeof(page));
	assert_int_equal(gmem_create(32 * MIB, GAP_START, GAP_END, &gm), 0);
	assert_int_equal(gmem_map_file(gm, 0x100000, fd, 4096, 4096), 0);
	p = gmem_slice(gm, 0x100000, 4096);
	assert_memory_equal(p, page + 4096, 4096);
	p[0] = 0xee; /* private: the file keeps its byte */
	assert_int_equal(pread(fd, page, 1, 4096), 1);
	assert_int_equal(page[0], (uint8_t)4096);
	assert_int_equal(gmem_map_file(gm, 0x100001, fd, 0, 4096), -EINVAL);
	assert_int_equal(gmem_map_file(gm, 0x100000, fd, 0, 100), -EINVAL);
	assert_int_equal(gmem_map_file(gm, 32 * MIB, fd, 0, 4096), -EFAULT);
	gmem_destroy(gm);
	close(fd);
}

static void test_dirty_marks(void **state)
{
	struct gmem *gm;
	uint64_t bits[8] = { 0 };

	(void)state;
	assert_int_equal(gmem_create(1 << 20, 1ull << 30, 1ull << 31, &gm), 0);
	gmem_mark_dirty(gm, 0x3000, 8); /* no tracking yet: nothing */
	assert_int_equal(gmem_dirty_enable(gm), 0);
	assert_int_equal(gmem_dirty_words(gm, 0), 4); /* 256 pages */
	gmem_dirty_take(gm, 0, bits);
	assert_int_equal(bits[0], 0);
	gmem_mark_dirty(gm, 0x1fff, 2);	    /* straddles pages 1 and 2 */
	gmem_mark_dirty(gm, 0xff000, 4096); /* the last page */
	gmem_mark_dirty(gm, 0x200000, 8);   /* not RAM: ignored */
	gmem_dirty_take(gm, 0, bits);
	assert_int_equal(bits[0], 0x6);
	assert_int_equal(bits[3], 1ull << 63);
	memset(bits, 0, sizeof(bits));
	gmem_dirty_take(gm, 0, bits); /* taking clears */
	assert_int_equal(bits[0] | bits[3], 0);
	gmem_destroy(gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_is_one_region),
		cmocka_unit_test(test_large_skips_gap),
		cmocka_unit_test(test_huge_page_alignment),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_dirty_marks),
		cmocka_unit_test(test_bad_layout),
		cmocka_unit_test(test_map_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
