/* Unit tests for vmm/devices/virtio/blk.c: request parsing, each malformed form, FLUSH, GET_ID. */
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

#include "vmm/devices/virtio/blk.h"
#include "lib/util/log.h"
#include "tests/unit/virtq_driver.h"

#define MIB	 (1ull << 20)
#define GIB	 (1ull << 30)
#define QSIZE	 16
#define SECTORS	 64 /* the disk: 32 KiB */
#define HDR_GPA	 0x10000
#define DATA_GPA 0x11000
#define STAT_GPA 0x20000
#define W	 VIRTQ_DESC_F_WRITE
#define N	 VIRTQ_DESC_F_NEXT

struct fx {
	struct gmem *gm;
	struct vqd d;
	struct vq vq;
	struct vblk b;
	char path[64];
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

static uint8_t disk_byte(size_t i)
{
	return (uint8_t)(i * 13 + 7);
}

static int open_fx(void **state, bool ro)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t buf[SECTORS * 512];
	char err[128];
	int fd;

	if (f == NULL || gmem_create(1 * MIB, 3 * GIB, 4 * GIB, &f->gm) < 0)
		return -1;
	snprintf(f->path, sizeof(f->path), "/tmp/test_vblk.XXXXXX");
	fd = mkstemp(f->path);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = disk_byte(i);
	if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		return -1;
	close(fd);
	if (vblk_open(&f->b, f->path, ro, "vda", err, sizeof(err)) < 0)
		return -1;
	f->b.vdev.hooks = (struct vdev_hooks){ h_kick, h_used, h_broken, f };
	vqd_init(&f->d, f->gm, QSIZE, 0x1000);
	vqd_configure(&f->d, &f->vq, 0);
	if (vq_activate(&f->vq, f->gm, QSIZE) < 0 || f->b.ops.activate(&f->b.vdev, &f->vq, 0) < 0)
		return -1;
	*state = f;
	return 0;
}

static int setup_rw(void **state)
{
	return open_fx(state, false);
}

static int setup_ro(void **state)
{
	return open_fx(state, true);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vblk_close(&f->b);
	unlink(f->path);
	gmem_destroy(f->gm);
	free(f);
	return 0;
}

static uint8_t *g(struct fx *f, gpa_t gpa, size_t len)
{
	return gmem_slice(f->gm, gpa, len);
}

static void header(struct fx *f, uint32_t type, uint64_t sector)
{
	uint8_t *h = g(f, HDR_GPA, 16);

	memset(h, 0, 16);
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
}

/* hdr (readable, hdr_len), data (data_len, writable if `in`), status (1 byte, if `st`). */
static void submit(struct fx *f, uint32_t hdr_len, uint32_t data_len, bool in, bool st)
{
	uint16_t i = 0;

	*g(f, STAT_GPA, 1) = 0xaa;
	vqd_desc(&f->d, i, HDR_GPA, hdr_len, (data_len || st) ? N : 0, 1);
	i++;
	if (data_len) {
		vqd_desc(&f->d, i, DATA_GPA, data_len, (uint16_t)((in ? W : 0) | (st ? N : 0)),
			 (uint16_t)(i + 1));
		i++;
	}
	if (st)
		vqd_desc(&f->d, i, STAT_GPA, 1, W, 0);
	vqd_make_avail(&f->d, 0);
	vblk_process(&f->b.vdev, 0);
}

static uint32_t used_len(struct fx *f)
{
	uint32_t id, len;

	assert_int_equal(vqd_used_idx(&f->d), f->d.avail_idx);
	vqd_used_elem(&f->d, (uint16_t)(vqd_used_idx(&f->d) - 1), &id, &len);
	assert_int_equal(id, 0);
	return len;
}

static uint8_t status(struct fx *f)
{
	return *g(f, STAT_GPA, 1);
}

static void file_read(struct fx *f, uint8_t *buf, size_t len, off_t off)
{
	FILE *fp = fopen(f->path, "rb");

	assert_non_null(fp);
	assert_int_equal(fseek(fp, off, SEEK_SET), 0);
	assert_int_equal(fread(buf, 1, len, fp), len);
	fclose(fp);
}

