/* Unit tests for lib/util/afile.c: atomic replacement, no temp files left, abort. */
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/util/afile.h"

static char dir[] = "/tmp/ember-afile-XXXXXX";

static unsigned entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void read_back(const char *path, const char *want)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void test_afile(void **state)
{
	char path[128];
	struct afile af;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(afile_write(path, "one", 3, 0640), 0);
	read_back(path, "one");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(entries(), 1);
	/* Until commit, readers see the old content; the temp file sits beside it. */
	assert_int_equal(afile_open(&af, path, 0644), 0);
	assert_int_equal(write(af.fd, "two", 3), 3);
	read_back(path, "one");
	assert_int_equal(entries(), 2);
	assert_non_null(strstr(af.tmp, AFILE_TMP_SUFFIX));
	assert_int_equal(afile_commit(&af), 0);
	read_back(path, "two");
	assert_int_equal(entries(), 1);
	/* Abort leaves the old file and no temp file. */
	assert_int_equal(afile_open(&af, path, 0644), 0);
	assert_int_equal(write(af.fd, "three", 5), 5);
	afile_abort(&af);
	read_back(path, "two");
	assert_int_equal(entries(), 1);
	afile_abort(&af); /* twice is harmless */
	/* A folder that does not exist. */
	snprintf(path, sizeof(path), "%s/no/f", dir);
	assert_int_equal(afile_write(path, "x", 1, 0644), -ENOENT);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_afile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
