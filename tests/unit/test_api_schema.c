/* Unit tests for lib/fcapi/schema*.c: each endpoint's valid body, then each kind of error. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/fcapi/schema.h"
#include "tests/unit/struct_eq.h"

static char err[SCHEMA_ERR_LEN];
static char body[SCHEMA_BODY_MAX + 64];
static char longstr[SCHEMA_BODY_MAX];

/* The call fails with `code` and its fault message names `field`. */
#define EXPECT_ERR(call, code, field)                                                              \
	do {                                                                                       \
		err[0] = '\0';                                                                     \
		assert_int_equal((call), (code));                                                  \
		if (strstr(err, (field)) == NULL)                                                  \
			fail_msg("'%s' does not name '%s'", err, (field));                         \
	} while (0)

/* A string of n 'a's, for over-long fields. */
static const char *str_of(size_t n)
{
	assert_true(n < sizeof(longstr));
	memset(longstr, 'a', n);
	longstr[n] = '\0';
	return longstr;
}

static void test_machine_config(void **state)
{
	struct machine_config m = { 0 };

	(void)state;
	assert_int_equal(schema_machine_config_put("{\"vcpu_count\": 2, \"mem_size_mib\": 256}", &m,
						   err, sizeof(err)),
			 0);
	assert_int_equal(m.vcpu_count, 2);
	assert_int_equal(m.mem_size_mib, 256);
	assert_false(m.smt);
	assert_int_equal(schema_machine_config_put("{\"vcpu_count\": 32, \"mem_size_mib\": 32, "
						   "\"smt\": false, \"track_dirty_pages\": true}",
						   &m, err, sizeof(err)),
			 0);
	assert_int_equal(m.vcpu_count, 32);
	assert_true(m.track_dirty_pages);
	/* Unknown field, wrong type, missing, out of range, bad bool, smt. */
	EXPECT_ERR(
		schema_machine_config_put("{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"huge\": 1}",
					  &m, err, sizeof(err)),
		-EINVAL, "huge");
	assert_int_equal(m.vcpu_count, 32); /* untouched on error */
	EXPECT_ERR(schema_machine_config_put("{\"vcpu_count\": \"2\", \"mem_size_mib\": 64}", &m,
					     err, sizeof(err)),
		   -EINVAL, "vcpu_count");
	EXPECT_ERR(schema_machine_config_put("{\"vcpu_count\": 2}", &m, err, sizeof(err)), -EINVAL,
		   "mem_size_mib");
	EXPECT_ERR(schema_machine_config_put("{\"vcpu_count\": 33, \"mem_size_mib\": 64}", &m, err,
					     sizeof(err)),
		   -EINVAL, "vcpu_count");
	EXPECT_ERR(schema_machine_config_put("{\"vcpu_count\": 0, \"mem_size_mib\": 64}", &m, err,
					     sizeof(err)),
		   -EINVAL, "vcpu_count");
	EXPECT_ERR(schema_machine_config_put("{\"vcpu_count\": 1.5, \"mem_size_mib\": 64}", &m, err,
					     sizeof(err)),
		   -EINVAL, "vcpu_count");
	EXPECT_ERR(schema_machine_config_put("{\"vcpu_count\": -1, \"mem_size_mib\": 64}", &m, err,
					     sizeof(err)),
		   -EINVAL, "vcpu_count");
	EXPECT_ERR(schema_machine_config_put("{\"vcpu_count\": 1, \"mem_size_mib\": 31}", &m, err,
					     sizeof(err)),
		   -EINVAL, "mem_size_mib");
	EXPECT_ERR(schema_machine_config_put("{\"vcpu_count\": 1, \"mem_size_mib\": 1e300}", &m,
					     err, sizeof(err)),
		   -EINVAL, "mem_size_mib");
	EXPECT_ERR(
		schema_machine_config_put("{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"smt\": 0}",
					  &m, err, sizeof(err)),
		-EINVAL, "smt");
	EXPECT_ERR(schema_machine_config_put(
			   "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"smt\": true}", &m, err,
			   sizeof(err)),
		   -EINVAL, "smt");
	EXPECT_ERR(schema_machine_config_put(
			   "{\"vcpu_count\": 1, \"vcpu_count\": 2, \"mem_size_mib\": 64}", &m, err,
			   sizeof(err)),
		   -EINVAL, "vcpu_count");
	/* Not JSON, not an object, trailing bytes. */
	EXPECT_ERR(schema_machine_config_put("{\"vcpu_count\": ", &m, err, sizeof(err)), -EINVAL,
		   "malformed");
	EXPECT_ERR(schema_machine_config_put("[1]", &m, err, sizeof(err)), -EINVAL, "object");
	EXPECT_ERR(schema_machine_config_put("{} x", &m, err, sizeof(err)), -EINVAL, "malformed");
	/* PATCH: every field optional, only the given ones change. */
	assert_int_equal(
		schema_machine_config_patch("{\"mem_size_mib\": 512}", &m, err, sizeof(err)), 0);
	assert_int_equal(m.vcpu_count, 32);
	assert_int_equal(m.mem_size_mib, 512);
	/* A PATCH that names nothing to change is refused, in Firecracker's words. */
	EXPECT_ERR(schema_machine_config_patch("{}", &m, err, sizeof(err)), -EINVAL,
		   SCHEMA_MSG_EMPTY_PATCH);
	assert_string_equal(err, SCHEMA_MSG_EMPTY_PATCH);
	EXPECT_ERR(schema_machine_config_patch("{\"smt\": null, \"huge_pages\": null}", &m, err,
					       sizeof(err)),
		   -EINVAL, SCHEMA_MSG_EMPTY_PATCH);
	assert_int_equal(schema_machine_config_patch("{\"smt\": false}", &m, err, sizeof(err)), 0);
	EXPECT_ERR(schema_machine_config_patch("{\"vcpu_count\": 64}", &m, err, sizeof(err)),
		   -EINVAL, "vcpu_count");
	EXPECT_ERR(schema_machine_config_patch("{\"x\": 1}", &m, err, sizeof(err)), -EINVAL, "x");
	assert_int_equal(m.vcpu_count, 32);
	assert_int_equal(m.mem_size_mib, 512);
}

