/* Unit tests for vmm/jail/args.c: the jailer's command line, its paths, the cgroup plan, mountinfo. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/jail/jail.h"

static struct jail_args a;
static char err[512];

/* Parses a NULL-terminated list of arguments after "ember-jailer". */
static int parse(const char *const *args)
{
	static char *argv[64];
	int argc = 0;

	argv[argc++] = "ember-jailer";
	while (*args != NULL)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	err[0] = '\0';
	return jail_parse_args(argc, argv, &a, err, sizeof(err));
}

#define BASE "--id", "vm-1", "--exec-file", "/usr/bin/ember-vmm", "--uid", "123", "--gid", "100"

static rlim_t rlimit_of(int resource)
{
	for (unsigned i = 0; i < a.nrlimits; i++)
		if (a.rlimits[i].resource == resource)
			return a.rlimits[i].value;
	return 0;
}

static void test_minimal_and_defaults(void **state)
{
	const char *const args[] = { BASE, "--", "--api-sock", "/api.sock", NULL };

	(void)state;
	assert_int_equal(parse(args), 0);
	assert_string_equal(a.id, "vm-1");
	assert_string_equal(a.exec_file, "/usr/bin/ember-vmm");
	assert_int_equal(a.uid, 123);
	assert_int_equal(a.gid, 100);
	assert_string_equal(a.chroot_base, "/srv/jailer");
	assert_int_equal(a.cgroup_version, 0);
	assert_null(a.parent_cgroup);
	assert_null(a.netns);
	assert_false(a.new_pid_ns);
	assert_false(a.daemonize);
	assert_false(a.link_exec); /* Firecracker's jailer copies: so does the default */
	assert_int_equal(a.guest_mem_mib, 0);
	assert_int_equal(rlimit_of(RLIMIT_NOFILE), JAIL_DEFAULT_NOFILE);
	assert_int_equal(rlimit_of(RLIMIT_NPROC), JAIL_DEFAULT_NPROC);
	assert_int_equal(rlimit_of(RLIMIT_FSIZE), 0); /* not set: unlimited */
	assert_int_equal(a.vmm_argc, 2);
	assert_string_equal(a.vmm_argv[0], "--api-sock");
	assert_string_equal(a.vmm_argv[1], "/api.sock");
}

static void test_every_flag(void **state)
{
	const char *const args[] = { "--id=abc-DEF-9",	  "--exec-file=ember-vmm",
				     "--uid=1000",	  "--gid=1001",
				     "--chroot-base-dir", "/var/jail/",
				     "--cgroup-version",  "2",
				     "--cgroup",	  "cpu.max=50000 100000",
				     "--cgroup",	  "pids.max=16",
				     "--parent-cgroup",	  "ember/vms",
				     "--guest-mem-mib",	  "256",
				     "--resource-limit",  "no-file=64",
				     "--resource-limit",  "fsize=1048576",
				     "--resource-limit",  "nproc=40",
				     "--netns",		  "/var/run/netns/x",
				     "--new-pid-ns",	  "--daemonize",
				     "--link-exec-file",  NULL };

	(void)state;
	assert_int_equal(parse(args), 0);
	assert_string_equal(a.id, "abc-DEF-9");
	assert_int_equal(a.cgroup_version, 2);
	assert_int_equal(a.ncgroups, 2);
	assert_string_equal(a.cgroups[0].file, "cpu.max");
	assert_string_equal(a.cgroups[0].value, "50000 100000");
	assert_string_equal(a.cgroups[1].file, "pids.max");
	assert_string_equal(a.parent_cgroup, "ember/vms");
	assert_int_equal(a.guest_mem_mib, 256);
	/* A flag replaces the default: one entry per resource. */
	assert_int_equal(a.nrlimits, 3);
	assert_int_equal(rlimit_of(RLIMIT_NOFILE), 64);
	assert_int_equal(rlimit_of(RLIMIT_FSIZE), 1048576);
	assert_int_equal(rlimit_of(RLIMIT_NPROC), 40);
	assert_string_equal(a.netns, "/var/run/netns/x");
	assert_true(a.new_pid_ns);
	assert_true(a.daemonize);
	assert_true(a.link_exec);
	assert_int_equal(a.vmm_argc, 0);
}

