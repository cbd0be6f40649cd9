/* Unit tests for vmm/devices/virtio/queue.c: valid chains, EVENT_IDX, each malformed ring. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/util/log.h"
#include "tests/unit/virtq_driver.h"

#define MIB	 (1ull << 20)
#define GIB	 (1ull << 30)
#define MEM	 (1 * MIB)
#define RINGS	 0x1000ull
#define BUF	 0x10000ull /* data buffers from here */
#define TABLE	 0x20000ull /* indirect tables from here */
#define QSIZE	 16
#define F_IND	 VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVT	 VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX)
#define NEXT	 VIRTQ_DESC_F_NEXT
#define WRITE	 VIRTQ_DESC_F_WRITE
#define INDIRECT VIRTQ_DESC_F_INDIRECT

struct fx {
	struct gmem *gm;
	struct vqd d;
	struct vq vq;
	struct vq_chain c;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || gmem_create(MEM, 3 * GIB, 4 * GIB, &f->gm) < 0)
		return -1;
	vqd_init(&f->d, f->gm, QSIZE, RINGS);
	vqd_configure(&f->d, &f->vq, F_IND | F_EVT);
	if (vq_activate(&f->vq, f->gm, VQ_SIZE_MAX) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	gmem_destroy(f->gm);
	free(f);
	return 0;
}

/* The one documented outcome of every malformed ring: -EIO now and forever. */
static void assert_broken(struct fx *f)
{
	assert_int_equal(vq_pop(&f->vq, &f->c), -EIO);
	assert_true(f->vq.broken);
	assert_int_equal(vq_pop(&f->vq, &f->c), -EIO);
	assert_int_equal(vq_push(&f->vq, 0, 0), -EIO);
	assert_false(vq_should_interrupt(&f->vq));
	assert_int_equal(vqd_used_idx(&f->d), 0);
}

static void test_single_chain(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;
	char buf[8] = { 0 };

	gmem_write(f->gm, BUF, "request", 8);
	vqd_desc(&f->d, 3, BUF, 8, NEXT, 5);
	vqd_desc(&f->d, 5, BUF + 0x100, 64, WRITE, 0);
	vqd_make_avail(&f->d, 3);
	assert_int_equal(vq_pop(&f->vq, &f->c), 0);
	assert_int_equal(f->c.head, 3);
	assert_int_equal(f->c.nread, 1);
	assert_int_equal(f->c.nwrite, 1);
	assert_int_equal(f->c.read_len, 8);
	assert_int_equal(f->c.write_len, 64);
	assert_ptr_equal(f->c.seg[0].host, gmem_slice(f->gm, BUF, 8));
	assert_int_equal(vq_chain_read(&f->c, 0, buf, sizeof(buf)), 8);
	assert_string_equal(buf, "request");
	assert_int_equal(vq_chain_write(&f->c, 0, "reply", 6), 6);
	assert_int_equal(vq_push(&f->vq, 3, 6), 0);
	assert_int_equal(vqd_used_idx(&f->d), 1);
	vqd_used_elem(&f->d, 0, &id, &len);
	assert_int_equal(id, 3);
	assert_int_equal(len, 6);
	assert_string_equal((char *)gmem_slice(f->gm, BUF + 0x100, 6), "reply");
	assert_int_equal(vq_pop(&f->vq, &f->c), -EAGAIN);
}