static void test_machine_huge_pages(void **state)
{
	struct machine_config m = { 0 };
	char *json;

	(void)state;
	/* Default None; each of Firecracker's values, shown back by GET. */
	assert_int_equal(schema_machine_config_put("{\"vcpu_count\": 1, \"mem_size_mib\": 128}", &m,
						   err, sizeof(err)),
			 0);
	assert_int_equal(m.huge_pages, CONFIG_HUGE_PAGES_NONE);
	json = schema_machine_config_to_json(&m);
	assert_non_null(json);
	assert_non_null(strstr(json, "\"huge_pages\":\"None\""));
	free(json);
	assert_int_equal(schema_machine_config_put("{\"vcpu_count\": 1, \"mem_size_mib\": 128, "
						   "\"huge_pages\": \"2M\"}",
						   &m, err, sizeof(err)),
			 0);
	assert_int_equal(m.huge_pages, CONFIG_HUGE_PAGES_2M);
	json = schema_machine_config_to_json(&m);
	assert_non_null(json);
	assert_non_null(strstr(json, "\"huge_pages\":\"2M\""));
	free(json);
	assert_int_equal(schema_machine_config_patch("{\"huge_pages\": \"Transparent\"}", &m, err,
						     sizeof(err)),
			 0);
	assert_int_equal(m.huge_pages, CONFIG_HUGE_PAGES_THP);
	/* PUT replaces: an omitted huge_pages is None again. */
	assert_int_equal(schema_machine_config_put("{\"vcpu_count\": 1, \"mem_size_mib\": 33}", &m,
						   err, sizeof(err)),
			 0);
	assert_int_equal(m.huge_pages, CONFIG_HUGE_PAGES_NONE);
	/* 2 MiB pages need an even size in MiB, checked on the result of a PATCH too. */
	EXPECT_ERR(schema_machine_config_patch("{\"huge_pages\": \"2M\"}", &m, err, sizeof(err)),
		   -EINVAL, "mem_size_mib");
	assert_int_equal(m.huge_pages, CONFIG_HUGE_PAGES_NONE); /* untouched */
	assert_int_equal(
		schema_machine_config_patch("{\"huge_pages\": \"2M\", \"mem_size_mib\": 34}", &m,
					    err, sizeof(err)),
		0);
	EXPECT_ERR(schema_machine_config_patch("{\"mem_size_mib\": 35}", &m, err, sizeof(err)),
		   -EINVAL, "2M");
	assert_int_equal(m.mem_size_mib, 34);
	/* Not one of the names (case matters), not a string. */
	EXPECT_ERR(schema_machine_config_patch("{\"huge_pages\": \"2m\"}", &m, err, sizeof(err)),
		   -EINVAL, "huge_pages");
	EXPECT_ERR(schema_machine_config_patch("{\"huge_pages\": \"1G\"}", &m, err, sizeof(err)),
		   -EINVAL, "huge_pages");
	EXPECT_ERR(schema_machine_config_patch("{\"huge_pages\": 2}", &m, err, sizeof(err)),
		   -EINVAL, "huge_pages");
	assert_int_equal(m.huge_pages, CONFIG_HUGE_PAGES_2M);
}