static void test_refusals(void **state)
{
	static const struct {
		const char *args[12];
		const char *says;
	} cases[] = {
		{ { "--exec-file", "/x", "--uid", "1", "--gid", "1" }, "missing --id" },
		{ { "--id", "a", "--uid", "1", "--gid", "1" }, "missing --exec-file" },
		{ { "--id", "a", "--exec-file", "/x", "--gid", "1" }, "missing --uid" },
		{ { "--id", "a", "--exec-file", "/x", "--uid", "1" }, "missing --gid" },
		{ { BASE, "--id", "a/b" }, "--id 'a/b'" },
		{ { BASE, "--id", "a_b" }, "--id 'a_b'" },
		{ { BASE, "--id", "" }, "--id ''" },
		{ { BASE, "--id",
		    "x12345678901234567890123456789012345678901234567890123456789012345" },
		  "1 to 64 letters" },
		{ { BASE, "--uid", "0" }, "--uid: '0'" },
		{ { BASE, "--gid", "-1" }, "--gid: '-1'" },
		{ { BASE, "--uid", "12a" }, "--uid: '12a'" },
		{ { BASE, "--exec-file", "/usr/bin/" }, "not a file name" },
		{ { BASE, "--chroot-base-dir", "srv" }, "absolute" },
		{ { BASE, "--cgroup-version", "3" }, "not 1 or 2" },
		{ { BASE, "--cgroup", "pids.max" }, "FILE=VALUE" },
		{ { BASE, "--cgroup", "=1" }, "FILE=VALUE" },
		{ { BASE, "--cgroup", "../x=1" }, "not a cgroup file name" },
		{ { BASE, "--cgroup", "max=1" }, "not a cgroup file name" },
		{ { BASE, "--cgroup", "cgroup.procs=1" }, "the jailer's to write" },
		{ { BASE, "--cgroup", "tasks.x=1" }, NULL },
		{ { BASE, "--parent-cgroup", "/abs" }, "--parent-cgroup" },
		{ { BASE, "--parent-cgroup", "a/../b" }, "--parent-cgroup" },
		{ { BASE, "--parent-cgroup", "a//b" }, "--parent-cgroup" },
		{ { BASE, "--parent-cgroup", "a/" }, "--parent-cgroup" },
		{ { BASE, "--guest-mem-mib", "0" }, "--guest-mem-mib" },
		{ { BASE, "--resource-limit", "cpu=1" }, "fsize=N, no-file=N or nproc=N" },
		{ { BASE, "--resource-limit", "no-file=0" }, "not a positive number" },
		{ { BASE, "--resource-limit", "fsize=x" }, "not a positive number" },
		{ { BASE, "--bogus" }, "unknown or incomplete option '--bogus'" },
		{ { BASE, "--netns" }, "unknown or incomplete option" },
		{ { BASE, "stray" }, "after --" },
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = parse(cases[i].args);

		if (cases[i].says == NULL) {
			assert_int_equal(ret, 0);
			continue;
		}
		if (ret != -EINVAL || strstr(err, cases[i].says) == NULL)
			fail_msg("case %u: ret %d, err '%s', expected '%s'", i, ret, err,
				 cases[i].says);
	}
}

static void test_help(void **state)
{
	const char *const args[] = { "--help", NULL };

	(void)state;
	assert_int_equal(parse(args), 1);
	assert_non_null(strstr(jail_usage, "--resource-limit"));
}

static void test_paths(void **state)
{
	const char *const args[] = { BASE, "--chroot-base-dir", "/srv/jail//", NULL };
	struct jail_paths p;

	(void)state;
	assert_int_equal(parse(args), 0);
	assert_int_equal(jail_paths(&a, &p, err, sizeof(err)), 0);
	assert_string_equal(p.exec_name, "ember-vmm");
	assert_string_equal(p.jail_dir, "/srv/jail/ember-vmm/vm-1");
	assert_string_equal(p.root, "/srv/jail/ember-vmm/vm-1/root");
	assert_string_equal(p.exec_in_root, "/srv/jail/ember-vmm/vm-1/root/ember-vmm");
	assert_string_equal(p.pid_file, "/ember-vmm.pid");
	assert_string_equal(p.cgroup_rel, "ember-vmm/vm-1");
	a.parent_cgroup = "ember/vms";
	assert_int_equal(jail_paths(&a, &p, err, sizeof(err)), 0);
	assert_string_equal(p.cgroup_rel, "ember/vms/vm-1");
}

