/* Unit tests for vmm/snapshot/paths.c: which host paths a state file may name, and the load request's overrides. */
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

#include "lib/fcapi/schema.h"
#include "vmm/snapshot/paths.h"

static char dir[64], oldcwd[4096];
static char err[512];

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	close(fd);
}

/* A folder to run in: instance/ (the working directory) with a drive, a
 * folder and symlinks inside and out; secret sits next to instance/. */
static int setup(void **state)
{
	(void)state;
	assert_non_null(getcwd(oldcwd, sizeof(oldcwd)));
	snprintf(dir, sizeof(dir), "/tmp/snap-paths-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(mkdir("instance", 0700), 0);
	touch("secret");
	assert_int_equal(chdir("instance"), 0);
	touch("disk.img");
	assert_int_equal(mkdir("images", 0700), 0);
	touch("images/code.img");
	assert_int_equal(symlink("images/code.img", "inside-link"), 0);
	assert_int_equal(symlink("../secret", "outside-link"), 0);
	assert_int_equal(symlink("/etc/hostname", "absolute-link"), 0);
	assert_int_equal(symlink("..", "up"), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	assert_int_equal(chdir(oldcwd), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static int check(const char *path, bool socket)
{
	err[0] = '\0';
	return snap_path_confined(path, socket, "drive 'x': path_on_host", "drive_overrides", err,
				  sizeof(err));
}

static void test_inside_is_accepted(void **state)
{
	(void)state;
	assert_int_equal(check("disk.img", false), 0);
	assert_int_equal(check("images/code.img", false), 0);
	assert_int_equal(check("./images/../disk.img", false), 0); /* ".." that stays inside */
	assert_int_equal(check("inside-link", false), 0);
	assert_int_equal(check("v.sock", true), 0);
	assert_int_equal(check("images/v.sock", true), 0);
}

static void test_absolute_is_refused(void **state)
{
	(void)state;
	assert_int_equal(check("/etc/hostname", false), -EPERM);
	assert_non_null(strstr(err, "drive 'x': path_on_host /etc/hostname"));
	assert_non_null(strstr(err, "cannot choose host files"));
	assert_non_null(strstr(err, "drive_overrides"));
	assert_int_equal(check("/tmp/evil.sock", true), -EPERM);
}

static void test_escapes_are_refused(void **state)
{
	(void)state;
	assert_int_equal(check("../secret", false), -EXDEV);
	assert_non_null(strstr(err, "outside"));
	assert_int_equal(check("images/../../secret", false), -EXDEV);
	assert_int_equal(check("outside-link", false), -EXDEV);
	assert_int_equal(check("absolute-link", false), -EXDEV);
	assert_int_equal(check("up/secret", false), -EXDEV);
	assert_int_equal(check("../evil.sock", true), -EXDEV);
	assert_int_equal(check("up/evil.sock", true), -EXDEV);
	assert_int_equal(check("/proc/self/root/etc/hostname", false), -EPERM);
}

static void test_odd_names_are_refused(void **state)
{
	(void)state;
	assert_int_equal(check("", false), -EINVAL);
	assert_int_equal(check("images/", true), -EINVAL);
	assert_int_equal(check("images/..", true), -EINVAL);
	assert_int_equal(check(".", true), -EINVAL);
	assert_int_equal(check("missing.img", false), -ENOENT);
	assert_non_null(strstr(err, "missing.img"));
	assert_int_equal(check("nodir/v.sock", true), -ENOENT);
}

/* From "/", "beneath the working directory" is the whole host. */
static void test_root_as_working_directory_is_refused(void **state)
{
	(void)state;
	assert_int_equal(chdir("/"), 0);
	assert_int_equal(check("etc/hostname", false), -EPERM);
	assert_non_null(strstr(err, "\"/\""));
	assert_int_equal(check("v.sock", true), -EPERM);
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(chdir("instance"), 0);
}

/* The load request's overrides: shapes and limits. */
static void test_load_overrides_schema(void **state)
{
	struct schema_snapshot_load l;
	char e[256];

	(void)state;
	assert_int_equal(
		schema_snapshot_load_put(
			"{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", "
			"\"vsock_override\": {\"uds_path\": \"/run/c1/v.sock\"}, "
			"\"drive_overrides\": [{\"drive_id\": \"rootfs\", \"path_on_host\": "
			"\"/img/root\"}, {\"drive_id\": \"code\", \"path_on_host\": \"/img/c\"}]}",
			&l, e, sizeof(e)),
		0);
	assert_true(l.overrides.vsock);
	assert_string_equal(l.overrides.vsock_uds_path, "/run/c1/v.sock");
	assert_int_equal(l.overrides.ndrives, 2);
	assert_string_equal(l.overrides.drives[1].drive_id, "code");
	assert_string_equal(l.overrides.drives[1].path_on_host, "/img/c");
	/* None given: none set. */
	assert_int_equal(schema_snapshot_load_put("{\"snapshot_path\": \"/s\", \"mem_file_path\": "
						  "\"/m\"}",
						  &l, e, sizeof(e)),
			 0);
	assert_false(l.overrides.vsock);
	assert_int_equal(l.overrides.ndrives, 0);
	/* Refused shapes, each naming its field. */
	assert_int_equal(schema_snapshot_load_put("{\"snapshot_path\": \"/s\", \"mem_file_path\": "
						  "\"/m\", \"vsock_override\": {}}",
						  &l, e, sizeof(e)),
			 -EINVAL);
	assert_non_null(strstr(e, "vsock_override.uds_path"));
	assert_true(
		schema_snapshot_load_put("{\"snapshot_path\": \"/s\", \"mem_file_path\": "
					 "\"/m\", \"vsock_override\": {\"uds_path\": \"/"
					 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
					 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}",
					 &l, e, sizeof(e)) < 0);
	assert_non_null(strstr(e, "uds_path"));
	assert_int_equal(schema_snapshot_load_put("{\"snapshot_path\": \"/s\", \"mem_file_path\": "
						  "\"/m\", \"drive_overrides\": {}}",
						  &l, e, sizeof(e)),
			 -EINVAL);
	assert_non_null(strstr(e, "drive_overrides"));
	assert_int_equal(schema_snapshot_load_put(
				 "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", "
				 "\"drive_overrides\": [{\"drive_id\": \"a\", \"path_on_host\": "
				 "\"/x\"}, {\"drive_id\": \"a\", \"path_on_host\": \"/y\"}]}",
				 &l, e, sizeof(e)),
			 -EINVAL);
	assert_non_null(strstr(e, "drive_overrides[1].drive_id"));
	assert_int_equal(
		schema_snapshot_load_put("{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", "
					 "\"drive_overrides\": [{\"drive_id\": \"a\"}]}",
					 &l, e, sizeof(e)),
		-EINVAL);
	assert_non_null(strstr(e, "drive_overrides[0].path_on_host"));
	assert_int_equal(schema_snapshot_load_put(
				 "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", "
				 "\"drive_overrides\": [{\"drive_id\": \"a\", \"path_on_host\": "
				 "\"/x\", \"is_read_only\": true}]}",
				 &l, e, sizeof(e)),
			 -EINVAL);
	assert_non_null(strstr(e, "is_read_only"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inside_is_accepted),
		cmocka_unit_test(test_absolute_is_refused),
		cmocka_unit_test(test_escapes_are_refused),
		cmocka_unit_test(test_odd_names_are_refused),
		cmocka_unit_test(test_root_as_working_directory_is_refused),
		cmocka_unit_test(test_load_overrides_schema),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