static void test_boot_source(void **state)
{
	struct boot_source_config b;

	(void)state;
	assert_int_equal(
		schema_boot_source_put("{\"kernel_image_path\": \"/k\"}", &b, err, sizeof(err)), 0);
	assert_string_equal(b.kernel_image_path, "/k");
	assert_string_equal(b.initrd_path, "");
	assert_string_equal(b.boot_args, CONFIG_DEFAULT_CMDLINE);
	assert_int_equal(schema_boot_source_put("{\"kernel_image_path\": \"/k\", \"initrd_path\": "
						"\"/i\", \"boot_args\": \"console=ttyS0\"}",
						&b, err, sizeof(err)),
			 0);
	assert_string_equal(b.initrd_path, "/i");
	assert_string_equal(b.boot_args, "console=ttyS0");
	EXPECT_ERR(schema_boot_source_put("{\"initrd_path\": \"/i\"}", &b, err, sizeof(err)),
		   -EINVAL, "kernel_image_path");
	EXPECT_ERR(schema_boot_source_put("{\"kernel_image_path\": \"\"}", &b, err, sizeof(err)),
		   -EINVAL, "kernel_image_path");
	EXPECT_ERR(schema_boot_source_put("{\"kernel_image_path\": null}", &b, err, sizeof(err)),
		   -EINVAL, "kernel_image_path");
	EXPECT_ERR(schema_boot_source_put("{\"kernel_image_path\": 5}", &b, err, sizeof(err)),
		   -EINVAL, "kernel_image_path");
	EXPECT_ERR(schema_boot_source_put("{\"kernel_image_path\": \"/k\", \"bootargs\": \"\"}", &b,
					  err, sizeof(err)),
		   -EINVAL, "bootargs");
	EXPECT_ERR(schema_boot_source_put("{\"kernel_image_path\": \"/k\\u0000/x\"}", &b, err,
					  sizeof(err)),
		   -EINVAL, "u0000");
	/* An escaped backslash before "u0000" is not a NUL. */
	assert_int_equal(schema_boot_source_put("{\"kernel_image_path\": \"/k\\\\u0000\"}", &b, err,
						sizeof(err)),
			 0);
	assert_string_equal(b.kernel_image_path, "/k\\u0000");
	/* Lengths: PATH_MAX - 1 fits, PATH_MAX does not; so for the command line. */
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\"}", str_of(PATH_MAX - 1));
	assert_int_equal(schema_boot_source_put(body, &b, err, sizeof(err)), 0);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\"}", str_of(PATH_MAX));
	EXPECT_ERR(schema_boot_source_put(body, &b, err, sizeof(err)), -E2BIG, "kernel_image_path");
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"/k\", \"boot_args\": \"%s\"}",
		 str_of(CONFIG_CMDLINE_MAX - 1));
	assert_int_equal(schema_boot_source_put(body, &b, err, sizeof(err)), 0);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"/k\", \"boot_args\": \"%s\"}",
		 str_of(CONFIG_CMDLINE_MAX));
	EXPECT_ERR(schema_boot_source_put(body, &b, err, sizeof(err)), -E2BIG, "boot_args");
	/* The body cap comes first. */
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\"}",
		 str_of(SCHEMA_BODY_MAX - 10));
	EXPECT_ERR(schema_boot_source_put(body, &b, err, sizeof(err)), -E2BIG, "limit");
}

