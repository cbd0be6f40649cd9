/* Unit tests for lib/fcapi/config.c: defaults, setters and the validator. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/fcapi/config.h"

static struct vm_config cfg;
static char err[CONFIG_ERR_LEN];

static void test_defaults(void **state)
{
	(void)state;
	config_init(&cfg);
	assert_int_equal(cfg.machine.vcpu_count, 1);
	assert_int_equal(cfg.machine.mem_size_mib, 128);
	assert_string_equal(cfg.boot_source.boot_args, CONFIG_DEFAULT_CMDLINE);
	assert_non_null(strstr(cfg.boot_source.boot_args, "reboot=k"));
	assert_int_equal(cfg.ndrives, 0);
	assert_true(cfg.entropy.enabled);
	/* No kernel yet. */
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "kernel"));
	strcpy(cfg.boot_source.kernel_image_path, "/k");
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), 0);
}

static void test_ranges(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(config_parse_uint("32", 32, 64, "--mem-mib", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 32);
	assert_int_equal(config_parse_uint("31", 32, 64, "--mem-mib", &v, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "--mem-mib"));
	assert_int_equal(config_parse_uint("", 1, 2, "x", &v, err, sizeof(err)), -EINVAL);
	assert_int_equal(config_parse_uint("-1", 0, 2, "x", &v, err, sizeof(err)), -EINVAL);
	assert_int_equal(config_parse_uint("1x", 0, 2, "x", &v, err, sizeof(err)), -EINVAL);
	assert_int_equal(config_parse_uint("99999999999999999999999", 0, UINT64_MAX, "x", &v, err,
					   sizeof(err)),
			 -EINVAL);
	config_init(&cfg);
	strcpy(cfg.boot_source.kernel_image_path, "/k");
	cfg.machine.vcpu_count = 0;
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	cfg.machine.vcpu_count = 33;
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	cfg.machine.vcpu_count = 32;
	cfg.machine.mem_size_mib = 16;
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	cfg.machine.mem_size_mib = 4096;
	cfg.machine.smt = true;
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), -EINVAL);
}

static void test_strings(void **state)
{
	char small[8];
	char big[CONFIG_CMDLINE_MAX + 1];

	(void)state;
	assert_int_equal(config_set_string(small, sizeof(small), "1234567", "x", err, sizeof(err)),
			 0);
	assert_int_equal(config_set_string(small, sizeof(small), "12345678", "x", err, sizeof(err)),
			 -E2BIG);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(config_set_string(cfg.boot_source.boot_args,
					   sizeof(cfg.boot_source.boot_args), big, "--cmdline", err,
					   sizeof(err)),
			 -E2BIG);
	assert_non_null(strstr(err, "--cmdline is 2048 bytes"));
}

static void test_drives(void **state)
{
	(void)state;
	config_init(&cfg);
	strcpy(cfg.boot_source.kernel_image_path, "/k");
	assert_int_equal(config_add_drive(&cfg, "/a.img", err, sizeof(err)), 0);
	assert_int_equal(config_add_drive(&cfg, "/b.img,ro", err, sizeof(err)), 0);
	assert_int_equal(config_add_drive(&cfg, "/c,d.img", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown option 'd.img'"));
	assert_int_equal(config_add_drive(&cfg, "/c.img,root,ro", err, sizeof(err)), 0);
	assert_int_equal(cfg.ndrives, 3);
	assert_string_equal(cfg.drives[0].path_on_host, "/a.img");
	assert_string_equal(cfg.drives[0].drive_id, "vda");
	assert_false(cfg.drives[0].is_read_only);
	assert_false(cfg.drives[0].is_root_device);
	assert_string_equal(cfg.drives[1].path_on_host, "/b.img");
	assert_string_equal(cfg.drives[1].drive_id, "vdb");
	assert_true(cfg.drives[1].is_read_only);
	assert_true(cfg.drives[2].is_read_only);
	assert_true(cfg.drives[2].is_root_device);
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), 0);
	/* Malformed specs. */
	assert_int_equal(config_add_drive(&cfg, "", err, sizeof(err)), -EINVAL);
	assert_int_equal(config_add_drive(&cfg, ",ro", err, sizeof(err)), -EINVAL);
	assert_int_equal(config_add_drive(&cfg, "/x,", err, sizeof(err)), -EINVAL);
	assert_int_equal(config_add_drive(&cfg, "/x,rw", err, sizeof(err)), -EINVAL);
	assert_int_equal(cfg.ndrives, 3);
	/* Two roots, and a duplicate id, are refused by the validator. */
	assert_int_equal(config_add_drive(&cfg, "/d.img,root", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "root"));
	cfg.drives[3].is_root_device = false;
	strcpy(cfg.drives[3].drive_id, "vda");
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "vda"));
	/* The limit. */
	config_init(&cfg);
	for (unsigned i = 0; i < CONFIG_MAX_DRIVES; i++)
		assert_int_equal(config_add_drive(&cfg, "/a", err, sizeof(err)), 0);
	assert_int_equal(config_add_drive(&cfg, "/a", err, sizeof(err)), -ENOSPC);
}

