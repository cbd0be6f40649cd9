/* jail: build one microVM's jail and exec the VMM in it, as one ordered list of steps (see jail.h). */
#include "vmm/jail/jail.h"

#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib/util/cgroup.h"
#include "lib/util/fail.h"

/* Device nodes the VMM may open, made inside the jail when the host has them. */
static const struct {
	const char *path;
	bool required;
} devices[] = {
	{ "/dev/kvm", true },	       /* the VM itself */
	{ "/dev/userfaultfd", false }, /* the Uffd snapshot backend (vmm/core/gmem_uffd.c) */
};
#define NDEVICES (sizeof(devices) / sizeof(devices[0]))

/* mkdir -p path, each new directory 0755 and owned by root. */
static int mkdir_p(char *path)
{
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			*p = c;
			return -errno;
		}
		*p = c;
		if (c == '\0')
			return 0;
	}
}

/* Whether the jail may hold the exec file itself, as a hard link: root's,
 * writable by nobody else, runnable by the VMM's uid. The VMM can then run it
 * but never change it, as with a copy, and every jailed VMM shares one copy
 * of its pages (in the page cache and in each VMM's memory: a copy each made
 * the binary's text private to every VMM). */
static bool linkable(const struct stat *st)
{
	return st->st_uid == 0 && !(st->st_mode & (S_IWGRP | S_IWOTH | S_ISUID | S_ISGID)) &&
	       (st->st_mode & S_IXOTH);
}

/* Puts the exec file into the jail: a copy, root:root 0755, as Firecracker's
 * jailer makes; with --link-exec-file, a hard link of the very file checked
 * (linkat of the open descriptor) when linkable() and on the jail's file
 * system. */
static int copy_exec(const char *from, const char *to, bool link, char *err, size_t errlen)
{
	struct stat st;
	off_t off = 0;
	int in, out, ret = 0;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
		ret = in < 0 ? -errno : -EINVAL;
		if (in >= 0)
			close(in);
		FAIL(ret, "--exec-file %.200s: %s", from,
		     ret == -EINVAL ? "not a regular file" : strerror(-ret));
	}
	(void)unlink(to); /* a leftover copy may be running in an old jail: never write into it */
	if (link && linkable(&st) && linkat(in, "", AT_FDCWD, to, AT_EMPTY_PATH) == 0) {
		close(in);
		return 0;
	}
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	if (out < 0)
		ret = -errno;
	while (ret == 0 && off < st.st_size) {
		ssize_t n = sendfile(out, in, &off, (size_t)(st.st_size - off));

		if (n <= 0)
			ret = n < 0 ? -errno : -EIO;
	}
	if (ret == 0 && (fchown(out, 0, 0) < 0 || fchmod(out, 0755) < 0))
		ret = -errno;
	close(in);
	if (out >= 0)
		close(out);
	if (ret < 0)
		FAIL(ret, "copying --exec-file into %.200s: %s", to, strerror(-ret));
	return 0;
}

/* pivot_root(".", "."): the old root ends up stacked on the new one, and the
 * lazy unmount of "." takes it away (pivot_root(2)); no directory for it. */
static int enter_root(const char *root, const struct jail_libs *libs, char *err, size_t errlen)
{
	/* Nothing we mount from here on may leak back to the host. */
	if (mount(NULL, "/", NULL, MS_PRIVATE | MS_REC, NULL) < 0)
		FAIL(-errno, "making / private in the new mount namespace: %s", strerror(errno));
	/* pivot_root needs a mount point; this one carries no submounts. */
	if (mount(root, root, NULL, MS_BIND, NULL) < 0)
		FAIL(-errno, "bind-mounting %.200s: %s", root, strerror(errno));
	/* On top of that mount, so they come along into the new root. */
	if (jail_libs_mount(libs, root, err, errlen) < 0)
		return -EIO;
	if (chdir(root) < 0)
		FAIL(-errno, "entering %.200s: %s", root, strerror(errno));
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
			FAIL(-errno, "detaching the old root: %s", strerror(errno));
		return 0;
	}
	/* pivot_root refuses a root that is the initial ramfs (an initramfs-only
	 * host, such as the testbox's L1): move the jail over "/" and chroot
	 * into it, as switch_root does. The host's mounts stay in this
	 * namespace under the jail, out of reach of a process with no
	 * capabilities, no open directory outside and no chroot(2). */
	if (errno != EINVAL || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
	    chdir("/") < 0)
		FAIL(-errno, "pivot_root into %.200s: %s", root, strerror(errno));
	return 0;
}