static void test_paths_too_long(void **state)
{
	static char base[PATH_MAX];
	const char *const args[] = { BASE, NULL };
	struct jail_paths p;

	(void)state;
	assert_int_equal(parse(args), 0);
	base[0] = '/';
	memset(base + 1, 'b', PATH_MAX - 20);
	a.chroot_base = base;
	assert_int_equal(jail_paths(&a, &p, err, sizeof(err)), -ENAMETOOLONG);
	assert_non_null(strstr(err, "longer than"));
}

static const struct jail_cgroup_write *find(const struct jail_cgroup_plan *plan, const char *file)
{
	for (unsigned i = 0; i < plan->n; i++)
		if (strcmp(plan->w[i].file, file) == 0)
			return &plan->w[i];
	return NULL;
}

static void test_cgroup_plan(void **state)
{
	const char *const args[] = {
		BASE,	    "--guest-mem-mib", "128", "--cgroup", "cpu.max=50000 100000",
		"--cgroup", "pids.max=16",     NULL
	};
	struct jail_cgroup_plan plan;
	const struct jail_cgroup_write *w;

	(void)state;
	assert_int_equal(parse(args), 0);
	assert_int_equal(jail_cgroup_plan(&a, 2, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 3);
	/* The memory limit: the guest plus the stated margin, in bytes. */
	w = find(&plan, "memory.max");
	assert_non_null(w);
	assert_string_equal(w->controller, "memory");
	assert_string_equal(w->value, "201326592"); /* (128 + 64) MiB */
	/* --cgroup replaces the default pids.max in place. */
	w = find(&plan, "pids.max");
	assert_non_null(w);
	assert_string_equal(w->controller, "pids");
	assert_string_equal(w->value, "16");
	assert_string_equal(plan.w[0].file, "pids.max");
	w = find(&plan, "cpu.max");
	assert_non_null(w);
	assert_string_equal(w->controller, "cpu");
	assert_string_equal(w->value, "50000 100000");

	/* v1 names the memory limit differently. */
	assert_int_equal(jail_cgroup_plan(&a, 1, &plan, err, sizeof(err)), 0);
	assert_null(find(&plan, "memory.max"));
	w = find(&plan, "memory.limit_in_bytes");
	assert_non_null(w);
	assert_string_equal(w->value, "201326592");
	assert_int_equal(jail_cgroup_plan(&a, 3, &plan, err, sizeof(err)), -EINVAL);
}

static void test_cgroup_plan_defaults(void **state)
{
	const char *const args[] = { BASE, NULL };
	struct jail_cgroup_plan plan;

	(void)state;
	assert_int_equal(parse(args), 0);
	assert_int_equal(jail_cgroup_plan(&a, 2, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 1);
	assert_string_equal(plan.w[0].file, "pids.max");
	assert_string_equal(plan.w[0].value, "64");
}

static const char mountinfo[] =
	"22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
	"25 24 0:23 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755\n"
	"26 25 0:24 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n"
	"28 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw shared:11 - cgroup cgroup rw,cpu,cpuacct\n"
	"29 25 0:27 / /sys/fs/cgroup/memory rw shared:12 - cgroup cgroup rw,memory\n"
	"30 25 0:28 / /sys/fs/cgroup/a\\040b rw - cgroup cgroup rw,pids\n"
	"31 25 0:29 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd";

static void test_mountinfo(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(jail_cgroup_mount(mountinfo, "memory", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/memory");
	assert_int_equal(jail_cgroup_mount(mountinfo, "cpu", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/cpu,cpuacct");
	assert_int_equal(jail_cgroup_mount(mountinfo, "cpuacct", out, sizeof(out)), 0);
	assert_int_equal(jail_cgroup_mount(mountinfo, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/unified");
	/* "cpuset" is not "cpu", and an escaped path is not followed. */
	assert_int_equal(jail_cgroup_mount(mountinfo, "cpuset", out, sizeof(out)), -ENOENT);
	assert_int_equal(jail_cgroup_mount(mountinfo, "pids", out, sizeof(out)), -ENOENT);
	assert_int_equal(jail_cgroup_mount(mountinfo, "memory", out, 8), -ENAMETOOLONG);
	assert_int_equal(jail_cgroup_mount("", "memory", out, sizeof(out)), -ENOENT);
	assert_int_equal(jail_cgroup_mount("garbage without fields", NULL, out, sizeof(out)),
			 -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_and_defaults),
		cmocka_unit_test(test_every_flag),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_paths_too_long),
		cmocka_unit_test(test_cgroup_plan),
		cmocka_unit_test(test_cgroup_plan_defaults),
		cmocka_unit_test(test_mountinfo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
