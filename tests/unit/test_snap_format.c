/* Unit tests for lib/snapfile/format.c and vmm/snapshot/dev.c: round trips, every refusal of the parser, the atomic write. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "vmm/snapshot/dev.h"
#include "lib/snapfile/format.h"
#include "lib/util/le.h"
#include "lib/util/log.h"

#define TAG_A SNAP_TAG('A', 'A', 'A', 'A')
#define TAG_B SNAP_TAG('B', 'B', 'B', 'B')

static const uint8_t blob[5] = { 1, 2, 3, 4, 5 };

/* A file with two sections: A holds one field of each width, B is empty. */
static void make_file(struct snap_writer *w)
{
	assert_int_equal(snap_w_init(w), 0);
	snap_w_section_begin(w, TAG_A, 3);
	snap_w_u8(w, 0xab);
	snap_w_u16(w, 0xbeef);
	snap_w_u32(w, 0xdeadbeef);
	snap_w_u64(w, 0x0123456789abcdefull);
	snap_w_bytes(w, blob, sizeof(blob));
	snap_w_section_end(w);
	snap_w_section_begin(w, TAG_B, 1);
	snap_w_section_end(w);
	assert_int_equal(snap_w_finish(w), 0);
}

/* After editing a file, make its CRC right again, so the edit itself is judged. */
static void refresh_crc(uint8_t *buf, size_t len)
{
	le_put(buf + len - 4, crc32(0, buf, (uInt)(len - 4)), 4);
}

static bool last_error_has(const char *s)
{
	if (strstr(log_last_error(), s) != NULL)
		return true;
	fprintf(stderr, "last error \"%s\" lacks \"%s\"\n", log_last_error(), s);
	return false;
}

static void test_round_trip(void **state)
{
	struct snap_writer w;
	struct snap_file f;
	struct snap_reader r;
	uint8_t got[sizeof(blob)];

	(void)state;
	make_file(&w);
	/* Header: magic, version 1.0, arch, total length; explicit little-endian. */
	assert_memory_equal(w.buf, "EMBERSNP\x01\x00\x00\x00\x01\x00\x00\x00", 16);
	assert_int_equal(w.buf[16], w.len & 0xff);
	assert_int_equal(w.len, SNAP_HEADER_LEN + 2 * SNAP_SECTION_HDR_LEN + 20 + SNAP_CRC_LEN);
	assert_int_equal(w.buf[SNAP_HEADER_LEN + SNAP_SECTION_HDR_LEN], 0xab);
	assert_int_equal(w.buf[SNAP_HEADER_LEN + SNAP_SECTION_HDR_LEN + 1], 0xef);

	assert_int_equal(snap_file_parse(w.buf, w.len, &f), 0);
	assert_int_equal(f.nsections, 2);
	assert_int_equal(f.major, SNAP_MAJOR);
	assert_int_equal(snap_file_count(&f, TAG_A), 1);
	assert_null(snap_file_find(&f, TAG_A, 1));
	assert_non_null(snap_file_find(&f, TAG_B, 0));
	snap_r_init(&r, snap_file_find(&f, TAG_A, 0));
	assert_int_equal(r.s->version, 3);
	assert_int_equal(snap_r_u8(&r), 0xab);
	assert_int_equal(snap_r_u16(&r), 0xbeef);
	assert_int_equal(snap_r_u32(&r), 0xdeadbeef);
	assert_true(snap_r_u64(&r) == 0x0123456789abcdefull);
	assert_int_equal(snap_r_left(&r), sizeof(blob));
	snap_r_bytes(&r, got, sizeof(got));
	assert_memory_equal(got, blob, sizeof(blob));
	assert_int_equal(snap_r_done(&r), 0);
	snap_w_free(&w);
}

static void test_every_truncation_refused(void **state)
{
	struct snap_writer w;
	struct snap_file f;

	(void)state;
	make_file(&w);
	for (size_t len = 0; len < w.len; len++) {
		assert_int_equal(snap_file_parse(w.buf, len, &f), -EBADMSG);
		if (len >= SNAP_HEADER_LEN + SNAP_CRC_LEN)
			assert_true(last_error_has("truncated"));
	}
	snap_w_free(&w);
}