static void test_long_chain_and_copy(void **state)
{
	struct fx *f = *state;
	uint8_t out[10];

	/* Three readable buffers of 3, 0 (skipped) and 4 bytes, two writable of 2 and 5. */
	gmem_write(f->gm, BUF, "abc", 3);
	gmem_write(f->gm, BUF + 0x40, "defg", 4);
	vqd_desc(&f->d, 0, BUF, 3, NEXT, 1);
	vqd_desc(&f->d, 1, BUF + 0x20, 0, NEXT, 2);
	vqd_desc(&f->d, 2, BUF + 0x40, 4, NEXT, 3);
	vqd_desc(&f->d, 3, BUF + 0x80, 2, WRITE | NEXT, 4);
	vqd_desc(&f->d, 4, BUF + 0xc0, 5, WRITE, 0);
	vqd_make_avail(&f->d, 0);
	assert_int_equal(vq_pop(&f->vq, &f->c), 0);
	assert_int_equal(f->c.nread, 2);
	assert_int_equal(f->c.nwrite, 2);
	assert_int_equal(f->c.read_len, 7);
	assert_int_equal(f->c.write_len, 7);
	/* Reads and writes cross segment borders; offsets skip whole segments. */
	assert_int_equal(vq_chain_read(&f->c, 1, out, sizeof(out)), 6);
	assert_memory_equal(out, "bcdefg", 6);
	assert_int_equal(vq_chain_read(&f->c, 7, out, 1), 0);
	assert_int_equal(vq_chain_write(&f->c, 1, "WXYZ!!!", 7), 6);
	assert_memory_equal(gmem_slice(f->gm, BUF + 0x81, 1), "W", 1);
	assert_memory_equal(gmem_slice(f->gm, BUF + 0xc0, 5), "XYZ!!", 5);
}

static void test_indirect(void **state)
{
	struct fx *f = *state;

	/* A direct readable descriptor, then an indirect table of three. */
	vqd_desc(&f->d, 7, BUF, 16, NEXT, 8);
	vqd_desc(&f->d, 8, TABLE, 3 * VIRTQ_DESC_SIZE, INDIRECT | WRITE, 0);
	vqd_table_desc(&f->d, TABLE, 0, BUF + 0x100, 32, NEXT, 2);
	vqd_table_desc(&f->d, TABLE, 2, BUF + 0x200, 100, WRITE | NEXT, 1);
	vqd_table_desc(&f->d, TABLE, 1, BUF + 0x300, 28, WRITE, 0);
	vqd_make_avail(&f->d, 7);
	assert_int_equal(vq_pop(&f->vq, &f->c), 0);
	assert_int_equal(f->c.head, 7);
	assert_int_equal(f->c.nread, 2);
	assert_int_equal(f->c.nwrite, 2);
	assert_int_equal(f->c.read_len, 48);
	assert_int_equal(f->c.write_len, 128);
	assert_ptr_equal(f->c.seg[3].host, gmem_slice(f->gm, BUF + 0x300, 28));
	assert_int_equal(vq_push(&f->vq, 7, 128), 0);
}

static void test_indirect_full_table(void **state)
{
	struct fx *f = *state;

	/* VQ_MAX_SEGS entries is the most a table may hold; all are used. */
	for (unsigned i = 0; i < VQ_MAX_SEGS; i++)
		vqd_table_desc(&f->d, TABLE, (uint16_t)i, BUF + i, 1,
			       i + 1 < VQ_MAX_SEGS ? NEXT : 0, (uint16_t)(i + 1));
	vqd_desc(&f->d, 0, TABLE, VQ_MAX_SEGS * VIRTQ_DESC_SIZE, INDIRECT, 0);
	vqd_make_avail(&f->d, 0);
	assert_int_equal(vq_pop(&f->vq, &f->c), 0);
	assert_int_equal(f->c.nread, VQ_MAX_SEGS);
	assert_int_equal(f->c.read_len, VQ_MAX_SEGS);
}

static void test_ring_wraps(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	/* Start just below the 16-bit wrap of the indices. */
	f->vq.last_avail = f->vq.used_idx = f->vq.signalled_used = 0xfff0;
	vqd_set_avail_idx(&f->d, 0xfff0);
	vqd_desc(&f->d, 1, BUF, 4, 0, 0);
	for (unsigned i = 0; i < 3 * QSIZE; i++) {
		vqd_make_avail(&f->d, 1);
		assert_int_equal(vq_pop(&f->vq, &f->c), 0);
		assert_int_equal(vq_push(&f->vq, 1, i), 0);
	}
	assert_int_equal(vqd_used_idx(&f->d), (uint16_t)(0xfff0 + 3 * QSIZE));
	vqd_used_elem(&f->d, (uint16_t)(0xfff0 + 3 * QSIZE - 1), &id, &len);
	assert_int_equal(len, 3 * QSIZE - 1);
	assert_int_equal(vq_pop(&f->vq, &f->c), -EAGAIN);
}