static void test_drives(void **state)
{
	struct drive_config d;

	(void)state;
	assert_int_equal(
		schema_drive_put("{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r.ext4\", "
				 "\"is_root_device\": true, \"is_read_only\": true}",
				 "rootfs", &d, err, sizeof(err)),
		0);
	assert_string_equal(d.drive_id, "rootfs");
	assert_string_equal(d.path_on_host, "/r.ext4");
	assert_true(d.is_root_device);
	assert_true(d.is_read_only);
	EXPECT_ERR(schema_drive_put("{\"drive_id\": \"a\", \"path_on_host\": \"/r\", "
				    "\"is_root_device\": true}",
				    "b", &d, err, sizeof(err)),
		   -EINVAL, "drive_id");
	EXPECT_ERR(schema_drive_put("{\"drive_id\": \"a-b\", \"path_on_host\": \"/r\", "
				    "\"is_root_device\": true}",
				    "a-b", &d, err, sizeof(err)),
		   -EINVAL, "drive_id");
	EXPECT_ERR(schema_drive_put("{\"drive_id\": \"a\", \"path_on_host\": \"/r\"}", "a", &d, err,
				    sizeof(err)),
		   -EINVAL, "is_root_device");
	EXPECT_ERR(schema_drive_put("{\"drive_id\": \"a\", \"path_on_host\": \"/r\", "
				    "\"is_root_device\": \"yes\"}",
				    "a", &d, err, sizeof(err)),
		   -EINVAL, "is_root_device");
	EXPECT_ERR(schema_drive_put("{\"drive_id\": \"a\", \"path_on_host\": \"/r\", "
				    "\"is_root_device\": true, \"cache_type\": \"Unsafe\"}",
				    "a", &d, err, sizeof(err)),
		   -EINVAL, "cache_type");
	snprintf(body, sizeof(body),
		 "{\"drive_id\": \"%s\", \"path_on_host\": \"/r\", \"is_root_device\": true}",
		 str_of(CONFIG_DRIVE_ID_LEN));
	EXPECT_ERR(schema_drive_put(body, NULL, &d, err, sizeof(err)), -E2BIG, "drive_id");
	assert_string_equal(d.drive_id, "rootfs");
	/* PATCH */
	assert_int_equal(schema_drive_patch("{\"drive_id\": \"rootfs\", \"path_on_host\": \"/n\"}",
					    "rootfs", &d, err, sizeof(err)),
			 0);
	assert_string_equal(d.path_on_host, "/n");
	assert_true(d.is_root_device);
	EXPECT_ERR(schema_drive_patch("{\"path_on_host\": \"/n\"}", "rootfs", &d, err, sizeof(err)),
		   -EINVAL, "drive_id");
	EXPECT_ERR(schema_drive_patch("{\"drive_id\": \"rootfs\", \"is_read_only\": false}",
				      "rootfs", &d, err, sizeof(err)),
		   -EINVAL, "is_read_only");
	EXPECT_ERR(schema_drive_patch("{\"drive_id\": \"other\"}", "other", &d, err, sizeof(err)),
		   -EINVAL, "drive_id");
}

static void test_vsock_entropy(void **state)
{
	struct vsock_config v = { 0 };
	struct entropy_config e = { 0 };

	(void)state;
	assert_int_equal(schema_vsock_put("{\"guest_cid\": 3, \"uds_path\": \"/v.sock\"}", &v, err,
					  sizeof(err)),
			 0);
	assert_true(v.enabled);
	assert_int_equal(v.guest_cid, 3);
	assert_string_equal(v.uds_path, "/v.sock");
	assert_string_equal(v.vsock_id, "vsock");
	assert_int_equal(schema_vsock_put("{\"guest_cid\": 4294967294, \"uds_path\": \"/v\", "
					  "\"vsock_id\": \"vs1\"}",
					  &v, err, sizeof(err)),
			 0);
	assert_int_equal(v.guest_cid, 4294967294u);
	assert_string_equal(v.vsock_id, "vs1");
	EXPECT_ERR(
		schema_vsock_put("{\"guest_cid\": 2, \"uds_path\": \"/v\"}", &v, err, sizeof(err)),
		-EINVAL, "guest_cid");
	EXPECT_ERR(schema_vsock_put("{\"guest_cid\": 4294967295, \"uds_path\": \"/v\"}", &v, err,
				    sizeof(err)),
		   -EINVAL, "guest_cid");
	EXPECT_ERR(schema_vsock_put("{\"guest_cid\": 3}", &v, err, sizeof(err)), -EINVAL,
		   "uds_path");
	EXPECT_ERR(schema_vsock_put("{\"guest_cid\": true, \"uds_path\": \"/v\"}", &v, err,
				    sizeof(err)),
		   -EINVAL, "guest_cid");
	snprintf(body, sizeof(body), "{\"guest_cid\": 3, \"uds_path\": \"%s\"}",
		 str_of(CONFIG_VSOCK_PATH_MAX + 1));
	EXPECT_ERR(schema_vsock_put(body, &v, err, sizeof(err)), -E2BIG, "uds_path");
	EXPECT_ERR(schema_vsock_put("{\"guest_cid\": 3, \"uds_path\": \"/v\", \"cid\": 3}", &v, err,
				    sizeof(err)),
		   -EINVAL, "cid");

	assert_int_equal(schema_entropy_put("{}", &e, err, sizeof(err)), 0);
	assert_true(e.enabled);
	e.enabled = false;
	assert_int_equal(schema_entropy_put("{\"rate_limiter\": null}", &e, err, sizeof(err)), 0);
	assert_true(e.enabled);
	e.enabled = false;
	EXPECT_ERR(
		schema_entropy_put("{\"rate_limiter\": {\"bandwidth\": {}}}", &e, err, sizeof(err)),
		-EINVAL, "rate_limiter");
	assert_non_null(strstr(err, "not supported"));
	assert_false(e.enabled);
	EXPECT_ERR(schema_entropy_put("{\"x\": 1}", &e, err, sizeof(err)), -EINVAL, "x");
	EXPECT_ERR(schema_entropy_put("null", &e, err, sizeof(err)), -EINVAL, "object");
}

