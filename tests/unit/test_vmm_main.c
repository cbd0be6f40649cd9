/* Unit tests for vmm/main.c: ember-vmm's command line and --config-file, each refusal's message, and the exit codes; no KVM.
 *
 * main.c is included here with its main() renamed, so its static parser is
 * reachable; the refusals are read back with log_last_error(). Only runs
 * that end before a VM would be built call the renamed main(). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

int vmm_main(int argc, char **argv);
#define main vmm_main
#include "vmm/main.c"
#undef main

static char dir[] = "/tmp/test_vmm_main.XXXXXX";
static struct vm_config cfg;
static struct opts o;

/* parse_args() over a NULL-terminated argv; 0, 1 (--help) or -EINVAL. */
#define PARSE(...) parse((char *[]){ "ember-vmm", __VA_ARGS__, NULL })

static int parse(char **argv)
{
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	config_init(&cfg);
	memset(&o, 0, sizeof(o));
	optind = 0; /* getopt starts over */
	log_clear_last_error();
	return parse_args(argc, argv, &cfg, &o);
}

#define EXPECT_REFUSED(text, ...)                                                                  \
	do {                                                                                       \
		assert_int_equal(PARSE(__VA_ARGS__), -EINVAL);                                     \
		if (strstr(log_last_error(), (text)) == NULL)                                      \
			fail_msg("error \"%s\" lacks \"%s\"", log_last_error(), (text));           \
	} while (0)

static void write_file(const char *name, const void *data, size_t len)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void test_options_fill_the_config(void **state)
{
	(void)state;
	assert_int_equal(PARSE("--kernel", "/k", "--initrd", "/i", "--cmdline", "quiet",
			       "--mem-mib", "256", "--vcpus", "2", "--drive", "/r.img,root,ro",
			       "--vsock", "7,/v.sock", "--console", "/c.log", "--log-level",
			       "debug", "--id", "vm1", "--api-sock", "/a.sock"),
			 0);
	assert_string_equal(cfg.boot_source.kernel_image_path, "/k");
	assert_string_equal(cfg.boot_source.initrd_path, "/i");
	assert_string_equal(cfg.boot_source.boot_args, "quiet");
	assert_int_equal(cfg.machine.mem_size_mib, 256);
	assert_int_equal(cfg.machine.vcpu_count, 2);
	assert_int_equal(cfg.ndrives, 1);
	assert_true(cfg.drives[0].is_root_device && cfg.drives[0].is_read_only);
	assert_int_equal(cfg.vsock.guest_cid, 7);
	assert_string_equal(cfg.console.path, "/c.log");
	assert_int_equal(log_get_level(), LOG_DEBUG);
	assert_string_equal(o.id, "vm1");
	assert_string_equal(o.api_sock, "/a.sock");
	assert_true(o.vm_options);
	log_set_level(LOG_ERR);
	/* --api-sock alone waits for the API; --restore alone runs a snapshot. */
	assert_int_equal(PARSE("--api-sock", "/a.sock"), 0);
	assert_false(o.vm_options);
	assert_int_equal(PARSE("--restore", "/s,/m"), 0);
	assert_true(o.restore);
	assert_string_equal(o.snapshot.path, "/s");
	assert_string_equal(o.snapshot.mem_path, "/m");
	assert_true(o.snapshot.resume);
	assert_false(o.snapshot.overrides.vsock);
	assert_int_equal(o.snapshot.overrides.ndrives, 0);
	/* The load request's overrides, from the command line. */
	assert_int_equal(PARSE("--restore", "/s,/m", "--vsock-override", "/v.sock",
			       "--drive-override", "rootfs=/r.img", "--drive-override",
			       "code=/c=1.img"),
			 0);
	assert_true(o.snapshot.overrides.vsock);
	assert_string_equal(o.snapshot.overrides.vsock_uds_path, "/v.sock");
	assert_int_equal(o.snapshot.overrides.ndrives, 2);
	assert_string_equal(o.snapshot.overrides.drives[0].drive_id, "rootfs");
	assert_string_equal(o.snapshot.overrides.drives[0].path_on_host, "/r.img");
	assert_string_equal(o.snapshot.overrides.drives[1].drive_id, "code");
	assert_string_equal(o.snapshot.overrides.drives[1].path_on_host, "/c=1.img");
}