static void test_event_idx(void **state)
{
	struct fx *f = *state;

	vqd_desc(&f->d, 0, BUF, 4, 0, 0);
	/* Nothing pushed: no interrupt. */
	assert_false(vq_should_interrupt(&f->vq));
	/* used_event 0: the first used entry (index 0 -> 1) crosses it. */
	vqd_set_used_event(&f->d, 0);
	vqd_make_avail(&f->d, 0);
	assert_int_equal(vq_pop(&f->vq, &f->c), 0);
	assert_int_equal(vq_push(&f->vq, 0, 0), 0);
	assert_true(vq_should_interrupt(&f->vq));
	/* The next one does not: the driver still wants only index 0. */
	vqd_make_avail(&f->d, 0);
	assert_int_equal(vq_pop(&f->vq, &f->c), 0);
	assert_int_equal(vq_push(&f->vq, 0, 0), 0);
	assert_false(vq_should_interrupt(&f->vq));
	/* used_event 3: suppressed for 2->3, interrupt on 3->4 (even in one batch). */
	vqd_set_used_event(&f->d, 3);
	vqd_make_avail(&f->d, 0);
	assert_int_equal(vq_pop(&f->vq, &f->c), 0);
	assert_int_equal(vq_push(&f->vq, 0, 0), 0);
	assert_false(vq_should_interrupt(&f->vq));
	for (int i = 0; i < 2; i++) {
		vqd_make_avail(&f->d, 0);
		assert_int_equal(vq_pop(&f->vq, &f->c), 0);
		assert_int_equal(vq_push(&f->vq, 0, 0), 0);
	}
	assert_true(vq_should_interrupt(&f->vq));
	/* An empty queue publishes avail_event = the next index it wants kicked for. */
	assert_int_equal(vq_pop(&f->vq, &f->c), -EAGAIN);
	assert_int_equal(vqd_avail_event(&f->d), 5);
}

static void test_no_interrupt_flag(void **state)
{
	struct fx *f = *state;

	vqd_configure(&f->d, &f->vq, 0);
	assert_int_equal(vq_activate(&f->vq, f->gm, QSIZE), 0);
	vqd_desc(&f->d, 0, BUF, 4, 0, 0);
	vqd_set_avail_flags(&f->d, VIRTQ_AVAIL_F_NO_INTERRUPT);
	vqd_make_avail(&f->d, 0);
	assert_int_equal(vq_pop(&f->vq, &f->c), 0);
	assert_int_equal(vq_push(&f->vq, 0, 0), 0);
	assert_false(vq_should_interrupt(&f->vq));
	vqd_set_avail_flags(&f->d, 0);
	vqd_make_avail(&f->d, 0);
	assert_int_equal(vq_pop(&f->vq, &f->c), 0);
	assert_int_equal(vq_push(&f->vq, 0, 0), 0);
	assert_true(vq_should_interrupt(&f->vq));
	/* Without EVENT_IDX the queue never writes avail_event. */
	assert_int_equal(vq_pop(&f->vq, &f->c), -EAGAIN);
	assert_int_equal(vqd_avail_event(&f->d), 0);
}

static void test_push_misuse(void **state)
{
	struct fx *f = *state;
	struct vq idle = { 0 };

	assert_int_equal(vq_push(&f->vq, QSIZE, 0), -EINVAL);
	assert_int_equal(vq_pop(&idle, &f->c), -EAGAIN);
	assert_int_equal(vq_push(&idle, 0, 0), -EINVAL);
	assert_false(vq_should_interrupt(&idle));
}