static void test_actions_vm(void **state)
{
	enum schema_action a = SCHEMA_ACTION_FLUSH_METRICS;
	enum schema_vm_state s = SCHEMA_VM_RESUMED;

	(void)state;
	assert_int_equal(
		schema_actions_put("{\"action_type\": \"InstanceStart\"}", &a, err, sizeof(err)),
		0);
	assert_int_equal(a, SCHEMA_ACTION_INSTANCE_START);
	assert_int_equal(
		schema_actions_put("{\"action_type\": \"SendCtrlAltDel\"}", &a, err, sizeof(err)),
		0);
	assert_int_equal(a, SCHEMA_ACTION_SEND_CTRL_ALT_DEL);
	assert_int_equal(
		schema_actions_put("{\"action_type\": \"FlushMetrics\"}", &a, err, sizeof(err)), 0);
	assert_int_equal(a, SCHEMA_ACTION_FLUSH_METRICS);
	EXPECT_ERR(schema_actions_put("{\"action_type\": \"instancestart\"}", &a, err, sizeof(err)),
		   -EINVAL, "action_type");
	assert_non_null(strstr(err, "InstanceStart, SendCtrlAltDel, FlushMetrics"));
	EXPECT_ERR(schema_actions_put("{\"action_type\": 1}", &a, err, sizeof(err)), -EINVAL,
		   "action_type");
	EXPECT_ERR(schema_actions_put("{}", &a, err, sizeof(err)), -EINVAL, "action_type");
	EXPECT_ERR(schema_actions_put("{\"action_type\": \"FlushMetrics\", \"payload\": 1}", &a,
				      err, sizeof(err)),
		   -EINVAL, "payload");

	assert_int_equal(schema_vm_patch("{\"state\": \"Paused\"}", &s, err, sizeof(err)), 0);
	assert_int_equal(s, SCHEMA_VM_PAUSED);
	assert_int_equal(schema_vm_patch("{\"state\": \"Resumed\"}", &s, err, sizeof(err)), 0);
	assert_int_equal(s, SCHEMA_VM_RESUMED);
	EXPECT_ERR(schema_vm_patch("{\"state\": \"Running\"}", &s, err, sizeof(err)), -EINVAL,
		   "state");
	EXPECT_ERR(schema_vm_patch("{\"state\": []}", &s, err, sizeof(err)), -EINVAL, "state");
	EXPECT_ERR(schema_vm_patch("{}", &s, err, sizeof(err)), -EINVAL, "state");
	EXPECT_ERR(schema_vm_patch("{\"state\": \"Paused\", \"when\": 0}", &s, err, sizeof(err)),
		   -EINVAL, "when");
}

