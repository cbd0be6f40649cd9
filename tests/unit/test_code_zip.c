/* Unit tests for api/code/zip.c and digest.c: zips built here with libarchive, unpacked or refused as Lambda does. */
#include <archive.h>
#include <archive_entry.h>
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

#include "api/code/digest.h"
#include "api/code/zip.h"

#define ZIP_CAP (1u << 20)

struct entry {
	const char *path;
	mode_t type; /* AE_IFREG, AE_IFDIR, AE_IFLNK */
	mode_t perm;
	const char *data; /* file data or symlink target */
};

static uint8_t zipbuf[ZIP_CAP];
static char msg[ZIP_MSG_LEN];
static char tmpdir[] = "/tmp/ember-zip-XXXXXX";

/* A zip of entries, as a client would upload it. */
static size_t make_zip(const struct entry *e, size_t n)
{
	struct archive *a = archive_write_new();
	size_t used = 0;

	assert_non_null(a);
	assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, zipbuf, sizeof(zipbuf), &used), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();

		archive_entry_set_pathname(ae, e[i].path);
		archive_entry_set_filetype(ae, e[i].type);
		archive_entry_set_perm(ae, e[i].perm);
		if (e[i].type == AE_IFLNK)
			archive_entry_set_symlink(ae, e[i].data);
		if (e[i].type == AE_IFREG)
			archive_entry_set_size(ae, (la_int64_t)strlen(e[i].data));
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		if (e[i].type == AE_IFREG)
			assert_int_equal(archive_write_data(a, e[i].data, strlen(e[i].data)),
					 (la_ssize_t)strlen(e[i].data));
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	return used;
}

/* libarchive writes no fifos or devices into a zip; a hostile client can.
 * Rewrite the unix mode in the central directory entry of `path`. */
static void patch_mode(size_t len, const char *path, uint32_t mode)
{
	size_t plen = strlen(path);

	for (size_t i = 0; i + 46 + plen <= len; i++) {
		if (memcmp(zipbuf + i, "PK\x01\x02", 4) == 0 && zipbuf[i + 28] == plen &&
		    memcmp(zipbuf + i + 46, path, plen) == 0) {
			uint32_t attr = mode << 16;

			memcpy(zipbuf + i + 38, &attr, 4); /* external attributes, little-endian */
			zipbuf[i + 5] = 3;		   /* made by: unix */
			return;
		}
	}
	fail_msg("no central directory entry for %s", path);
}

static int setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/ember-zip-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int extract(size_t len, uint64_t max, uint64_t *unzipped)
{
	int dirfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret;
	uint64_t dummy;

	assert_true(dirfd >= 0);
	msg[0] = '\0';
	ret = zip_extract(zipbuf, len, dirfd, max, unzipped != NULL ? unzipped : &dummy, msg,
			  sizeof(msg));
	close(dirfd);
	return ret;
}

static struct stat stat_in(const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	assert_int_equal(lstat(path, &st), 0);
	return st;
}

#define EXPECT_REFUSED(entries, words)                                                             \
	do {                                                                                       \
		size_t len_ = make_zip((entries), sizeof(entries) / sizeof((entries)[0]));         \
		assert_int_equal(extract(len_, ZIP_UNZIPPED_MAX, NULL), -EINVAL);                  \
		if (strstr(msg, (words)) == NULL)                                                  \
			fail_msg("'%s' does not say '%s'", msg, (words));                          \
	} while (0)

static void test_good_zip_keeps_modes(void **state)
{
	const struct entry e[] = {
		{ "bootstrap", AE_IFREG, 0755, "#!/bin/sh\necho hi\n" },
		{ "lib/", AE_IFDIR, 0755, NULL },
		{ "lib/util.py", AE_IFREG, 0644, "x = 1\n" },
		{ "deep/er/file.txt", AE_IFREG, 0600, "nested, no folder entries\n" },
		{ "lib/link", AE_IFLNK, 0777, "../bootstrap" },
		{ "./dot.txt", AE_IFREG, 04755, "setuid is dropped\n" },
	};
	size_t len = make_zip(e, sizeof(e) / sizeof(e[0]));
	uint64_t unzipped = 0;
	struct stat st;
	char target[64];
	char path[512];
	ssize_t n;

	(void)state;
	assert_int_equal(extract(len, ZIP_UNZIPPED_MAX, &unzipped), 0);
	assert_int_equal(unzipped, strlen(e[0].data) + strlen(e[2].data) + strlen(e[3].data) +
					   strlen(e[5].data));
	st = stat_in("bootstrap");
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(st.st_size, strlen(e[0].data));
	assert_int_equal(stat_in("lib/util.py").st_mode & 07777, 0644);
	assert_int_equal(stat_in("deep/er/file.txt").st_mode & 07777, 0600);
	assert_true(S_ISDIR(stat_in("deep/er").st_mode));
	assert_int_equal(stat_in("dot.txt").st_mode & 07777, 0755);
	assert_true(S_ISLNK(stat_in("lib/link").st_mode));
	snprintf(path, sizeof(path), "%s/lib/link", tmpdir);
	n = readlink(path, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, "../bootstrap");
}