/* ---- each malformed ring, one by one ---- */

static void test_bad_head(void **state)
{
	struct fx *f = *state;

	vqd_make_avail(&f->d, QSIZE);
	assert_broken(f);
}

static void test_bad_loop(void **state)
{
	struct fx *f = *state;

	vqd_desc(&f->d, 0, BUF, 4, NEXT, 1);
	vqd_desc(&f->d, 1, BUF, 4, NEXT, 0);
	vqd_make_avail(&f->d, 0);
	assert_broken(f);
}

static void test_bad_empty_loop(void **state)
{
	struct fx *f = *state;

	/* Zero-length buffers add no segments: only the TTL stops this. */
	vqd_desc(&f->d, 0, BUF, 0, NEXT, 1);
	vqd_desc(&f->d, 1, BUF, 0, NEXT, 0);
	vqd_make_avail(&f->d, 0);
	assert_broken(f);
}

static void test_bad_self_loop(void **state)
{
	struct fx *f = *state;

	vqd_desc(&f->d, 2, BUF, 4, WRITE | NEXT, 2);
	vqd_make_avail(&f->d, 2);
	assert_broken(f);
}

static void test_bad_next(void **state)
{
	struct fx *f = *state;

	vqd_desc(&f->d, 0, BUF, 4, NEXT, QSIZE);
	vqd_make_avail(&f->d, 0);
	assert_broken(f);
}

static void test_bad_buffer_outside(void **state)
{
	struct fx *f = *state;

	vqd_desc(&f->d, 0, MEM - 8, 16, 0, 0); /* runs 8 bytes off the end */
	vqd_make_avail(&f->d, 0);
	assert_broken(f);
}

static void test_bad_buffer_in_gap(void **state)
{
	struct fx *f = *state;

	vqd_desc(&f->d, 0, 3 * GIB, 4, WRITE, 0);
	vqd_make_avail(&f->d, 0);
	assert_broken(f);
}

static void test_bad_addr_overflow(void **state)
{
	struct fx *f = *state;

	vqd_desc(&f->d, 0, UINT64_MAX - 7, 16, 0, 0);
	vqd_make_avail(&f->d, 0);
	assert_broken(f);
}

static void test_bad_nested_indirect(void **state)
{
	struct fx *f = *state;

	vqd_desc(&f->d, 0, TABLE, 2 * VIRTQ_DESC_SIZE, INDIRECT, 0);
	vqd_table_desc(&f->d, TABLE, 0, BUF, 4, NEXT, 1);
	vqd_table_desc(&f->d, TABLE, 1, TABLE + 0x100, VIRTQ_DESC_SIZE, INDIRECT, 0);
	vqd_table_desc(&f->d, TABLE + 0x100, 0, BUF, 4, 0, 0);
	vqd_make_avail(&f->d, 0);
	assert_broken(f);
}

static void test_bad_indirect_zero_len(void **state)
{
	struct fx *f = *state;

	vqd_desc(&f->d, 0, TABLE, 0, INDIRECT, 0);
	vqd_make_avail(&f->d, 0);
	assert_broken(f);
}

static void test_bad_indirect_len_not_16(void **state)
{
	struct fx *f = *state;

	vqd_desc(&f->d, 0, TABLE, 24, INDIRECT, 0);
	vqd_make_avail(&f->d, 0);
	assert_broken(f);
}

static void test_bad_indirect_too_long(void **state)
{
	struct fx *f = *state;

	vqd_desc(&f->d, 0, TABLE, (VQ_MAX_SEGS + 1) * VIRTQ_DESC_SIZE, INDIRECT, 0);
	vqd_make_avail(&f->d, 0);
	assert_broken(f);
}

static void test_bad_indirect_with_next(void **state)
{
	struct fx *f = *state;

	vqd_desc(&f->d, 0, TABLE, VIRTQ_DESC_SIZE, INDIRECT | NEXT, 1);
	vqd_desc(&f->d, 1, BUF, 4, WRITE, 0);
	vqd_table_desc(&f->d, TABLE, 0, BUF, 4, 0, 0);
	vqd_make_avail(&f->d, 0);
	assert_broken(f);
}