static void test_logger_metrics(void **state)
{
	struct schema_logger l;
	struct schema_metrics m;

	(void)state;
	assert_int_equal(schema_logger_put("{\"log_path\": \"/l\"}", &l, err, sizeof(err)), 0);
	assert_string_equal(l.log_path, "/l");
	assert_int_equal(l.level, LOG_INFO);
	assert_int_equal(schema_logger_put("{\"log_path\": \"/l\", \"level\": \"Debug\", "
					   "\"show_level\": true, \"show_log_origin\": true}",
					   &l, err, sizeof(err)),
			 0);
	assert_int_equal(l.level, LOG_DEBUG);
	assert_true(l.show_level);
	assert_true(l.show_log_origin);
	assert_int_equal(schema_logger_put("{\"log_path\": \"/l\", \"level\": \"Warning\"}", &l,
					   err, sizeof(err)),
			 0);
	assert_int_equal(l.level, LOG_WARN);
	EXPECT_ERR(schema_logger_put("{\"log_path\": \"/l\", \"level\": \"Trace\"}", &l, err,
				     sizeof(err)),
		   -EINVAL, "level");
	assert_int_equal(schema_logger_put("{\"level\": \"Info\"}", &l, err, sizeof(err)), 0);
	assert_string_equal(l.log_path, "");
	EXPECT_ERR(schema_logger_put("{\"log_path\": \"/l\", \"show_level\": 1}", &l, err,
				     sizeof(err)),
		   -EINVAL, "show_level");
	EXPECT_ERR(schema_logger_put("{\"log_path\": \"/l\", \"module\": \"x\"}", &l, err,
				     sizeof(err)),
		   -EINVAL, "module");
	snprintf(body, sizeof(body), "{\"log_path\": \"%s\"}", str_of(PATH_MAX));
	EXPECT_ERR(schema_logger_put(body, &l, err, sizeof(err)), -E2BIG, "log_path");

	assert_int_equal(schema_metrics_put("{\"metrics_path\": \"/m\"}", &m, err, sizeof(err)), 0);
	assert_string_equal(m.metrics_path, "/m");
	EXPECT_ERR(schema_metrics_put("{}", &m, err, sizeof(err)), -EINVAL, "metrics_path");
	EXPECT_ERR(schema_metrics_put("{\"metrics_path\": false}", &m, err, sizeof(err)), -EINVAL,
		   "metrics_path");
	EXPECT_ERR(schema_metrics_put("{\"metrics_path\": \"/m\", \"x\": 1}", &m, err, sizeof(err)),
		   -EINVAL, "x");
	snprintf(body, sizeof(body), "{\"metrics_path\": \"%s\"}", str_of(PATH_MAX));
	EXPECT_ERR(schema_metrics_put(body, &m, err, sizeof(err)), -E2BIG, "metrics_path");
}

static void test_snapshots(void **state)
{
	struct schema_snapshot_create c;
	struct schema_snapshot_load l;

	(void)state;
	assert_int_equal(schema_snapshot_create_put("{\"snapshot_path\": \"/s\", "
						    "\"mem_file_path\": \"/m\"}",
						    &c, err, sizeof(err)),
			 0);
	assert_string_equal(c.snapshot_path, "/s");
	assert_string_equal(c.mem_file_path, "/m");
	assert_int_equal(c.snapshot_type, SCHEMA_SNAPSHOT_FULL);
	assert_int_equal(
		schema_snapshot_create_put("{\"snapshot_path\": \"/s\", \"mem_file_path\": "
					   "\"/m\", \"snapshot_type\": \"Diff\"}",
					   &c, err, sizeof(err)),
		0);
	assert_int_equal(c.snapshot_type, SCHEMA_SNAPSHOT_DIFF);
	EXPECT_ERR(schema_snapshot_create_put("{\"snapshot_path\": \"/s\", \"mem_file_path\": "
					      "\"/m\", \"snapshot_type\": \"full\"}",
					      &c, err, sizeof(err)),
		   -EINVAL, "snapshot_type");
	EXPECT_ERR(schema_snapshot_create_put("{\"snapshot_path\": \"/s\"}", &c, err, sizeof(err)),
		   -EINVAL, "mem_file_path");
	EXPECT_ERR(schema_snapshot_create_put("{\"snapshot_path\": 1, \"mem_file_path\": \"/m\"}",
					      &c, err, sizeof(err)),
		   -EINVAL, "snapshot_path");
	EXPECT_ERR(schema_snapshot_create_put("{\"snapshot_path\": \"/s\", \"mem_file_path\": "
					      "\"/m\", \"version\": \"1.0\"}",
					      &c, err, sizeof(err)),
		   -EINVAL, "version");

	assert_int_equal(schema_snapshot_load_put("{\"snapshot_path\": \"/s\", \"mem_backend\": "
						  "{\"backend_type\": \"Uffd\", \"backend_path\": "
						  "\"/u.sock\"}, \"resume_vm\": true}",
						  &l, err, sizeof(err)),
			 0);
	assert_int_equal(l.backend_type, SCHEMA_MEM_BACKEND_UFFD);
	assert_string_equal(l.backend_path, "/u.sock");
	assert_true(l.resume_vm);
	assert_false(l.enable_diff_snapshots);
	assert_int_equal(schema_snapshot_load_put("{\"snapshot_path\": \"/s\", \"mem_file_path\": "
						  "\"/m\", \"enable_diff_snapshots\": true}",
						  &l, err, sizeof(err)),
			 0);
	assert_int_equal(l.backend_type, SCHEMA_MEM_BACKEND_FILE);
	assert_string_equal(l.backend_path, "/m");
	assert_true(l.enable_diff_snapshots);
	assert_false(l.resume_vm);
	EXPECT_ERR(schema_snapshot_load_put("{\"snapshot_path\": \"/s\"}", &l, err, sizeof(err)),
		   -EINVAL, "mem_backend");
	EXPECT_ERR(
		schema_snapshot_load_put("{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", "
					 "\"mem_backend\": {\"backend_type\": \"File\", "
					 "\"backend_path\": \"/m\"}}",
					 &l, err, sizeof(err)),
		-EINVAL, "mem_file_path");
	EXPECT_ERR(
		schema_snapshot_load_put("{\"snapshot_path\": \"/s\", \"mem_backend\": "
					 "{\"backend_type\": \"Mmap\", \"backend_path\": \"/m\"}}",
					 &l, err, sizeof(err)),
		-EINVAL, "mem_backend.backend_type");
	EXPECT_ERR(schema_snapshot_load_put("{\"snapshot_path\": \"/s\", \"mem_backend\": "
					    "{\"backend_type\": \"File\"}}",
					    &l, err, sizeof(err)),
		   -EINVAL, "mem_backend.backend_path");
	EXPECT_ERR(schema_snapshot_load_put("{\"snapshot_path\": \"/s\", \"mem_backend\": \"/m\"}",
					    &l, err, sizeof(err)),
		   -EINVAL, "mem_backend");
	EXPECT_ERR(schema_snapshot_load_put("{\"mem_file_path\": \"/m\"}", &l, err, sizeof(err)),
		   -EINVAL, "snapshot_path");
	EXPECT_ERR(
		schema_snapshot_load_put("{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", "
					 "\"resume_vm\": \"yes\"}",
					 &l, err, sizeof(err)),
		-EINVAL, "resume_vm");
	snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\", \"mem_file_path\": \"/m\"}",
		 str_of(PATH_MAX));
	EXPECT_ERR(schema_snapshot_load_put(body, &l, err, sizeof(err)), -E2BIG, "snapshot_path");
}