static void test_every_bit_flip_refused(void **state)
{
	struct snap_writer w;
	struct snap_file f;

	(void)state;
	make_file(&w);
	for (size_t i = 0; i < w.len; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			w.buf[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(snap_file_parse(w.buf, w.len, &f), -EBADMSG);
			w.buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	/* In the payload, the CRC is what catches it, and says so. */
	w.buf[SNAP_HEADER_LEN + SNAP_SECTION_HDR_LEN] ^= 1;
	assert_int_equal(snap_file_parse(w.buf, w.len, &f), -EBADMSG);
	assert_true(last_error_has("CRC mismatch"));
	snap_w_free(&w);
}

static void test_version_rules(void **state)
{
	struct snap_writer w;
	struct snap_file f;

	(void)state;
	make_file(&w);
	le_put(w.buf + 8, SNAP_MAJOR + 1, 2);
	refresh_crc(w.buf, w.len);
	assert_int_equal(snap_file_parse(w.buf, w.len, &f), -EBADMSG);
	assert_true(last_error_has("major version"));
	le_put(w.buf + 8, SNAP_MAJOR - 1, 2);
	refresh_crc(w.buf, w.len);
	assert_int_equal(snap_file_parse(w.buf, w.len, &f), -EBADMSG);
	le_put(w.buf + 8, SNAP_MAJOR, 2);
	le_put(w.buf + 10, SNAP_MINOR + 1, 2);
	refresh_crc(w.buf, w.len);
	assert_int_equal(snap_file_parse(w.buf, w.len, &f), -EBADMSG);
	assert_true(last_error_has("newer"));
	le_put(w.buf + 10, SNAP_MINOR, 2);
	le_put(w.buf + 12, 2, 4); /* another architecture */
	refresh_crc(w.buf, w.len);
	assert_int_equal(snap_file_parse(w.buf, w.len, &f), -EBADMSG);
	assert_true(last_error_has("architecture"));
	le_put(w.buf + 12, SNAP_ARCH_X86_64, 4);
	refresh_crc(w.buf, w.len);
	assert_int_equal(snap_file_parse(w.buf, w.len, &f), 0);
	memcpy(w.buf, "EMBERSNQ", 8);
	refresh_crc(w.buf, w.len);
	assert_int_equal(snap_file_parse(w.buf, w.len, &f), -EBADMSG);
	assert_true(last_error_has("bad magic"));
	snap_w_free(&w);
}

static void test_section_length_past_end(void **state)
{
	struct snap_writer w;
	struct snap_file f;

	(void)state;
	make_file(&w);
	/* Section A claims one byte more than there is before B's header... */
	le_put(w.buf + SNAP_HEADER_LEN + 8, 21, 8);
	refresh_crc(w.buf, w.len);
	assert_int_equal(snap_file_parse(w.buf, w.len, &f), -EBADMSG);
	assert_true(last_error_has("past the end"));
	/* ...or a length near 2^64 that would wrap an unchecked sum. */
	le_put(w.buf + SNAP_HEADER_LEN + 8, UINT64_MAX - 8, 8);
	refresh_crc(w.buf, w.len);
	assert_int_equal(snap_file_parse(w.buf, w.len, &f), -EBADMSG);
	snap_w_free(&w);
}

static void test_reader_overrun_and_underrun(void **state)
{
	struct snap_writer w;
	struct snap_file f;
	struct snap_reader r;
	uint8_t got[8];

	(void)state;
	make_file(&w);
	assert_int_equal(snap_file_parse(w.buf, w.len, &f), 0);
	/* Overrun: 20 bytes of payload, read as three u64s. */
	snap_r_init(&r, snap_file_find(&f, TAG_A, 0));
	snap_r_u64(&r);
	snap_r_u64(&r);
	assert_true(snap_r_u64(&r) == 0);
	assert_true(r.failed);
	assert_true(last_error_has("truncated"));
	assert_true(last_error_has("'AAAA'"));
	assert_int_equal(snap_r_u8(&r), 0); /* sticky */
	memset(got, 0xee, sizeof(got));
	snap_r_bytes(&r, got, sizeof(got));
	assert_int_equal(got[0], 0);
	assert_int_equal(snap_r_done(&r), -EBADMSG);
	/* Underrun: bytes left unread are an error too. */
	snap_r_init(&r, snap_file_find(&f, TAG_A, 0));
	snap_r_u64(&r);
	assert_int_equal(snap_r_done(&r), -EBADMSG);
	assert_true(last_error_has("12 bytes left over"));
	/* An empty section reads nothing. */
	snap_r_init(&r, snap_file_find(&f, TAG_B, 0));
	assert_int_equal(snap_r_done(&r), 0);
	snap_r_init(&r, snap_file_find(&f, TAG_B, 0));
	assert_int_equal(snap_r_u8(&r), 0);
	assert_int_equal(snap_r_done(&r), -EBADMSG);
	snap_w_free(&w);
}

static void test_unknown_tag(void **state)
{
	static const uint32_t known_a[] = { TAG_A }, known_ab[] = { TAG_A, TAG_B };
	struct snap_writer w;
	struct snap_file f;

	(void)state;
	make_file(&w);
	assert_int_equal(snap_file_parse(w.buf, w.len, &f), 0);
	assert_int_equal(snap_file_check_tags(&f, known_ab, 2), 0);
	assert_int_equal(snap_file_check_tags(&f, known_a, 1), -EBADMSG);
	assert_true(last_error_has("unknown section 'BBBB'"));
	snap_w_free(&w);
}

static void test_writer_misuse_and_cap(void **state)
{
	struct snap_writer w;
	uint8_t *big;

	(void)state;
	assert_int_equal(snap_w_init(&w), 0);
	snap_w_section_begin(&w, TAG_A, 1);
	snap_w_section_begin(&w, TAG_B, 1);
	assert_int_equal(snap_w_finish(&w), -EINVAL);
	snap_w_free(&w);
	assert_int_equal(snap_w_init(&w), 0);
	snap_w_section_begin(&w, TAG_A, 1);
	assert_int_equal(snap_w_finish(&w), -EINVAL);
	snap_w_free(&w);
	assert_int_equal(snap_w_init(&w), 0);
	snap_w_section_end(&w);
	assert_int_equal(snap_w_finish(&w), -EINVAL);
	snap_w_free(&w);
	/* The writer stops at SNAP_MAX_STATE_BYTES. */
	big = calloc(1, SNAP_MAX_STATE_BYTES);
	assert_non_null(big);
	assert_int_equal(snap_w_init(&w), 0);
	snap_w_section_begin(&w, TAG_A, 1);
	snap_w_bytes(&w, big, SNAP_MAX_STATE_BYTES - SNAP_HEADER_LEN - SNAP_SECTION_HDR_LEN);
	snap_w_section_end(&w);
	assert_int_equal(snap_w_finish(&w), -EFBIG);
	snap_w_free(&w);
	free(big);
}

static unsigned count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_atomic_write_and_load(void **state)
{
	char dir[] = "/tmp/test_snap_format.XXXXXX", path[64], bad[80];
	struct snap_writer w;
	struct snap_file f;
	uint8_t *buf;
	size_t len;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state", dir);
	make_file(&w);
	assert_int_equal(snap_w_to_file(&w, path), 0);
	assert_int_equal(snap_w_to_file(&w, path), 0); /* replaces it */
	assert_int_equal(count_entries(dir), 1);       /* no temporary file left */
	assert_int_equal(snap_file_load(path, &buf, &len), 0);
	assert_int_equal(len, w.len);
	assert_memory_equal(buf, w.buf, len);
	assert_int_equal(snap_file_parse(buf, len, &f), 0);
	free(buf);
	/* A failing write leaves nothing behind. */
	snprintf(bad, sizeof(bad), "%s/missing/state", dir);
	assert_true(snap_w_to_file(&w, bad) < 0);
	assert_int_equal(count_entries(dir), 1);
	/* A file over the cap is refused from its size, before reading. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)SNAP_MAX_STATE_BYTES + 1), 0);
	close(fd);
	assert_int_equal(snap_file_load(path, &buf, &len), -EFBIG);
	assert_true(last_error_has("limit"));
	assert_int_equal(snap_file_parse(w.buf, SNAP_MAX_STATE_BYTES + 1, &f), -EBADMSG);
	assert_int_equal(snap_file_load(bad, &buf, &len), -ENOENT);
	assert_int_equal(snap_file_load(dir, &buf, &len), -EINVAL);
	unlink(path);
	rmdir(dir);
	snap_w_free(&w);
}

/* A fake device for the hook interface. */
struct fake_dev {
	uint32_t a, b;
};

static int fake_save(const void *dev, struct snap_writer *w)
{
	const struct fake_dev *d = dev;

	snap_w_u32(w, d->a);
	snap_w_u32(w, d->b);
	return 0;
}

static int fake_restore(void *dev, struct snap_reader *r, uint32_t version)
{
	struct fake_dev *d = dev;

	d->a = snap_r_u32(r);
	d->b = version >= 2 ? snap_r_u32(r) : 7; /* field added in version 2 */
	if (d->a > 100)
		return snap_r_fail(r, "a = %u, over 100", d->a);
	return 0;
}

static void test_dev_hooks(void **state)
{
	static const struct snap_dev_ops ops2 = { SNAP_TAG_DEV_RNG, 2, fake_save, fake_restore };
	static const struct snap_dev_ops ops1 = { SNAP_TAG_DEV_RNG, 1, fake_save, fake_restore };
	struct fake_dev d0 = { 1, 2 }, d1 = { 3, 4 }, bad = { 101, 0 }, out;
	struct snap_writer w;
	struct snap_file f;

	(void)state;
	assert_int_equal(snap_w_init(&w), 0);
	assert_int_equal(snap_dev_save(&ops2, &d0, 0, &w), 0);
	assert_int_equal(snap_dev_save(&ops2, &d1, 1, &w), 0);
	assert_int_equal(snap_dev_save(&ops2, &bad, 2, &w), 0);
	assert_int_equal(snap_w_finish(&w), 0);
	assert_int_equal(snap_file_parse(w.buf, w.len, &f), 0);
	assert_int_equal(snap_dev_restore(&ops2, &out, 1, &f), 0);
	assert_int_equal(out.a, 3);
	assert_int_equal(out.b, 4);
	assert_int_equal(snap_dev_restore(&ops2, &out, 0, &f), 0);
	assert_int_equal(out.a, 1);
	assert_int_equal(snap_dev_restore(&ops2, &out, 3, &f), -ENOENT);
	assert_int_equal(snap_dev_restore(&ops2, &out, 2, &f), -EBADMSG);
	assert_true(last_error_has("over 100"));
	/* A build that knows only version 1 refuses the version-2 section. */
	assert_int_equal(snap_dev_restore(&ops1, &out, 0, &f), -EBADMSG);
	assert_true(last_error_has("newer"));
	snap_w_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_every_truncation_refused),
		cmocka_unit_test(test_every_bit_flip_refused),
		cmocka_unit_test(test_version_rules),
		cmocka_unit_test(test_section_length_past_end),
		cmocka_unit_test(test_reader_overrun_and_underrun),
		cmocka_unit_test(test_unknown_tag),
		cmocka_unit_test(test_writer_misuse_and_cap),
		cmocka_unit_test(test_atomic_write_and_load),
		cmocka_unit_test(test_dev_hooks),
	};

	/* Errors are asserted through log_last_error(); keep them off the terminal. */
	log_init("test_snap_format", LOG_ERR);
	log_set_output(open("/dev/null", O_WRONLY | O_CLOEXEC), false, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