static void test_bad_indirect_outside(void **state)
{
	struct fx *f = *state;

	vqd_desc(&f->d, 0, MEM - VIRTQ_DESC_SIZE, 2 * VIRTQ_DESC_SIZE, INDIRECT, 0);
	vqd_make_avail(&f->d, 0);
	assert_broken(f);
}

static void test_bad_indirect_not_negotiated(void **state)
{
	struct fx *f = *state;

	vqd_configure(&f->d, &f->vq, F_EVT);
	assert_int_equal(vq_activate(&f->vq, f->gm, QSIZE), 0);
	vqd_desc(&f->d, 0, TABLE, VIRTQ_DESC_SIZE, INDIRECT, 0);
	vqd_table_desc(&f->d, TABLE, 0, BUF, 4, 0, 0);
	vqd_make_avail(&f->d, 0);
	assert_broken(f);
}

static void test_bad_indirect_loop(void **state)
{
	struct fx *f = *state;

	vqd_desc(&f->d, 0, TABLE, 2 * VIRTQ_DESC_SIZE, INDIRECT, 0);
	vqd_table_desc(&f->d, TABLE, 0, BUF, 4, NEXT, 1);
	vqd_table_desc(&f->d, TABLE, 1, BUF, 4, NEXT, 0);
	vqd_make_avail(&f->d, 0);
	assert_broken(f);
}

static void test_bad_indirect_next(void **state)
{
	struct fx *f = *state;

	/* next is checked against the table's 2 entries, not the queue size. */
	vqd_desc(&f->d, 0, TABLE, 2 * VIRTQ_DESC_SIZE, INDIRECT, 0);
	vqd_table_desc(&f->d, TABLE, 0, BUF, 4, NEXT, 2);
	vqd_make_avail(&f->d, 0);
	assert_broken(f);
}

static void test_bad_write_before_read(void **state)
{
	struct fx *f = *state;

	vqd_desc(&f->d, 0, BUF, 4, WRITE | NEXT, 1);
	vqd_desc(&f->d, 1, BUF + 0x10, 4, 0, 0);
	vqd_make_avail(&f->d, 0);
	assert_broken(f);
}

static void test_bad_avail_runs_ahead(void **state)
{
	struct fx *f = *state;

	vqd_desc(&f->d, 0, BUF, 4, 0, 0);
	vqd_set_avail_idx(&f->d, QSIZE); /* exactly size ahead is allowed */
	assert_int_equal(vq_pop(&f->vq, &f->c), 0);
	vqd_set_avail_idx(&f->d, QSIZE + 2); /* now size + 1 ahead of last_avail 1 */
	assert_broken(f);
}

static void test_bad_total_overflow(void **state)
{
	struct fx *f = *state;
	struct gmem *big;

	/* Two 2 GiB readable buffers: 4 GiB does not fit the used ring's 32 bits. */
	assert_int_equal(gmem_create(3 * GIB, 3 * GIB, 4 * GIB, &big), 0);
	gmem_destroy(f->gm);
	f->gm = big;
	vqd_init(&f->d, big, QSIZE, RINGS);
	vqd_configure(&f->d, &f->vq, 0);
	assert_int_equal(vq_activate(&f->vq, big, QSIZE), 0);
	vqd_desc(&f->d, 0, 0, 0x80000000u, NEXT, 1);
	vqd_desc(&f->d, 1, GIB, 0x80000000u, 0, 0);
	vqd_make_avail(&f->d, 0);
	assert_broken(f);
}

/* ---- activation checks ---- */

static void expect_activate(struct fx *f, int ret)
{
	assert_int_equal(vq_activate(&f->vq, f->gm, QSIZE), ret);
	if (ret < 0) {
		assert_false(f->vq.active);
		assert_int_equal(vq_pop(&f->vq, &f->c), -EAGAIN);
	}
}