static const char config_file[] =
	"{\"boot-source\": {\"kernel_image_path\": \"/vmlinux\", \"initrd_path\": \"/initrd\", "
	"\"boot_args\": \"console=ttyS0 quiet\"},"
	" \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 256, \"track_dirty_pages\": "
	"true, \"huge_pages\": \"2M\"},"
	" \"drives\": [{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r.ext4\", "
	"\"is_root_device\": true, \"is_read_only\": true},"
	" {\"drive_id\": \"data\", \"path_on_host\": \"/d.img\", \"is_root_device\": false}],"
	" \"vsock\": {\"guest_cid\": 7, \"uds_path\": \"/tmp/v.sock\"},"
	" \"entropy\": {}, \"logger\": null, \"network-interfaces\": []}";

static void test_config_round_trip(void **state)
{
	static struct vm_config a, b;
	char *json, *json2;

	(void)state;
	assert_int_equal(schema_parse_config_file(config_file, &a, err, sizeof(err)), 0);
	assert_string_equal(a.boot_source.kernel_image_path, "/vmlinux");
	assert_string_equal(a.boot_source.initrd_path, "/initrd");
	assert_int_equal(a.machine.vcpu_count, 2);
	assert_int_equal(a.machine.mem_size_mib, 256);
	assert_true(a.machine.track_dirty_pages);
	assert_int_equal(a.machine.huge_pages, CONFIG_HUGE_PAGES_2M);
	assert_int_equal(a.ndrives, 2);
	assert_string_equal(a.drives[1].drive_id, "data");
	assert_false(a.drives[1].is_read_only);
	assert_true(a.vsock.enabled);
	assert_int_equal(a.vsock.guest_cid, 7);
	assert_true(a.entropy.enabled);
	json = schema_vm_config_to_json(&a);
	assert_non_null(json);
	assert_int_equal(schema_parse_config_file(json, &b, err, sizeof(err)), 0);
	assert_fields_equal(eq_vm_config, &a, &b);
	json2 = schema_vm_config_to_json(&b);
	assert_string_equal(json, json2);
	free(json);
	free(json2);

	/* A path that reads "\u0000" once decoded survives the trip. */
	assert_int_equal(schema_parse_config_file("{\"boot-source\": {\"kernel_image_path\": "
						  "\"/k\\u005cu0000\"}}",
						  &a, err, sizeof(err)),
			 0);
	assert_string_equal(a.boot_source.kernel_image_path, "/k\\u0000");
	json = schema_vm_config_to_json(&a);
	assert_non_null(json);
	assert_int_equal(schema_parse_config_file(json, &b, err, sizeof(err)), 0);
	assert_fields_equal(eq_vm_config, &a, &b);
	free(json);

	/* The minimum, and the defaults it leaves: no vsock, no entropy. */
	assert_int_equal(schema_parse_config_file("{\"boot-source\": {\"kernel_image_path\": "
						  "\"/k\"}}",
						  &a, err, sizeof(err)),
			 0);
	assert_int_equal(a.machine.vcpu_count, 1);
	assert_int_equal(a.machine.mem_size_mib, CONFIG_DEFAULT_MEM_MIB);
	assert_false(a.vsock.enabled);
	assert_false(a.entropy.enabled);
	json = schema_vm_config_to_json(&a);
	assert_non_null(json);
	assert_non_null(strstr(json, "\"vsock\":null"));
	assert_int_equal(schema_parse_config_file(json, &b, err, sizeof(err)), 0);
	assert_fields_equal(eq_vm_config, &a, &b);
	free(json);
}