static void test_vsock(void **state)
{
	char path[CONFIG_VSOCK_PATH_MAX + 4]; /* "3," + 97 bytes + NUL */

	(void)state;
	config_init(&cfg);
	assert_false(cfg.vsock.enabled);
	strcpy(cfg.boot_source.kernel_image_path, "/k");
	/* Bad syntax and CIDs out of range, one by one. */
	assert_int_equal(config_set_vsock(&cfg, "", err, sizeof(err)), -EINVAL);
	assert_int_equal(config_set_vsock(&cfg, "3", err, sizeof(err)), -EINVAL);
	assert_int_equal(config_set_vsock(&cfg, "3,", err, sizeof(err)), -EINVAL);
	assert_int_equal(config_set_vsock(&cfg, ",/v.sock", err, sizeof(err)), -EINVAL);
	assert_int_equal(config_set_vsock(&cfg, "2,/v.sock", err, sizeof(err)), -EINVAL);
	assert_int_equal(config_set_vsock(&cfg, "4294967295,/v.sock", err, sizeof(err)), -EINVAL);
	assert_int_equal(config_set_vsock(&cfg, "-3,/v.sock", err, sizeof(err)), -EINVAL);
	assert_int_equal(config_set_vsock(&cfg, "x,/v.sock", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--vsock"));
	/* A path that leaves no room for "_4294967295" in sun_path. */
	memset(path, 'p', sizeof(path) - 1);
	path[0] = '3';
	path[1] = ',';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(config_set_vsock(&cfg, path, err, sizeof(err)), -E2BIG);
	path[sizeof(path) - 2] = '\0'; /* exactly CONFIG_VSOCK_PATH_MAX */
	assert_false(cfg.vsock.enabled);
	assert_int_equal(config_set_vsock(&cfg, path, err, sizeof(err)), 0);
	assert_int_equal(strlen(cfg.vsock.uds_path), CONFIG_VSOCK_PATH_MAX);
	/* Good ones, and only one device. */
	config_init(&cfg);
	strcpy(cfg.boot_source.kernel_image_path, "/k");
	assert_int_equal(config_set_vsock(&cfg, "4294967294,/tmp/v,1.sock", err, sizeof(err)), 0);
	assert_true(cfg.vsock.enabled);
	assert_int_equal(cfg.vsock.guest_cid, 4294967294u);
	assert_string_equal(cfg.vsock.uds_path, "/tmp/v,1.sock");
	assert_string_equal(cfg.vsock.vsock_id, "vsock");
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), 0);
	assert_int_equal(config_set_vsock(&cfg, "3,/other", err, sizeof(err)), -EINVAL);
	/* The validator checks what the other setters (API, config file) fill in. */
	cfg.vsock.guest_cid = 2;
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	cfg.vsock.guest_cid = 3;
	cfg.vsock.uds_path[0] = '\0';
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), -EINVAL);
}

/* Refused with ret, and an error naming what was wrong. */
#define EXPECT_ERR(call, ret, text)                                                                \
	do {                                                                                       \
		err[0] = '\0';                                                                     \
		assert_int_equal((call), (ret));                                                   \
		if (strstr(err, (text)) == NULL)                                                   \
			fail_msg("error \"%s\" lacks \"%s\"", err, (text));                        \
	} while (0)