static void test_activate_sizes(void **state)
{
	struct fx *f = *state;
	static const uint16_t bad[] = { 0, 3, 12, QSIZE - 1, 2 * QSIZE, 0xffff };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vqd_configure(&f->d, &f->vq, 0);
		f->vq.size = bad[i];
		expect_activate(f, -EINVAL);
	}
	vqd_configure(&f->d, &f->vq, 0);
	f->vq.size = 1;
	expect_activate(f, 0);
	vqd_configure(&f->d, &f->vq, 0);
	expect_activate(f, 0);
	/* A device may not offer more than VQ_SIZE_MAX. */
	assert_int_equal(vq_activate(&f->vq, f->gm, 2 * VQ_SIZE_MAX), -EINVAL);
}

static void test_activate_alignment(void **state)
{
	struct fx *f = *state;

	vqd_configure(&f->d, &f->vq, 0);
	f->vq.desc_gpa += 8;
	expect_activate(f, -EINVAL);
	vqd_configure(&f->d, &f->vq, 0);
	f->vq.avail_gpa += 1;
	expect_activate(f, -EINVAL);
	vqd_configure(&f->d, &f->vq, 0);
	f->vq.used_gpa += 2;
	expect_activate(f, -EINVAL);
}

static void test_activate_placement(void **state)
{
	struct fx *f = *state;

	vqd_configure(&f->d, &f->vq, 0);
	f->vq.desc_gpa = MEM - 8 * VIRTQ_DESC_SIZE; /* half the table off the end */
	expect_activate(f, -EINVAL);
	vqd_configure(&f->d, &f->vq, 0);
	f->vq.avail_gpa = MEM - 4;
	expect_activate(f, -EINVAL);
	vqd_configure(&f->d, &f->vq, 0);
	f->vq.used_gpa = MEM - VIRTQ_USED_BYTES(QSIZE) + 4; /* the avail_event slot is outside */
	expect_activate(f, -EINVAL);
	vqd_configure(&f->d, &f->vq, 0);
	f->vq.used_gpa = 3 * GIB; /* the MMIO gap */
	expect_activate(f, -EINVAL);
	vqd_configure(&f->d, &f->vq, 0);
	f->vq.desc_gpa = UINT64_MAX - 15; /* wraps */
	expect_activate(f, -EINVAL);
	/* Exactly at the end of memory is fine. */
	vqd_configure(&f->d, &f->vq, 0);
	f->vq.used_gpa = MEM - VIRTQ_USED_BYTES(QSIZE) - 2;
	expect_activate(f, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_single_chain),
		T(test_long_chain_and_copy),
		T(test_indirect),
		T(test_indirect_full_table),
		T(test_ring_wraps),
		T(test_event_idx),
		T(test_no_interrupt_flag),
		T(test_push_misuse),
		T(test_bad_head),
		T(test_bad_loop),
		T(test_bad_empty_loop),
		T(test_bad_self_loop),
		T(test_bad_next),
		T(test_bad_buffer_outside),
		T(test_bad_buffer_in_gap),
		T(test_bad_addr_overflow),
		T(test_bad_nested_indirect),
		T(test_bad_indirect_zero_len),
		T(test_bad_indirect_len_not_16),
		T(test_bad_indirect_too_long),
		T(test_bad_indirect_with_next),
		T(test_bad_indirect_outside),
		T(test_bad_indirect_not_negotiated),
		T(test_bad_indirect_loop),
		T(test_bad_indirect_next),
		T(test_bad_write_before_read),
		T(test_bad_avail_runs_ahead),
		T(test_bad_total_overflow),
		T(test_activate_sizes),
		T(test_activate_alignment),
		T(test_activate_placement),
	};

	log_set_level(LOG_NONE); /* the bad-ring tests log guest-triggered warnings */
	return cmocka_run_group_tests_name("virtq", tests, NULL, NULL);
}