static int make_devices(const struct jail_args *a, const struct stat *host, char *err,
			size_t errlen)
{
	if (mkdir("/dev", 0755) < 0 && errno != EEXIST)
		FAIL(-errno, "creating /dev in the jail: %s", strerror(errno));
	for (unsigned i = 0; i < NDEVICES; i++) {
		const char *path = devices[i].path;
		struct stat st;

		if (host[i].st_rdev == 0)
			continue; /* the host has no such device */
		/* A node left from an earlier run of this id is replaced: only
		 * ours, with our owner and mode, may be there. */
		if (lstat(path, &st) == 0 && unlink(path) < 0)
			FAIL(-errno, "replacing %s in the jail: %s", path, strerror(errno));
		if (mknod(path, S_IFCHR | 0600, host[i].st_rdev) < 0 ||
		    chown(path, a->uid, a->gid) < 0)
			FAIL(-errno, "creating %s in the jail: %s", path, strerror(errno));
	}
	return 0;
}

/* Every capability, the bounding and ambient sets and the supplementary
 * groups go; the uid and gid change (libcap-ng orders the calls). */
static int drop_privileges(const struct jail_args *a, char *err, size_t errlen)
{
	capng_clear(CAPNG_SELECT_ALL);
	if (capng_change_id((int)a->uid, (int)a->gid,
			    CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING | CAPNG_CLEAR_AMBIENT) < 0)
		FAIL(-EPERM, "dropping to uid %u gid %u with no capabilities failed", a->uid,
		     a->gid);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		FAIL(-errno, "setting no_new_privs: %s", strerror(errno));
	capng_get_caps_process();
	if (getuid() != a->uid || geteuid() != a->uid || getgid() != a->gid ||
	    getegid() != a->gid || capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE)
		FAIL(-EPERM, "the privilege drop did not hold");
	return 0;
}

/* --new-pid-ns: the child is PID 1 of the namespace made in step 3 and goes
 * on; the parent records its pid (as the host sees it) and is done. */
static int fork_into_pid_ns(const struct jail_paths *p, bool *parent, char *err, size_t errlen)
{
	char buf[32];
	pid_t pid = fork();
	int fd, n;

	if (pid < 0)
		FAIL(-errno, "--new-pid-ns: fork: %s", strerror(errno));
	*parent = pid > 0;
	if (pid == 0)
		return 0;
	n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	fd = open(p->pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || write(fd, buf, (size_t)n) != n) {
		int ret = -errno;

		if (fd >= 0)
			close(fd);
		FAIL(ret, "--new-pid-ns: writing %s: %s", p->pid_file, strerror(-ret));
	}
	close(fd);
	return 0;
}

