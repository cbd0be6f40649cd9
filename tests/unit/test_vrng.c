/* Unit tests for vmm/devices/virtio/rng.c: filling buffers, bounded work, broken rings, reset. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/devices/virtio/rng.h"
#include "lib/util/log.h"
#include "tests/unit/virtq_driver.h"

#define MIB	(1ull << 20)
#define GIB	(1ull << 30)
#define QSIZE	16
#define BUF_GPA 0x10000
#define W	VIRTQ_DESC_F_WRITE
#define N	VIRTQ_DESC_F_NEXT

struct fx {
	struct gmem *gm;
	struct vqd d;
	struct vq vq;
	struct vrng r;
	int kicks, used, broken;
};

static void h_kick(void *o, unsigned q)
{
	(void)q;
	((struct fx *)o)->kicks++;
}

static void h_used(void *o, unsigned q)
{
	(void)q;
	((struct fx *)o)->used++;
}

static void h_broken(void *o)
{
	((struct fx *)o)->broken++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || gmem_create(1 * MIB, 3 * GIB, 4 * GIB, &f->gm) < 0)
		return -1;
	if (vrng_init(&f->r) < 0)
		return -1;
	f->r.vdev.hooks = (struct vdev_hooks){ h_kick, h_used, h_broken, f };
	vqd_init(&f->d, f->gm, QSIZE, 0x1000);
	vqd_configure(&f->d, &f->vq, 0);
	if (vq_activate(&f->vq, f->gm, QSIZE) < 0 || vrng_ops.activate(&f->r.vdev, &f->vq, 0) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vrng_destroy(&f->r);
	gmem_destroy(f->gm);
	free(f);
	return 0;
}

static uint8_t *g(struct fx *f, gpa_t gpa, size_t len)
{
	return gmem_slice(f->gm, gpa, len);
}

static void used(struct fx *f, uint16_t slot, uint32_t *id, uint32_t *len)
{
	vqd_used_elem(&f->d, slot, id, len);
}

static void test_ops(void **state)
{
	(void)state;
	assert_int_equal(vrng_ops.device_id, VIRTIO_ID_ENTROPY);
	assert_int_equal(vrng_ops.num_queues, 1);
	assert_int_equal(vrng_ops.config_size, 0);
}

static void test_fills_writable(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;
	int distinct = 0, seen[256] = { 0 };
	uint8_t *b;

	memset(g(f, BUF_GPA, 8192), 0, 8192);
	/* Two chained writable buffers: 4096 + 100 bytes. */
	vqd_desc(&f->d, 0, BUF_GPA, 4096, W | N, 1);
	vqd_desc(&f->d, 1, BUF_GPA + 4096, 100, W, 0);
	vqd_make_avail(&f->d, 0);
	vrng_process(&f->r.vdev, 0);
	assert_int_equal(vqd_used_idx(&f->d), 1);
	used(f, 0, &id, &len);
	assert_int_equal(id, 0);
	assert_int_equal(len, 4196);
	assert_int_equal(f->used, 1);
	b = g(f, BUF_GPA, 4196);
	for (size_t i = 0; i < 4196; i++)
		if (!seen[b[i]]++)
			distinct++;
	assert_true(distinct > 200);
	assert_int_equal(*g(f, BUF_GPA + 4196, 1), 0); /* nothing past the buffer */
	assert_int_equal(f->r.bytes, 4196);
}

static void test_readable_only_gets_nothing(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	memset(g(f, BUF_GPA, 64), 0x77, 64);
	vqd_desc(&f->d, 0, BUF_GPA, 64, 0, 0);
	vqd_make_avail(&f->d, 0);
	vrng_process(&f->r.vdev, 0);
	used(f, 0, &id, &len);
	assert_int_equal(len, 0);
	assert_int_equal(*g(f, BUF_GPA, 1), 0x77);
	assert_int_equal(f->broken, 0);
}

static void test_bounded_per_kick(void **state)
{
	struct fx *f = *state;

	/* More chains than one round serves: a full queue's worth, then a re-kick. */
	for (uint16_t i = 0; i < QSIZE; i++) {
		vqd_desc(&f->d, i, BUF_GPA + 16u * i, 16, W, 0);
		vqd_make_avail(&f->d, i);
	}
	vrng_process(&f->r.vdev, 0);
	assert_int_equal(vqd_used_idx(&f->d), QSIZE);
	assert_int_equal(f->kicks, 1);
	/* The re-kick finds nothing more and stops. */
	vrng_process(&f->r.vdev, 0);
	assert_int_equal(vqd_used_idx(&f->d), QSIZE);
	assert_int_equal(f->kicks, 1);
}

static void test_broken_ring(void **state)
{
	struct fx *f = *state;

	/* A buffer outside guest memory. */
	vqd_desc(&f->d, 0, 1 * MIB - 8, 64, W, 0);
	vqd_make_avail(&f->d, 0);
	vrng_process(&f->r.vdev, 0);
	assert_int_equal(f->broken, 1);
	assert_int_equal(vqd_used_idx(&f->d), 0);
}

static void test_reset_and_wrong_queue(void **state)
{
	struct fx *f = *state;

	vqd_desc(&f->d, 0, BUF_GPA, 64, W, 0);
	vqd_make_avail(&f->d, 0);
	vrng_process(&f->r.vdev, 1); /* no such queue */
	assert_int_equal(vqd_used_idx(&f->d), 0);
	vrng_ops.reset(&f->r.vdev);
	vrng_process(&f->r.vdev, 0);
	assert_int_equal(vqd_used_idx(&f->d), 0);
	vrng_ops.notify(&f->r.vdev, 0);
	assert_int_equal(f->kicks, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ops),
		cmocka_unit_test_setup_teardown(test_fills_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readable_only_gets_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded_per_kick, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_and_wrong_queue, setup, teardown),
	};

	log_init("test_vrng", LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