static void test_config(void **state)
{
	struct fx *f = *state;
	uint64_t cap = 0;
	uint32_t segs = 0, size_max = 0;

	f->b.ops.config_read(&f->b.vdev, VBLK_CFG_CAPACITY, (uint8_t *)&cap, 8);
	f->b.ops.config_read(&f->b.vdev, VBLK_CFG_SEG_MAX, (uint8_t *)&segs, 4);
	f->b.ops.config_read(&f->b.vdev, VBLK_CFG_SIZE_MAX, (uint8_t *)&size_max, 4);
	assert_int_equal(cap, SECTORS);
	assert_int_equal(segs, VQ_MAX_SEGS - 2);
	assert_int_equal(size_max, VBLK_SIZE_MAX);
	assert_true(f->b.ops.features & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	assert_false(f->b.ops.features & VIRTIO_BIT(VIRTIO_BLK_F_RO));
	assert_int_equal(f->b.ops.device_id, VIRTIO_ID_BLOCK);
}

static void test_in(void **state)
{
	struct fx *f = *state;
	uint8_t *data;

	header(f, VIRTIO_BLK_T_IN, 2);
	submit(f, 16, 1024, true, true);
	assert_int_equal(status(f), VIRTIO_BLK_S_OK);
	assert_int_equal(used_len(f), 1025);
	data = g(f, DATA_GPA, 1024);
	for (size_t i = 0; i < 1024; i++)
		assert_int_equal(data[i], disk_byte(2 * 512 + i));
	assert_int_equal(f->used, 1);
	assert_int_equal(f->broken, 0);
}

static void test_in_last_sector(void **state)
{
	struct fx *f = *state;

	/* The last sector exactly: allowed. */
	header(f, VIRTIO_BLK_T_IN, SECTORS - 1);
	submit(f, 16, 512, true, true);
	assert_int_equal(status(f), VIRTIO_BLK_S_OK);
	assert_int_equal(*g(f, DATA_GPA + 511, 1), disk_byte(SECTORS * 512 - 1));
}

static void test_out(void **state)
{
	struct fx *f = *state;
	uint8_t back[512];

	header(f, VIRTIO_BLK_T_OUT, 5);
	memset(g(f, DATA_GPA, 512), 0x5a, 512);
	submit(f, 16, 512, false, true);
	assert_int_equal(status(f), VIRTIO_BLK_S_OK);
	assert_int_equal(used_len(f), 1);
	file_read(f, back, sizeof(back), 5 * 512);
	for (size_t i = 0; i < sizeof(back); i++)
		assert_int_equal(back[i], 0x5a);
}

static void test_out_of_range(void **state)
{
	struct fx *f = *state;
	const uint64_t bad[] = { SECTORS, SECTORS - 1, UINT64_MAX, UINT64_MAX / 512 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		header(f, VIRTIO_BLK_T_IN, bad[i]);
		submit(f, 16, 1024, true, true);
		assert_int_equal(status(f), VIRTIO_BLK_S_IOERR);
		header(f, VIRTIO_BLK_T_OUT, bad[i]);
		submit(f, 16, 1024, false, true);
		assert_int_equal(status(f), VIRTIO_BLK_S_IOERR);
	}
	/* Not whole sectors. */
	header(f, VIRTIO_BLK_T_IN, 0);
	submit(f, 16, 100, true, true);
	assert_int_equal(status(f), VIRTIO_BLK_S_IOERR);
	assert_int_equal(f->broken, 0);
}

static void test_header_too_short(void **state)
{
	struct fx *f = *state;

	header(f, VIRTIO_BLK_T_IN, 0);
	submit(f, 8, 512, true, true);
	assert_int_equal(status(f), VIRTIO_BLK_S_IOERR);
	assert_int_equal(used_len(f), 1);
	assert_int_equal(f->broken, 0);
}

static void test_no_status_byte(void **state)
{
	struct fx *f = *state;

	header(f, VIRTIO_BLK_T_FLUSH, 0);
	submit(f, 16, 0, false, false);
	assert_int_equal(used_len(f), 0);
	assert_int_equal(status(f), 0xaa); /* untouched */
	/* An OUT whose only buffers are readable: no status either. */
	header(f, VIRTIO_BLK_T_OUT, 0);
	submit(f, 16, 512, false, false);
	assert_int_equal(used_len(f), 0);
	assert_int_equal(f->broken, 0);
	/* The device goes on. */
	header(f, VIRTIO_BLK_T_FLUSH, 0);
	submit(f, 16, 0, false, true);
	assert_int_equal(status(f), VIRTIO_BLK_S_OK);
}

static void test_unknown_type(void **state)
{
	struct fx *f = *state;

	header(f, 99, 0);
	submit(f, 16, 0, false, true);
	assert_int_equal(status(f), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(used_len(f), 1);
}

static void test_flush(void **state)
{
	struct fx *f = *state;

	header(f, VIRTIO_BLK_T_FLUSH, 0);
	submit(f, 16, 0, false, true);
	assert_int_equal(status(f), VIRTIO_BLK_S_OK);
	assert_int_equal(used_len(f), 1);
}

static void test_get_id(void **state)
{
	struct fx *f = *state;
	uint8_t want[VBLK_ID_BYTES] = "vda";

	memset(g(f, DATA_GPA, 32), 0xff, 32);
	header(f, VIRTIO_BLK_T_GET_ID, 0);
	submit(f, 16, VBLK_ID_BYTES, true, true);
	assert_int_equal(status(f), VIRTIO_BLK_S_OK);
	assert_int_equal(used_len(f), VBLK_ID_BYTES + 1);
	assert_memory_equal(g(f, DATA_GPA, VBLK_ID_BYTES), want, VBLK_ID_BYTES);
	/* A short buffer gets what fits. */
	memset(g(f, DATA_GPA, 32), 0xff, 32);
	submit(f, 16, 2, true, true);
	assert_int_equal(status(f), VIRTIO_BLK_S_OK);
	assert_int_equal(used_len(f), 3);
	assert_memory_equal(g(f, DATA_GPA, 2), "vd", 2);
	assert_int_equal(*g(f, DATA_GPA + 2, 1), 0xff);
}

static void test_write_on_read_only(void **state)
{
	struct fx *f = *state;
	uint8_t back[512];

	assert_true(f->b.ops.features & VIRTIO_BIT(VIRTIO_BLK_F_RO));
	header(f, VIRTIO_BLK_T_OUT, 0);
	memset(g(f, DATA_GPA, 512), 0x11, 512);
	submit(f, 16, 512, false, true);
	assert_int_equal(status(f), VIRTIO_BLK_S_IOERR);
	file_read(f, back, sizeof(back), 0);
	assert_int_equal(back[0], disk_byte(0));
	/* Reads still work. */
	header(f, VIRTIO_BLK_T_IN, 0);
	submit(f, 16, 512, true, true);
	assert_int_equal(status(f), VIRTIO_BLK_S_OK);
}

static void test_broken_ring(void **state)
{
	struct fx *f = *state;

	/* Head out of range: the queue core breaks the queue, the device reports it. */
	f->d.avail_idx = 0;
	vqd_desc(&f->d, 0, HDR_GPA, 16, 0, 0);
	vqd_make_avail(&f->d, QSIZE + 3);
	vblk_process(&f->b.vdev, 0);
	assert_int_equal(f->broken, 1);
	assert_int_equal(vqd_used_idx(&f->d), 0);
}

static void test_reset_stops(void **state)
{
	struct fx *f = *state;

	f->b.ops.reset(&f->b.vdev);
	header(f, VIRTIO_BLK_T_FLUSH, 0);
	submit(f, 16, 0, false, true);
	assert_int_equal(vqd_used_idx(&f->d), 0);
	assert_int_equal(status(f), 0xaa);
	/* A kick from the transport only asks the loop to run. */
	f->b.ops.notify(&f->b.vdev, 0);
	assert_int_equal(f->kicks, 1);
}

static void test_replace_backing(void **state)
{
	struct fx *f = *state;
	char path[] = "/tmp/ember-test-vblk2-XXXXXX", err[128];
	uint64_t cap = 0;
	uint8_t buf[512];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2 * SECTORS * 512), 0);
	assert_int_equal(pwrite(fd, "new", 3, 512), 3);
	close(fd);
	assert_int_equal(vblk_replace_backing(&f->b, "/nonexistent/disk", err, sizeof(err)),
			 -ENOENT);
	f->b.ops.config_read(&f->b.vdev, VBLK_CFG_CAPACITY, (uint8_t *)&cap, 8);
	assert_int_equal(cap, SECTORS); /* the old file stays */
	assert_int_equal(vblk_replace_backing(&f->b, path, err, sizeof(err)), 0);
	f->b.ops.config_read(&f->b.vdev, VBLK_CFG_CAPACITY, (uint8_t *)&cap, 8);
	assert_int_equal(cap, 2 * SECTORS);
	/* Reads now come from the new file, and the new capacity bounds them. */
	header(f, VIRTIO_BLK_T_IN, 1);
	submit(f, 16, 512, true, true);
	assert_int_equal(status(f), VIRTIO_BLK_S_OK);
	memcpy(buf, g(f, DATA_GPA, 512), 512);
	assert_memory_equal(buf, "new", 3);
	header(f, VIRTIO_BLK_T_IN, 2 * SECTORS - 1);
	submit(f, 16, 512, true, true);
	assert_int_equal(status(f), VIRTIO_BLK_S_OK);
	unlink(path);
}

static void test_open_errors(void **state)
{
	struct vblk b;
	char err[128];

	(void)state;
	assert_int_equal(vblk_open(&b, "/nonexistent/disk", false, "x", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/disk"));
	assert_int_equal(vblk_open(&b, "/tmp", true, "x", err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_in, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_in_last_sector, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_out, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_header_too_short, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_no_status_byte, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_type, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_flush, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_get_id, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_write_on_read_only, setup_ro, teardown),
		cmocka_unit_test_setup_teardown(test_broken_ring, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_reset_stops, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_replace_backing, setup_rw, teardown),
		cmocka_unit_test(test_open_errors),
	};

	log_init("test_vblk", LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