/* A config every check passes: one of each device. */
static void valid(void)
{
	config_init(&cfg);
	strcpy(cfg.boot_source.kernel_image_path, "/k");
	assert_int_equal(config_add_drive(&cfg, "/a.img,root", err, sizeof(err)), 0);
	assert_int_equal(config_add_drive(&cfg, "/b.img,ro", err, sizeof(err)), 0);
	assert_int_equal(config_set_vsock(&cfg, "3,/v.sock", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), 0);
}

/* Every refusal of config_validate(), each from a config valid but for it. */
static void test_validate_every_refusal(void **state)
{
	(void)state;
	valid();
	cfg.boot_source.kernel_image_path[0] = '\0';
	EXPECT_ERR(config_validate(&cfg, err, sizeof(err)), -EINVAL, "no kernel given");
	valid();
	cfg.machine.vcpu_count = CONFIG_MIN_VCPUS - 1;
	EXPECT_ERR(config_validate(&cfg, err, sizeof(err)), -EINVAL,
		   "vcpu_count 0 is out of range");
	cfg.machine.vcpu_count = CONFIG_MAX_VCPUS + 1;
	EXPECT_ERR(config_validate(&cfg, err, sizeof(err)), -EINVAL, "vcpu_count 33");
	cfg.machine.vcpu_count = CONFIG_MAX_VCPUS;
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), 0);
	cfg.machine.mem_size_mib = CONFIG_MIN_MEM_MIB - 1;
	EXPECT_ERR(config_validate(&cfg, err, sizeof(err)), -EINVAL, "mem_size_mib 31");
	cfg.machine.mem_size_mib = (uint64_t)CONFIG_MAX_MEM_MIB + 1;
	EXPECT_ERR(config_validate(&cfg, err, sizeof(err)), -EINVAL, "mem_size_mib 1048577");
	cfg.machine.mem_size_mib = CONFIG_MAX_MEM_MIB;
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), 0);
	cfg.machine.smt = true;
	EXPECT_ERR(config_validate(&cfg, err, sizeof(err)), -EINVAL, "smt is not supported");
	valid();
	cfg.ndrives = CONFIG_MAX_DRIVES + 1; /* what no setter makes, checked all the same */
	EXPECT_ERR(config_validate(&cfg, err, sizeof(err)), -EINVAL, "9 drives; the limit is 8");
	valid();
	cfg.drives[1].path_on_host[0] = '\0';
	EXPECT_ERR(config_validate(&cfg, err, sizeof(err)), -EINVAL,
		   "drive 1: no path_on_host or drive_id");
	valid();
	cfg.drives[0].drive_id[0] = '\0';
	EXPECT_ERR(config_validate(&cfg, err, sizeof(err)), -EINVAL,
		   "drive 0: no path_on_host or drive_id");
	valid();
	strcpy(cfg.drives[1].drive_id, "vda");
	EXPECT_ERR(config_validate(&cfg, err, sizeof(err)), -EINVAL,
		   "drive_id 'vda' is used twice");
	valid();
	cfg.drives[1].is_root_device = true;
	EXPECT_ERR(config_validate(&cfg, err, sizeof(err)), -EINVAL, "more than one root device");
	valid();
	cfg.vsock.guest_cid = CONFIG_VSOCK_CID_MIN - 1;
	EXPECT_ERR(config_validate(&cfg, err, sizeof(err)), -EINVAL, "vsock guest_cid 2");
	cfg.vsock.guest_cid = CONFIG_VSOCK_CID_MAX + 1u;
	EXPECT_ERR(config_validate(&cfg, err, sizeof(err)), -EINVAL, "vsock guest_cid 4294967295");
	valid();
	cfg.vsock.uds_path[0] = '\0';
	EXPECT_ERR(config_validate(&cfg, err, sizeof(err)), -EINVAL, "vsock uds_path must be");
	memset(cfg.vsock.uds_path, 'p', sizeof(cfg.vsock.uds_path)); /* no NUL at all */
	EXPECT_ERR(config_validate(&cfg, err, sizeof(err)), -EINVAL, "vsock uds_path must be");
	/* A disabled vsock's fields are not looked at. */
	cfg.vsock.enabled = false;
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), 0);
}

