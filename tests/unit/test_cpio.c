/* Unit tests for guest-init/cpio.c: the newc layout the kernel unpacks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "guest-init/cpio.h"

struct archive {
	char *buf;
	size_t len;
};

static void build(struct archive *a, int (*fill)(struct cpio_writer *))
{
	struct cpio_writer w;
	FILE *f = open_memstream(&a->buf, &a->len);

	assert_non_null(f);
	cpio_init(&w, f);
	assert_int_equal(fill(&w), 0);
	assert_int_equal(cpio_finish(&w), 0);
	fclose(f);
}

/* Reads the 8-hex-digit field `i` of the header at `hdr`. */
static unsigned long field(const char *hdr, int i)
{
	char tmp[9];

	memcpy(tmp, hdr + 6 + 8 * i, 8);
	tmp[8] = '\0';
	return strtoul(tmp, NULL, 16);
}

static int fill_sample(struct cpio_writer *w)
{
	int ret = cpio_add_dir(w, "/dev", 0755);

	ret = ret ?: cpio_add_node(w, "/dev/console", 0600, 'c', 5, 1);
	ret = ret ?: cpio_add_file(w, "/init", 0755, "hello", 5);
	return ret;
}

static void test_layout(void **state)
{
	struct archive a;
	const char *p;
	(void)state;

	build(&a, fill_sample);
	assert_int_equal(a.len % 4, 0);

	/* dir "dev": header, name padded so the next header is 4-aligned */
	p = a.buf;
	assert_memory_equal(p, "070701", 6);
	assert_int_equal(field(p, 1), S_IFDIR | 0755);
	assert_int_equal(field(p, 11), 4); /* "dev\0" */
	assert_string_equal(p + 110, "dev");
	p += (110 + 4 + 3) & ~3ul;

	/* the console node: char 5:1 */
	assert_int_equal(field(p, 1), S_IFCHR | 0600);
	assert_int_equal(field(p, 9), 5);
	assert_int_equal(field(p, 10), 1);
	assert_string_equal(p + 110, "dev/console");
	p += (110 + 12 + 3) & ~3ul;

	/* the file, with its data after the padded name */
	assert_int_equal(field(p, 1), S_IFREG | 0755);
	assert_int_equal(field(p, 6), 5);
	assert_string_equal(p + 110, "init");
	p += (110 + 5 + 3) & ~3ul;
	assert_memory_equal(p, "hello", 5);
	p += 8;

	/* trailer */
	assert_string_equal(p + 110, "TRAILER!!!");
	assert_int_equal(field(p, 6), 0);
	free(a.buf);
}

static void test_reproducible(void **state)
{
	struct archive a, b;
	(void)state;

	build(&a, fill_sample);
	build(&b, fill_sample);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.buf, b.buf, a.len);
	/* mtime (field 5), uid and gid (2, 3) are zero in every header */
	assert_int_equal(field(a.buf, 5), 0);
	assert_int_equal(field(a.buf, 2), 0);
	assert_int_equal(field(a.buf, 3), 0);
	free(a.buf);
	free(b.buf);
}

static void test_rejects_bad_entries(void **state)
{
	struct cpio_writer w;
	char *buf;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	(void)state;

	cpio_init(&w, f);
	assert_int_equal(cpio_add_dir(&w, "", 0755), -EINVAL);
	assert_int_equal(cpio_add_dir(&w, "/", 0755), -EINVAL);
	assert_int_equal(cpio_add_dir(&w, "a/../b", 0755), -EINVAL);
	assert_int_equal(cpio_add_dir(&w, "a//b", 0755), -EINVAL);
	assert_int_equal(cpio_add_file(&w, "./x", 0644, "", 0), -EINVAL);
	assert_int_equal(cpio_add_file(&w, "x", 0100644, "", 0), -EINVAL);
	assert_int_equal(cpio_add_node(&w, "n", 0600, 'p', 1, 1), -EINVAL);
	/* nothing was written for the rejected entries */
	fflush(f);
	assert_int_equal(len, 0);
	fclose(f);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_reproducible),
		cmocka_unit_test(test_rejects_bad_entries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