static void test_refuses_escapes(void **state)
{
	const struct entry dotdot[] = { { "../evil", AE_IFREG, 0644, "x" } };
	const struct entry inner_dotdot[] = { { "a/../../evil", AE_IFREG, 0644, "x" } };
	const struct entry absolute[] = { { "/etc/evil", AE_IFREG, 0644, "x" } };
	const struct entry link_out[] = { { "out", AE_IFLNK, 0777, "../../etc/passwd" } };
	const struct entry link_abs[] = { { "abs", AE_IFLNK, 0777, "/etc/passwd" } };
	const struct entry link_deep[] = { { "a/b/up", AE_IFLNK, 0777, "../../.." } };
	const struct entry through_link[] = {
		{ "l", AE_IFLNK, 0777, "sub" },
		{ "sub/", AE_IFDIR, 0755, NULL },
		{ "l/file", AE_IFREG, 0644, "through a link" },
	};

	(void)state;
	EXPECT_REFUSED(dotdot, "'../evil'");
	EXPECT_REFUSED(inner_dotdot, "..");
	EXPECT_REFUSED(absolute, "absolute");
	EXPECT_REFUSED(link_out, "symlink that points outside");
	EXPECT_REFUSED(link_abs, "'abs'");
	EXPECT_REFUSED(link_deep, "outside");
	EXPECT_REFUSED(through_link, "through a symlink");
	/* Nothing left outside the staging folder. */
	assert_int_equal(access("/tmp/evil", F_OK), -1);
}

/* A zip entry can claim to be a fifo or a device (unix mode in the central
 * directory). libarchive 3.6 reads such an entry as a regular file with its
 * data, and zip.c refuses the types should a reader pass them through: either
 * way no special file is ever created. */
static void test_special_files_never_reach_disk(void **state)
{
	const struct entry e[] = { { "pipe", AE_IFREG, 0644, "data" } };
	const mode_t types[] = { S_IFIFO, S_IFCHR, S_IFBLK, S_IFSOCK };

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size_t len = make_zip(e, 1);
		int ret;

		patch_mode(len, "pipe", types[i] | 0644);
		ret = extract(len, ZIP_UNZIPPED_MAX, NULL);
		if (ret == 0) {
			assert_true(S_ISREG(stat_in("pipe").st_mode));
			assert_int_equal(teardown(NULL), 0);
			assert_int_equal(setup(NULL), 0);
		} else {
			assert_int_equal(ret, -EINVAL);
			assert_non_null(strstr(msg, "'pipe' is a"));
		}
	}
}

static void test_refuses_duplicates_and_size(void **state)
{
	const struct entry dup[] = {
		{ "a.txt", AE_IFREG, 0644, "one" },
		{ "a.txt", AE_IFREG, 0644, "two" },
	};
	const struct entry big[] = {
		{ "a.txt", AE_IFREG, 0644, "0123456789" },
		{ "b.txt", AE_IFREG, 0644, "0123456789" },
	};
	size_t len;

	(void)state;
	EXPECT_REFUSED(dup, "appears twice");
	assert_int_equal(teardown(NULL), 0);
	assert_int_equal(setup(NULL), 0);
	len = make_zip(big, 2);
	assert_int_equal(extract(len, 15, NULL), -EINVAL);
	assert_string_equal(msg, "Unzipped size must be smaller than 15 bytes");
	assert_int_equal(teardown(NULL), 0);
	assert_int_equal(setup(NULL), 0);
	assert_int_equal(extract(len, 20, NULL), 0);
}

static void test_corrupt_and_oversized(void **state)
{
	const struct entry e[] = { { "a.txt", AE_IFREG, 0644, "hello, hello, hello" } };
	size_t len;

	(void)state;
	memset(zipbuf, 'x', 200);
	assert_int_equal(extract(200, ZIP_UNZIPPED_MAX, NULL), -EINVAL);
	assert_string_equal(msg, ZIP_MSG_CORRUPT);
	len = make_zip(e, 1);
	zipbuf[len / 2] ^= 0xff; /* corrupt the central directory or the data */
	zipbuf[30 + 5 + 3] ^= 0xff;
	assert_int_equal(extract(len, ZIP_UNZIPPED_MAX, NULL), -EINVAL);
	assert_int_equal(extract(ZIP_ZIPPED_MAX + 1, ZIP_UNZIPPED_MAX, NULL), -EFBIG);
	assert_string_equal(msg, "Zipped size must be smaller than 52428800 bytes");
}

static void test_digest(void **state)
{
	char sha[DIGEST_SHA256_B64_LEN + 1];
	uint8_t *out;
	size_t len;
	char *enc;

	(void)state;
	/* sha256("abc"), base64 */
	assert_int_equal(digest_sha256_b64("abc", 3, sha), 0);
	assert_string_equal(sha, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
	assert_int_equal(digest_b64_decode("aGVs\nbG8=", 9, &out, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(out, "hello", 5);
	free(out);
	assert_int_equal(digest_b64_decode("", 0, &out, &len), 0);
	assert_int_equal(len, 0);
	free(out);
	assert_int_equal(digest_b64_decode("aGVsbG8", 7, &out, &len), -EINVAL);
	assert_int_equal(digest_b64_decode("aGVs-G8=", 8, &out, &len), -EINVAL);
	assert_int_equal(digest_b64_decode("aG=sbG8=", 8, &out, &len), -EINVAL);
	assert_int_equal(digest_b64_decode("aGVs*G8=", 8, &out, &len), -EINVAL);
	enc = digest_b64_encode("hello", 5);
	assert_string_equal(enc, "aGVsbG8=");
	free(enc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_zip_keeps_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_escapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_special_files_never_reach_disk, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_refuses_duplicates_and_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_and_oversized, setup, teardown),
		cmocka_unit_test(test_digest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
