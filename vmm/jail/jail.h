/* jail: ember-jailer's arguments, paths and cgroup plan (pure), and the jail itself.
 *
 * Contract:
 * - jail_parse_args() reads Firecracker's jailer command line (vmm/jail/README.md)
 *   into struct jail_args without touching the system. Every refusal is one
 *   line in err naming the flag and the value. The VMM's own arguments are
 *   what follows "--"; a is only valid while argv is.
 * - jail_paths() builds every host path the jail uses from the arguments:
 *   <chroot-base-dir>/<exec-file name>/<id>/root and the exec file's place in
 *   it. -ENAMETOOLONG if one does not fit.
 * - jail_cgroup_plan() lists the cgroup files to write, in order, for cgroup
 *   version 1 or 2: the defaults (pids.max, and the memory limit when
 *   --guest-mem-mib is given), then each --cgroup, a later value for the same
 *   file replacing an earlier one. Pure.
 * - jail_cgroup_mount() finds a v1 controller's mount point in the text of
 *   /proc/self/mountinfo, or with controller NULL the cgroup2 mount. -ENOENT
 *   if there is none. Pure.
 * - jail_run() builds the jail and execs the VMM: it returns only on failure
 *   (a negative errno, after one error line), or, with --new-pid-ns, in the
 *   parent once the child runs (0). Root only. vmm/jail/jail.c lists its steps.
 */
#ifndef EMBER_JAIL_H
#define EMBER_JAIL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#define JAIL_ID_MAX	      64 /* Firecracker's limit on --id */
#define JAIL_DEFAULT_BASE     "/srv/jailer"
#define JAIL_MAX_CGROUPS      16
#define JAIL_MAX_RLIMITS      8
#define JAIL_CGROUP_VALUE_MAX 128
#define JAIL_CGROUP_FILE_MAX  64
/* Firecracker's default: at most 2048 open files. */
#define JAIL_DEFAULT_NOFILE 2048
/* Threads of one ember-vmm at most: 32 vCPUs, the event loop, the API and 4
 * file-copy helpers, with room to spare. RLIMIT_NPROC counts the uid's tasks
 * across the host, so this holds when each VM has its own uid (README.md). */
#define JAIL_DEFAULT_NPROC 64
/* pids.max of the VM's cgroup: the same bound, per VM whatever the uid. */
#define JAIL_DEFAULT_PIDS_MAX 64
/* --guest-mem-mib N sets the memory limit to N MiB plus this margin: the
 * VMM's own memory, KVM's page tables and per-vCPU state, socket buffers and
 * the page cache of the files it reads (measured: bench/RESULTS.md). */
#define JAIL_MEM_OVERHEAD_MIB  64
#define JAIL_MAX_GUEST_MEM_MIB (1u << 20)

struct jail_cgroup_setting {
	char file[JAIL_CGROUP_FILE_MAX];   /* <controller>.<name>, e.g. memory.max */
	char value[JAIL_CGROUP_VALUE_MAX]; /* written as is */
};

struct jail_rlimit {
	int resource; /* RLIMIT_FSIZE, RLIMIT_NOFILE or RLIMIT_NPROC */
	rlim_t value;
};

struct jail_args {
	const char *id;
	const char *exec_file;
	uid_t uid;
	gid_t gid;
	const char *chroot_base;   /* absolute */
	int cgroup_version;	   /* 1, 2, or 0: whatever the host mounts */
	const char *parent_cgroup; /* relative; default: the exec file's name */
	struct jail_cgroup_setting cgroups[JAIL_MAX_CGROUPS];
	unsigned ncgroups;
	struct jail_rlimit rlimits[JAIL_MAX_RLIMITS]; /* the defaults, then the flags' */
	unsigned nrlimits;
	uint64_t guest_mem_mib; /* 0: no memory limit unless --cgroup sets one */
	const char *netns;	/* a network namespace to join, or NULL: a new, empty one */
	bool new_pid_ns;
	bool daemonize;
	bool link_exec;	 /* --link-exec-file */
	char **vmm_argv; /* after "--" (may be empty) */
	int vmm_argc;
};

struct jail_paths {
	char exec_name[NAME_MAX + 1]; /* the exec file's last component */
	char jail_dir[PATH_MAX];      /* <base>/<exec name>/<id> */
	char root[PATH_MAX];	      /* <jail_dir>/root */
	char exec_in_root[PATH_MAX];  /* <root>/<exec name> */
	char pid_file[PATH_MAX];      /* /<exec name>.pid, seen from inside */
	char cgroup_rel[PATH_MAX];    /* <parent cgroup>/<id> */
};

struct jail_cgroup_write {
	char controller[JAIL_CGROUP_FILE_MAX];
	char file[JAIL_CGROUP_FILE_MAX];
	char value[JAIL_CGROUP_VALUE_MAX];
};

/* Default limits, the --cgroup settings and the memory limit: at most this many. */
#define JAIL_MAX_CGROUP_WRITES (JAIL_MAX_CGROUPS + 4)

struct jail_cgroup_plan {
	struct jail_cgroup_write w[JAIL_MAX_CGROUP_WRITES];
	unsigned n;
};

/* The exec file's interpreter and shared libraries, transitively: where the
 * loader looks for each inside the jail (path) and the host file (host). */
#define JAIL_MAX_LIBS 16
struct jail_libs {
	struct {
		char path[PATH_MAX];
		char host[PATH_MAX];
	} lib[JAIL_MAX_LIBS];
	unsigned n;
};

extern const char jail_usage[];

/* Returns 0, 1 for --help, or -EINVAL with one line in err. */
int jail_parse_args(int argc, char **argv, struct jail_args *a, char *err, size_t errlen);
int jail_paths(const struct jail_args *a, struct jail_paths *p, char *err, size_t errlen);
int jail_cgroup_plan(const struct jail_args *a, int version, struct jail_cgroup_plan *plan,
		     char *err, size_t errlen);
int jail_cgroup_mount(const char *mountinfo, const char *controller, char *out, size_t outlen);

/* The system side (vmm/jail/cgroup.c): creates <mount>/<cgroup_rel> for each
 * controller of the plan (v2: one directory, with the controllers enabled in
 * every ancestor), writes the plan's values, then moves this process in.
 * version 0 means detect. Errors name the file. */
int jail_cgroup_setup(const struct jail_cgroup_plan *plan, int version, const char *cgroup_rel,
		      char *err, size_t errlen);

/* vmm/jail/libs.c: jail_libs_find() reads the exec file's dynamic section
 * and its libraries' (vmm/jail/elf.h) and finds each library in glibc's
 * default directories, as the loader does without an ld.so.cache; a file with
 * an RPATH/RUNPATH is refused. jail_libs_mount() bind-mounts each one,
 * read-only, at the same path under root (call it in the jail's own mount
 * namespace). Errors name the file. */
int jail_libs_find(const char *exec_file, struct jail_libs *l, char *err, size_t errlen);
int jail_libs_mount(const struct jail_libs *l, const char *root, char *err, size_t errlen);

int jail_run(const struct jail_args *a, char *err, size_t errlen);

#endif