int jail_run(const struct jail_args *a, char *err, size_t errlen)
{
	struct stat host_dev[NDEVICES] = { 0 };
	static struct jail_libs libs; /* 130 KiB */
	struct jail_cgroup_plan plan;
	struct jail_paths p;
	char **argv;
	char *const envp[] = { NULL };
	int netns_fd = -1, null_fd = -1, version, ret;
	bool parent = false;

	/* 0. Everything that names a host path, while / is still the host's:
	 *    the jail directory (owned by the VMM's uid, so its sockets can be
	 *    made there), the exec file's copy and the shared libraries it
	 *    needs (ember-vmm links libc and cJSON, of which Debian ships no
	 *    static build), the host's device numbers, and the files steps 3
	 *    and 5 open (the network namespace, /dev/null).
	 *    The copy comes before step 1, so its page cache is not charged to
	 *    the VM. */
	ret = jail_paths(a, &p, err, errlen);
	if (ret < 0)
		return ret;
	ret = mkdir_p(p.root);
	if (ret < 0 || chown(p.root, a->uid, a->gid) < 0)
		FAIL(ret < 0 ? ret : -errno, "creating the jail %.200s: %s", p.root,
		     strerror(ret < 0 ? -ret : errno));
	ret = copy_exec(a->exec_file, p.exec_in_root, a->link_exec, err, errlen);
	if (ret == 0)
		ret = jail_libs_find(p.exec_in_root, &libs, err, errlen);
	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < NDEVICES; i++) {
		if (stat(devices[i].path, &host_dev[i]) < 0 || !S_ISCHR(host_dev[i].st_mode)) {
			if (devices[i].required)
				FAIL(-ENODEV, "%s: this host has no such device", devices[i].path);
			host_dev[i].st_rdev = 0;
		}
	}
	netns_fd = a->netns != NULL ? open(a->netns, O_RDONLY | O_CLOEXEC) : -1;
	if (a->netns != NULL && netns_fd < 0)
		FAIL(-errno, "--netns %.200s: %s", a->netns, strerror(errno));
	null_fd = a->daemonize ? open("/dev/null", O_RDWR | O_CLOEXEC) : -1;
	if (a->daemonize && null_fd < 0)
		FAIL(-errno, "--daemonize: /dev/null: %s", strerror(errno));

	/* 1. The cgroup, before anything the VM costs exists: the limits are
	 *    written first and the jailer joins last, so the VMM (our exec, or
	 *    the PID-namespace child) never runs outside them. */
	version = a->cgroup_version != 0 ? a->cgroup_version : cgroup_host_version();
	ret = jail_cgroup_plan(a, version, &plan, err, errlen);
	if (ret == 0)
		ret = jail_cgroup_setup(&plan, version, p.cgroup_rel, err, errlen);
	if (ret < 0)
		return ret;

	/* 2. Resource limits: setrlimit survives fork and exec; nproc is
	 *    checked against the uid of step 6 at each thread the VMM starts. */
	for (unsigned i = 0; i < a->nrlimits; i++) {
		struct rlimit rl = { a->rlimits[i].value, a->rlimits[i].value };

		if (setrlimit(a->rlimits[i].resource, &rl) < 0)
			FAIL(-errno, "--resource-limit %d=%llu: %s", a->rlimits[i].resource,
			     (unsigned long long)a->rlimits[i].value, strerror(errno));
	}

	/* 3. Namespaces, while we still hold CAP_SYS_ADMIN: mount (for step 4),
	 *    IPC, UTS, and network (new and empty: the VM has no NIC yet), or
	 *    the one --netns names. A new PID namespace takes effect for the
	 *    child forked in step 5, which becomes its PID 1. */
	if (unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | (netns_fd < 0 ? CLONE_NEWNET : 0) |
		    (a->new_pid_ns ? CLONE_NEWPID : 0)) < 0)
		FAIL(-errno, "unshare of the namespaces: %s", strerror(errno));
	if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0)
		FAIL(-errno, "--netns %.200s: setns: %s", a->netns, strerror(errno));
	if (netns_fd >= 0)
		close(netns_fd);

	/* 4. The root: only the VM's own directory, with the device nodes the
	 *    VMM opens and its shared libraries read-only. No /proc (ember-vmm
	 *    reads /proc/self only for debug-level statistics and reports 0
	 *    without it), no /sys, nothing else. */
	ret = enter_root(p.root, &libs, err, errlen);
	if (ret == 0)
		ret = make_devices(a, host_dev, err, errlen);
	if (ret < 0)
		return ret;

	/* 5. Fork into the PID namespace (--new-pid-ns), then detach
	 *    (--daemonize: a new session, standard I/O to /dev/null): the child
	 *    is never a process group leader, so its setsid() cannot fail. Both
	 *    as root still: the pid file goes into the root-owned jail. */
	if (a->new_pid_ns) {
		ret = fork_into_pid_ns(&p, &parent, err, errlen);
		if (ret < 0 || parent)
			return ret;
	}
	if (a->daemonize &&
	    (setsid() < 0 || dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(null_fd, 2) < 0))
		FAIL(-errno, "--daemonize: %s", strerror(errno));
	if (null_fd >= 0)
		close(null_fd);

	/* 6. Privileges, last, since every step above needs root: the uid and
	 *    gid, no supplementary groups, no capabilities in any set, and
	 *    no_new_privs, which also lets ember-vmm install its seccomp filters. */
	ret = drop_privileges(a, err, errlen);
	if (ret < 0)
		return ret;

	/* 7. The VMM, with the id and an empty environment; only standard I/O
	 *    is open (main() closed the rest, our own files are close-on-exec). */
	argv = calloc((size_t)a->vmm_argc + 4, sizeof(*argv));
	if (argv == NULL)
		FAIL(-ENOMEM, "out of memory");
	argv[0] = p.exec_name;
	argv[1] = "--id";
	argv[2] = (char *)a->id;
	for (int i = 0; i < a->vmm_argc; i++)
		argv[3 + i] = a->vmm_argv[i];
	argv[3 + a->vmm_argc] = NULL;
	snprintf(p.exec_in_root, sizeof(p.exec_in_root), "/%s", p.exec_name);
	execve(p.exec_in_root, argv, envp);
	ret = -errno;
	free(argv);
	FAIL(ret, "exec %s in the jail: %s", p.exec_in_root, strerror(-ret));
}
