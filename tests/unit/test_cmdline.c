/* Unit tests for guest-init/cmdline.c: ember.* keys on the kernel cmdline. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "guest-init/cmdline.h"

static struct init_args args;
static char err[128];

static void test_empty(void **state)
{
	(void)state;
	assert_int_equal(cmdline_parse("", &args, err, sizeof(err)), 0);
	assert_string_equal(args.run, "");
	assert_false(args.probe);
}

static void test_keys_among_kernel_words(void **state)
{
	(void)state;
	assert_int_equal(cmdline_parse("console=ttyS0 quiet ember.probe=1 reboot=k "
				       "ember.run=/bin/hello panic=-1\n",
				       &args, err, sizeof(err)),
			 0);
	assert_string_equal(args.run, "/bin/hello");
	assert_true(args.probe);
}

static void test_quotes(void **state)
{
	(void)state;
	assert_int_equal(cmdline_parse("ember.run=\"/bin/a b\" x", &args, err, sizeof(err)), 0);
	assert_string_equal(args.run, "/bin/a b");
	assert_int_equal(cmdline_parse("\"ember.run=/q\"", &args, err, sizeof(err)), 0);
	assert_string_equal(args.run, "/q");
}

static void test_init_args_are_not_options(void **state)
{
	(void)state;
	assert_int_equal(cmdline_parse("quiet -- ember.run=/x", &args, err, sizeof(err)), 0);
	assert_string_equal(args.run, "");
}

static void test_errors(void **state)
{
	static char long_line[PATH_MAX + 200];
	(void)state;

	assert_int_equal(cmdline_parse("ember.run=relative", &args, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "absolute"));
	assert_int_equal(cmdline_parse("ember.probe=yes", &args, err, sizeof(err)), -EINVAL);
	assert_int_equal(cmdline_parse("ember.prob=1", &args, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown option ember.prob=1"));

	strcpy(long_line, "ember.run=/");
	memset(long_line + strlen(long_line), 'a', PATH_MAX + 100);
	assert_int_equal(cmdline_parse(long_line, &args, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too long"));
	/* an over-long word that is not ours is none of our business */
	long_line[0] = 'x';
	assert_int_equal(cmdline_parse(long_line, &args, err, sizeof(err)), 0);
}

static void test_lambda_keys(void **state)
{
	(void)state;
	assert_int_equal(cmdline_parse("quiet", &args, err, sizeof(err)), 0);
	assert_false(args.lambda);
	assert_int_equal(args.tmp_mib, CMDLINE_TMP_MIB_DEFAULT);
	assert_int_equal(cmdline_parse("ember.lambda=1 ember.tmp_mib=64", &args, err, sizeof(err)),
			 0);
	assert_true(args.lambda);
	assert_int_equal(args.tmp_mib, 64);
	assert_int_equal(cmdline_parse("ember.lambda=2", &args, err, sizeof(err)), -EINVAL);
	assert_int_equal(cmdline_parse("ember.tmp_mib=0", &args, err, sizeof(err)), -EINVAL);
	assert_int_equal(cmdline_parse("ember.tmp_mib=-1", &args, err, sizeof(err)), -EINVAL);
	assert_int_equal(cmdline_parse("ember.tmp_mib=10241", &args, err, sizeof(err)), -EINVAL);
	assert_int_equal(cmdline_parse("ember.tmp_mib=12x", &args, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),  cmocka_unit_test(test_keys_among_kernel_words),
		cmocka_unit_test(test_quotes), cmocka_unit_test(test_init_args_are_not_options),
		cmocka_unit_test(test_errors), cmocka_unit_test(test_lambda_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