static void test_config_file_errors(void **state)
{
	static struct vm_config c;
	char many[2048];
	size_t used;

	(void)state;
	EXPECT_ERR(schema_parse_config_file("{}", &c, err, sizeof(err)), -EINVAL, "boot-source");
	EXPECT_ERR(schema_parse_config_file("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, "
					    "\"balloon\": {}}",
					    &c, err, sizeof(err)),
		   -EINVAL, "balloon");
	EXPECT_ERR(schema_parse_config_file("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, "
					    "\"machine-config\": {\"vcpu_count\": 99, "
					    "\"mem_size_mib\": 64}}",
					    &c, err, sizeof(err)),
		   -EINVAL, "machine-config.vcpu_count");
	EXPECT_ERR(schema_parse_config_file("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, "
					    "\"drives\": [{\"drive_id\": \"a\", \"path_on_host\": "
					    "\"/a\", \"is_root_device\": true}, {\"drive_id\": "
					    "\"b\", \"is_root_device\": false}]}",
					    &c, err, sizeof(err)),
		   -EINVAL, "drives[1].path_on_host");
	EXPECT_ERR(schema_parse_config_file("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, "
					    "\"drives\": {}}",
					    &c, err, sizeof(err)),
		   -EINVAL, "drives");
	EXPECT_ERR(schema_parse_config_file("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, "
					    "\"vsock\": {\"guest_cid\": 1, \"uds_path\": \"/v\"}}",
					    &c, err, sizeof(err)),
		   -EINVAL, "vsock.guest_cid");
	EXPECT_ERR(schema_parse_config_file("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, "
					    "\"logger\": {\"log_path\": \"/l\"}}",
					    &c, err, sizeof(err)),
		   -EINVAL, "logger");
	EXPECT_ERR(schema_parse_config_file("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, "
					    "\"network-interfaces\": [{}]}",
					    &c, err, sizeof(err)),
		   -EINVAL, "network-interfaces");
	EXPECT_ERR(schema_parse_config_file("{\"boot-source\": 1}", &c, err, sizeof(err)), -EINVAL,
		   "boot-source");
	/* config_validate() runs last: two drives with one id. */
	EXPECT_ERR(schema_parse_config_file("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, "
					    "\"drives\": [{\"drive_id\": \"a\", \"path_on_host\": "
					    "\"/a\", \"is_root_device\": true}, {\"drive_id\": "
					    "\"a\", \"path_on_host\": \"/b\", \"is_root_device\": "
					    "false}]}",
					    &c, err, sizeof(err)),
		   -EINVAL, "drive_id");
	/* More drives than slots. */
	used = (size_t)snprintf(many, sizeof(many),
				"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [");
	for (unsigned i = 0; i <= CONFIG_MAX_DRIVES; i++)
		used += (size_t)snprintf(many + used, sizeof(many) - used,
					 "%s{\"drive_id\": \"d%u\", \"path_on_host\": \"/d\", "
					 "\"is_root_device\": false}",
					 i ? "," : "", i);
	snprintf(many + used, sizeof(many) - used, "]}");
	EXPECT_ERR(schema_parse_config_file(many, &c, err, sizeof(err)), -EINVAL, "drives");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_machine_config),	  cmocka_unit_test(test_machine_huge_pages),
		cmocka_unit_test(test_boot_source),	  cmocka_unit_test(test_drives),
		cmocka_unit_test(test_vsock_entropy),	  cmocka_unit_test(test_actions_vm),
		cmocka_unit_test(test_logger_metrics),	  cmocka_unit_test(test_snapshots),
		cmocka_unit_test(test_config_round_trip), cmocka_unit_test(test_config_file_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