static void test_each_refusal_says_why(void **state)
{
	char long_path[PATH_MAX + 8];

	(void)state;
	EXPECT_REFUSED("unknown or incomplete option '--bogus' (see --help)", "--bogus");
	EXPECT_REFUSED("unknown or incomplete option '--kernel'", "--kernel");
	EXPECT_REFUSED("unexpected argument 'extra' (see --help)", "--kernel", "/k", "extra");
	EXPECT_REFUSED("nothing to boot: give --kernel, --config-file, --restore or --api-sock",
		       "--log-level", "info");
	EXPECT_REFUSED("--config-file replaces --kernel", "--config-file", "/f", "--kernel", "/k");
	EXPECT_REFUSED("--config-file replaces", "--drive", "/d", "--config-file", "/f");
	EXPECT_REFUSED("--restore takes its configuration from the snapshot", "--restore", "/s,/m",
		       "--vcpus", "2");
	EXPECT_REFUSED("--restore takes its configuration", "--restore", "/s,/m", "--config-file",
		       "/f");
	EXPECT_REFUSED("--no-api and --api-sock contradict each other", "--no-api", "--api-sock",
		       "/a", "--kernel", "/k");
	EXPECT_REFUSED("--restore: expected STATE,MEM (two file paths), got 'onlyone'", "--restore",
		       "onlyone");
	EXPECT_REFUSED("--restore: expected STATE,MEM", "--restore", ",/m");
	EXPECT_REFUSED("--restore: expected STATE,MEM", "--restore", "/s,");
	EXPECT_REFUSED("--vsock-override and --drive-override go with --restore", "--kernel", "/k",
		       "--vsock-override", "/v");
	EXPECT_REFUSED("--drive-override: expected ID=PATH, got 'rootfs'", "--restore", "/s,/m",
		       "--drive-override", "rootfs");
	EXPECT_REFUSED("--drive-override: expected ID=PATH", "--restore", "/s,/m",
		       "--drive-override", "=/r");
	EXPECT_REFUSED("--drive-override: expected ID=PATH", "--restore", "/s,/m",
		       "--drive-override", "a23456789012345678901=/r");
	EXPECT_REFUSED("--drive-override: drive 'd' given twice", "--restore", "/s,/m",
		       "--drive-override", "d=/a", "--drive-override", "d=/b");
	EXPECT_REFUSED("--vsock-override: a path of 1 to 96 bytes", "--restore", "/s,/m",
		       "--vsock-override", "");
	EXPECT_REFUSED("--log-level: 'loud' is not one of error, warn, info, debug", "--log-level",
		       "loud");
	EXPECT_REFUSED("--mem-mib: '31' is not a number from 32 to 1048576", "--kernel", "/k",
		       "--mem-mib", "31");
	EXPECT_REFUSED("--vcpus: '33' is not a number from 1 to 32", "--kernel", "/k", "--vcpus",
		       "33");
	EXPECT_REFUSED("--drive '': no path", "--kernel", "/k", "--drive", "");
	EXPECT_REFUSED("--vsock '3': expected CID,PATH", "--kernel", "/k", "--vsock", "3");
	EXPECT_REFUSED("no kernel given (--kernel)", "--vcpus", "2");
	memset(long_path, 'k', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	EXPECT_REFUSED("--kernel is 4103 bytes long; the limit is 4095", "--kernel", long_path);
	EXPECT_REFUSED("--initrd is 4103 bytes long", "--kernel", "/k", "--initrd", long_path);
	EXPECT_REFUSED("--console is 4103 bytes long", "--kernel", "/k", "--console", long_path);
	memset(long_path, 'c', CONFIG_CMDLINE_MAX);
	long_path[CONFIG_CMDLINE_MAX] = '\0';
	EXPECT_REFUSED("--cmdline is 2048 bytes long; the limit is 2047", "--kernel", "/k",
		       "--cmdline", long_path);
}

static void test_config_file(void **state)
{
	static const char good[] = "{\"boot-source\": {\"kernel_image_path\": \"/vmlinux\"}, "
				   "\"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 64}}";
	char path[128], *big;

	(void)state;
	write_file("good.json", good, sizeof(good) - 1);
	snprintf(path, sizeof(path), "%s/good.json", dir);
	/* The console comes from the command line, whatever the file says. */
	assert_int_equal(PARSE("--console", "/c.log", "--config-file", path), 0);
	assert_string_equal(cfg.boot_source.kernel_image_path, "/vmlinux");
	assert_int_equal(cfg.machine.vcpu_count, 2);
	assert_int_equal(cfg.machine.mem_size_mib, 64);
	assert_string_equal(cfg.console.path, "/c.log");

	EXPECT_REFUSED("--config-file /no/such.json: No such file or directory", "--config-file",
		       "/no/such.json");
	write_file("nul.json", "{\"a\": \0}", 8);
	snprintf(path, sizeof(path), "%s/nul.json", dir);
	EXPECT_REFUSED("nul.json: the file contains a NUL byte", "--config-file", path);
	write_file("bad.json", "{\"boot-source\": 7}", 18);
	snprintf(path, sizeof(path), "%s/bad.json", dir);
	EXPECT_REFUSED("bad.json: boot-source", "--config-file", path);
	big = malloc(CONFIG_FILE_MAX + 1);
	assert_non_null(big);
	memset(big, ' ', CONFIG_FILE_MAX + 1);
	write_file("big.json", big, CONFIG_FILE_MAX + 1);
	free(big);
	snprintf(path, sizeof(path), "%s/big.json", dir);
	EXPECT_REFUSED("big.json: larger than 1048576 bytes", "--config-file", path);
}

/* The exit codes of runs that end before a VM is built, and the --help text
 * that documents every exit code. */
static void test_exit_codes(void **state)
{
	int out = dup(STDOUT_FILENO), text = memfd_create("help", MFD_CLOEXEC);
	char help[8192], sock[128];
	ssize_t n;

	(void)state;
	assert_true(out >= 0 && text >= 0);
	/* --help: the text on stdout, and 0. */
	fflush(stdout);
	assert_int_equal(dup2(text, STDOUT_FILENO), STDOUT_FILENO);
	optind = 0;
	assert_int_equal(vmm_main(2, (char *[]){ "ember-vmm", "--help", NULL }), VMM_EXIT_OK);
	fflush(stdout);
	assert_int_equal(dup2(out, STDOUT_FILENO), STDOUT_FILENO);
	n = pread(text, help, sizeof(help) - 1, 0);
	assert_true(n > 0);
	help[n] = '\0';
	assert_non_null(strstr(help, "usage: ember-vmm "));
	assert_non_null(strstr(help,
			       "Exit status:\n"
			       "  0    the guest powered off or rebooted\n"
			       "  1    bad command line or input file (one error line on stderr)\n"
			       "  2    the guest crashed (triple fault or reported crash)\n"
			       "  3    KVM or host failure\n"
			       "  4    guest memory lost: the memory file of a restored VM shrank "
			       "under it\n"
			       "  128+N stopped by signal N (SIGINT, SIGTERM, SIGHUP)\n"));
	assert_int_equal(VMM_EXIT_CONFIG, 1);
	assert_int_equal(VMM_EXIT_GUEST_CRASH, 2);
	assert_int_equal(VMM_EXIT_KVM, 3);
	assert_int_equal(VMM_EXIT_GUEST_MEMORY, 4);
	assert_int_equal(VMM_EXIT_SIGNAL_BASE, 128);
	/* Bad arguments: 1. */
	optind = 0;
	assert_int_equal(vmm_main(2, (char *[]){ "ember-vmm", "--bogus", NULL }), VMM_EXIT_CONFIG);
	assert_string_equal(log_last_error(),
			    "unknown or incomplete option '--bogus' (see --help)");
	optind = 0;
	assert_int_equal(vmm_main(1, (char *[]){ "ember-vmm", NULL }), VMM_EXIT_CONFIG);
	/* An API socket that cannot be made: 1. (--no-seccomp: this case is
	 * about the socket, and valgrind, which runs the unit tests too, has no
	 * seccomp(2).) */
	optind = 0;
	snprintf(sock, sizeof(sock), "%s/no/such/dir/api.sock", dir);
	assert_int_equal(
		vmm_main(4, (char *[]){ "ember-vmm", "--no-seccomp", "--api-sock", sock, NULL }),
		VMM_EXIT_CONFIG);
	close(out);
	close(text);
	/* main() set its own logging up: put the test's back. */
	log_set_level(LOG_ERR);
	log_set_output(open("/dev/null", O_WRONLY | O_CLOEXEC), false, false);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	static const char *const names[] = { "good.json", "nul.json", "bad.json", "big.json" };
	char path[128];

	(void)state;
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options_fill_the_config),
		cmocka_unit_test(test_each_refusal_says_why),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test(test_exit_codes),
	};

	/* Errors are asserted through log_last_error(); keep them off the terminal. */
	log_init("test_vmm_main", LOG_ERR);
	log_set_output(open("/dev/null", O_WRONLY | O_CLOEXEC), false, false);
	return cmocka_run_group_tests(tests, setup, teardown);
}