/* Every refusal of the setters, with its message. */
static void test_setters_every_refusal(void **state)
{
	char path[PATH_MAX + 8];
	uint64_t v = 7;

	(void)state;
	EXPECT_ERR(config_parse_uint("65", 32, 64, "--mem-mib", &v, err, sizeof(err)), -EINVAL,
		   "--mem-mib: '65' is not a number from 32 to 64");
	EXPECT_ERR(config_parse_uint(" 40", 32, 64, "--x", &v, err, sizeof(err)), -EINVAL, "' 40'");
	EXPECT_ERR(config_parse_uint("+40", 32, 64, "--x", &v, err, sizeof(err)), -EINVAL, "'+40'");
	EXPECT_ERR(config_parse_uint("18446744073709551616", 0, UINT64_MAX, "--x", &v, err,
				     sizeof(err)),
		   -EINVAL, "not a number");
	assert_int_equal(v, 7); /* untouched on error */
	assert_int_equal(config_parse_uint("18446744073709551615", 0, UINT64_MAX, "--x", &v, err,
					   sizeof(err)),
			 0);
	assert_true(v == UINT64_MAX);
	/* A drive path one byte over PATH_MAX - 1, then exactly at it. */
	config_init(&cfg);
	memset(path, 'd', PATH_MAX);
	path[0] = '/';
	path[PATH_MAX] = '\0';
	EXPECT_ERR(config_add_drive(&cfg, path, err, sizeof(err)), -E2BIG,
		   "--drive: the path is 4096 bytes long; the limit is 4095");
	assert_int_equal(cfg.ndrives, 0);
	strcpy(path + PATH_MAX - 1, ",ro");
	assert_int_equal(config_add_drive(&cfg, path, err, sizeof(err)), 0);
	assert_int_equal(strlen(cfg.drives[0].path_on_host), PATH_MAX - 1);
	assert_true(cfg.drives[0].is_read_only);
	EXPECT_ERR(config_add_drive(&cfg, ",root", err, sizeof(err)), -EINVAL, "no path");
	EXPECT_ERR(config_add_drive(&cfg, "/x,roo", err, sizeof(err)), -EINVAL,
		   "unknown option 'roo'");
	EXPECT_ERR(config_add_drive(&cfg, "/x,r", err, sizeof(err)), -EINVAL, "unknown option 'r'");
	EXPECT_ERR(config_add_drive(&cfg, "/x,rooo", err, sizeof(err)), -EINVAL,
		   "unknown option 'rooo'");
	/* A long option is quoted in part only. */
	EXPECT_ERR(config_add_drive(&cfg, "/x,0123456789012345678901234567890123456789", err,
				    sizeof(err)),
		   -EINVAL, "unknown option '01234567890123456789012345678901' (expected");
	EXPECT_ERR(config_add_drive(&cfg, "/x,ro,", err, sizeof(err)), -EINVAL,
		   "unknown option ''");
	assert_int_equal(cfg.ndrives, 1);
	/* vsock: a CID too long for its buffer, out of range, and a path too long. */
	config_init(&cfg);
	EXPECT_ERR(config_set_vsock(&cfg, "0000000000000003,/v", err, sizeof(err)), -EINVAL,
		   "expected CID,PATH");
	assert_int_equal(config_set_vsock(&cfg, "000000000000003,/v", err, sizeof(err)), 0);
	assert_int_equal(cfg.vsock.guest_cid, 3);
	config_init(&cfg);
	EXPECT_ERR(config_set_vsock(&cfg, "4294967295,/v", err, sizeof(err)), -EINVAL,
		   "--vsock CID: '4294967295' is not a number from 3 to 4294967294");
	EXPECT_ERR(config_set_vsock(&cfg, "3", err, sizeof(err)), -EINVAL, "expected CID,PATH");
	assert_false(cfg.vsock.enabled);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_drives),
		cmocka_unit_test(test_vsock),
		cmocka_unit_test(test_validate_every_refusal),
		cmocka_unit_test(test_setters_every_refusal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
