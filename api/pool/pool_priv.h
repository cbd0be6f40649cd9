/* pool_priv: the structs and internal calls shared by the files of api/pool/ (not for other modules). */
#ifndef EMBER_API_POOL_PRIV_H
#define EMBER_API_POOL_PRIV_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "api/pool/pool.h"
#include "api/work/work.h"
#include "lib/fcapi/config.h"
#include "lib/gproto/gproto.h"

#define POOL_HASH_BUCKETS 1024
#define POOL_DIR_MAX	  108 /* an instance folder: its sockets' paths fit a sun_path */
#define POOL_LINE_MAX	  512 /* one console or VMM log line; longer ones are cut */
#define POOL_VSOCK_SOCK	  "vsock.sock"
#define POOL_API_SOCK	  "api.sock"
#define POOL_VM_CONFIG	  "vm.json"
#define POOL_PID_FILE	  "pid" /* for a later emberd to find a VM this one left behind */
/* What the instance folder's sockets are called inside it, relative, so that
 * a snapshot's recorded vsock path fits every clone (pool.h). */
#define POOL_READY_COLD	     "listening on vsock port 1024" /* ember-init, on the console */
#define POOL_READY_RESTORE   "ready to run"		    /* ember-vmm --log-level debug */
#define POOL_LAMBDA_VCPU_MIB 1769 /* Lambda: one vCPU per 1769 MB of memory */
/* A restored guest may refuse the first host connection (conn.c says
 * why); each new one gets the VMM's next host port. */
#define POOL_CONNECT_TRIES 3
/* An instance's log lines cost a unit each and one more per KiB; it earns
 * POOL_LOG_RATE units a second and may save up as many (conn.c). */
#define POOL_LOG_RATE 2048
#define POOL_MAX_VCPUS	   6
/* The VMM's line once its API serves (a restore loads through it). */
#define POOL_API_LISTENING "API listening on"
#define POOL_LOAD_THREADS  4 /* snapshot loads in flight at once */

/* Jails (pool.h): under <home>/jail, ember-jailer's --chroot-base-dir. */
#define POOL_JAIL_DIR	 "jail"
#define POOL_JAIL_FILES	 "files" /* <home>/jail/files: the staged copies */
#define POOL_JAIL_EXEC	 "ember-vmm"
#define POOL_JAIL_CGROUP "ember-vmm" /* --parent-cgroup: <hierarchy>/ember-vmm/<id> */
#define POOL_NETNS_AHEAD 4 /* network namespaces made ahead (netns.c) */
/* A VMM's CPU quota: its vCPUs at full speed, and a quarter of a CPU more
 * for its own threads (the event loop's device work), per 100 ms. */
#define POOL_JAIL_CPU_PERIOD_US	  100000
#define POOL_JAIL_CPU_MARGIN_US	  25000
/* The VM's files, as the jailed VMM sees them (its root is the jail). */
#define POOL_IN_KERNEL	   "/vmlinux"
#define POOL_IN_INITRD	   "/initramfs.cpio"
#define POOL_IN_RUNTIME	   "/runtime.img"
#define POOL_IN_CODE	   "/code.img"
#define POOL_IN_STATE	   "/state"
#define POOL_IN_MEM	   "/mem"
#define POOL_IN_SNAP_STATE "/snapshot.state" /* a template writes its snapshot here */
#define POOL_IN_SNAP_MEM   "/snapshot.mem"
#define POOL_TMP_DISK	   "tmp.ext4" /* its /tmp disk (scratch.c): in its folder, jail or snapshot */
#define POOL_IN_TMP	   "/" POOL_TMP_DISK
#define POOL_DRIVE_RUNTIME "runtime" /* drive ids (snapshot loads override their paths) */
#define POOL_DRIVE_CODE	   "code"
#define POOL_DRIVE_TMP	   "tmp"
#define POOL_SCRATCH_FILE  "scratch.ext4" /* <home>/: the empty /tmp disk copied for each */

enum inst_state {
	INST_STARTING,
	INST_INITIALIZING,
	INST_RESTORING,
	INST_SNAPSHOTTING,
	INST_IDLE,
	INST_BUSY,
	INST_STANDBY, /* standby.c: spawned ahead for a restore; holds no VM yet */
	INST_DRAINING,
	INST_GONE,
};
#define INST_NSTATES (INST_GONE + 1)

/* How an instance stops (inst_stop). */
enum inst_stop {
	STOP_TERM, /* SIGTERM, SIGKILL after the grace period */
	STOP_KILL, /* SIGKILL now */
	STOP_WAIT, /* it is already dying: wait for the exit, SIGKILL after the grace */
};

/* Assembles one pipe's bytes into lines. */
struct linebuf {
	char buf[POOL_LINE_MAX];
	size_t len;
	bool cut; /* the current line overflowed; skip to its end */
};

struct pool_name {
	struct pool_name *next; /* hash chain */
	char name[FN_NAME_MAX + 1];
	uint32_t reserved; /* UINT32_MAX: none */
	unsigned inflight; /* jobs waiting or running */
};

struct pool {
	struct pool *next; /* hash chain */
	struct pool_set *set;
	struct pool_name *pname;
	struct fn *fn;		    /* a reference: what this key's instances are built from */
	char snap_dir[FN_PATH_MAX]; /* <home>/snapshots/<name>/<version>/<revision> */
	bool has_snapshot, snap_busy, snap_failed;
	bool snap_drop; /* the snapshot being stored is deleted instead (pool_stop_idle) */
	bool draining;	/* a stale key: instances stop when no job waits */
	bool dirty;	/* on the set's dispatch list */
	struct pool *dirty_next;
	struct pool_job *wait_head, **wait_tail;
	unsigned nwaiting;
	unsigned n[INST_NSTATES]; /* instances by state */
	struct instance *insts;	  /* every live instance */
	struct instance *idle;	  /* idle ones, most recently used first */
	struct instance *standby; /* standby.c: the next restore's VMM, spawned */
	uint64_t memory_mib;
};

struct instance {
	struct pool *pool;
	struct instance *next, *prev;	      /* pool->insts */
	struct instance *idle_next;	      /* pool->idle */
	struct instance *lru_next, *lru_prev; /* the set's idle LRU */
	char id[POOL_ID_LEN + 1];
	char dir[POOL_DIR_MAX];	 /* <home>/run/<id>: root's only (the pid file) */
	char root[POOL_DIR_MAX]; /* the VMM's folder from the host: its sockets, vm.json */
	bool jailed;
	uint32_t uid;	   /* jailed: its own */
	int netns_fd;	   /* jailed: its namespace made ahead, until the jailer joined it */
	bool load_job;	   /* a snapshot load job refers to it (like snap_job) */
	bool disk_job;	   /* restore: a job copies its /tmp disk ahead (load.c) */
	bool disk_ready;   /* restore: its /tmp disk is in place (a standby's) */
	bool load_waits;   /* restore: the load goes once disk_job is done */
	bool load_sent;	   /* restore: the load is on its way */
	bool from_standby; /* restore: it was the pool's standby */
	bool refill;	   /* restore: spawn the next standby once its first job is done */
	enum inst_state state;
	bool restore;  /* started from the snapshot */
	bool fresh;    /* has run no job yet */
	bool counted;  /* its memory is in the set's used_mib */
	bool snap_job; /* a snapshot job refers to it: free only after done() */
	bool free_after_job;
	pid_t pid;
	int pidfd;
	bool exited;
	int status; /* waitpid status once exited */
	int out_fd, err_fd;
	struct event *pid_ev, *out_ev, *err_ev, *timer;
	struct linebuf out_line, err_line;
	char tail[POOL_CONSOLE_TAIL]; /* the last console and VMM log bytes, a ring */
	size_t tail_pos;
	bool tail_wrapped;
	struct bufferevent *bev;
	bool handshaken;
	unsigned connect_tries;
	struct gproto_reader rd;
	/* Its log budget (conn.c): units left, when last counted, and the
	 * timer that reads on once a paused connection has earned more. */
	double log_units;
	uint64_t log_ns;
	bool log_paused;
	struct event *log_ev;
	/* The start's milestones (pool_phases): exec, the VMM's API listening
	 * (restore; 0 until it listens), the VM ready for vsock, the handshake
	 * done, READY. */
	uint64_t t_spawn_ns, t_api_ns, t_vm_ns, t_connected_ns, t_ready_ns;
	uint64_t req_id;      /* the running job's */
	struct pool_job *job; /* while busy (or dying with a job on it) */
	char why[256];	      /* why it is stopping, for a job that dies with it */
};

struct pool_set {
	struct event_base *base;
	char home[PATH_MAX], vmm[PATH_MAX], kernel[PATH_MAX], initrd[PATH_MAX];
	char guest_args[CONFIG_CMDLINE_MAX];
	uint64_t budget_mib, used_mib;
	unsigned keep_warm_s;
	bool snapstart;
	bool standby; /* keep a VMM spawned ahead per snapshotted version */
	const struct pool_ops *ops;
	void *arg;
	struct work_pool *work;
	struct work_pool *load_work; /* snapshot loads: not behind a long snapshot */
	struct pool_jail jail;
	char jailer[PATH_MAX], jail_base[PATH_MAX];
	struct pool_netns *netns; /* jailed: namespaces made ahead (netns.c) */
	bool cgroup_v1;		  /* the host's cgroups are v1: a hierarchy per controller */
	char vmm_exec[PATH_MAX]; /* jailed: ember-vmm staged in jail/files (jail.c) */
	char scratch[PATH_MAX];	 /* the empty /tmp disk (scratch.c) */
	uint8_t *uid_used;	 /* a bit per uid of the jail range */
	struct pool_name *names[POOL_HASH_BUCKETS];
	struct pool *pools[POOL_HASH_BUCKETS];
	struct instance *lru_head, *lru_tail; /* idle instances, least recently used first */
	struct event *dispatch_ev;
	struct pool *dirty;
	bool freeing;
	uint64_t snapshots_taken, snapshot_fallbacks; /* for /metrics */
};

/* spawn.c: a standby instance (restore only) waits in INST_STANDBY.
 * pool_vcpus: a function's vCPUs, one per POOL_LAMBDA_VCPU_MIB of memory. */
unsigned pool_vcpus(const struct fn *fn);
int inst_spawn(struct pool *p, bool restore, bool standby, struct instance **out);
void inst_remove_dir(const char *dir);
/* Start-up: stops what an earlier emberd left in <home>/run (it held the
 * home's lock, which this one holds now, so every VM there is an orphan). */
void inst_sweep_leftovers(const char *home);

/* instance.c */
int inst_attach(struct instance *inst, bool standby);
void inst_set_state(struct instance *inst, enum inst_state to);
void inst_arm(struct instance *inst, unsigned seconds);
/* Something went wrong: tell the pool (a start failure), then stop it. */
void inst_fail(struct instance *inst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void inst_run(struct instance *inst, struct pool_job *job);
/* The running job's deadline, Timeout from now: armed once run() sent INVOKE. */
void inst_arm_deadline(struct instance *inst);
void inst_stop(struct instance *inst, enum inst_stop how, const char *why);
void inst_to_idle(struct instance *inst);
void inst_to_snapshotting(struct instance *inst);
void inst_console_tail(const struct instance *inst, char *out, size_t cap);
/* Shutdown: waits (blocking) for a stopped instance's exit, then gone. */
void inst_finish(struct instance *inst);
uint64_t inst_memory_mib(const struct fn *fn);
uint64_t pool_now_ns(void);
/* The phases of inst's start, from its milestones (pool.h). */
void pool_phases_of(const struct instance *inst, struct pool_phases *ph);

/* conn.c: connects to the guest's port (the guest listens, or the
 * restore is done); frames then drive the instance's state. */
void inst_connect(struct instance *inst);
int inst_send(struct instance *inst, const struct gproto_msg *m);

/* pool.c: the pools and dispatch, shared with report.c and set.c. */
void pool_inst_state(struct instance *inst, enum inst_state from, enum inst_state to);
struct pool_name *pool_name_get(struct pool_set *s, const char *name, bool create);
/* A draining pool with nothing left in it goes away. */
void pool_maybe_free(struct pool *p);
unsigned pool_starting(const struct pool *p);
unsigned pool_coming(const struct pool *p);
struct pool_job *pool_dequeue(struct pool *p);
/* The pool lets go of a job that ends; the caller reports it next. */
void pool_job_end(struct pool_job *job);
void pool_fail_job(struct pool_job *job, enum pool_fail why, const char *detail,
		   const uint8_t *body, size_t len);
void pool_offer(struct instance *inst);
void pool_ensure_starts(struct pool *p);
void pool_on_dispatch(int fd, short what, void *arg);

/* standby.c: one VMM spawned ahead per snapshotted version (pool.h). */
void pool_standby_fill(struct pool *p);
/* The standby as a restore starting now (and a new standby spawned);
 * NULL if the pool has none. */
struct instance *pool_standby_take(struct pool *p);
void pool_standby_drop(struct pool *p, const char *why);
void pool_standby_api_ready(struct instance *inst);
void pool_standby_expired(struct instance *inst);

/* report.c: what instances report. */
void pool_inst_ready(struct instance *inst);
void pool_inst_job_frame(struct instance *inst, const struct gproto_msg *m);
void pool_inst_deadline(struct instance *inst);
void pool_inst_snapshot_taken(struct instance *inst, int ret, const char *err, bool running);
void pool_snapshot_stored(struct pool *p, int ret, const char *err);
void pool_inst_start_failed(struct instance *inst, const char *detail, const char *etype,
			    const uint8_t *body, size_t len);
void pool_inst_gone(struct instance *inst);
void pool_inst_idle_expired(struct instance *inst);

/* jail.c (pool.h says what a jail is). pool_jail_init: the folders, the
 * uid map, the sweep of jails an earlier emberd left (their cgroups'
 * processes killed, the cgroups and folders removed). pool_jail_prepare: a
 * uid for inst, its root with the VM's files linked in (cold: kernel, initrd,
 * images; restore: images, state, mem). pool_jail_argv: ember-jailer's
 * arguments up to and including "--" into argv (at most POOL_JAIL_ARGC).
 * pool_jail_release: the root and the cgroup removed, the uid freed (after
 * the VMM exited). pool_jail_seal: a snapshot file made root's (jailed:
 * 0440 group gid, readable by clones; --no-jail: 0400) through its fd, then
 * renamed to `to`, which must then still be that file (-EPERM if a VMM
 * swapped another in). */
#define POOL_JAIL_ARGC 24
/* netns.c: empty network namespaces made ahead on a thread of their own.
 * pool_netns_take: one, as a descriptor the caller then owns, or -1 when
 * none is ready (the jailer makes the VMM's own). */
struct pool_netns;
int pool_netns_new(struct pool_netns **out);
int pool_netns_take(struct pool_netns *ns);
/* inst's descriptor goes: the jailer has joined the namespace (it opens
 * --netns before it prints a line or execs the VMM), or inst is gone. */
void pool_netns_drop(struct instance *inst);
void pool_netns_free(struct pool_netns *ns);
int pool_jail_init(struct pool_set *s, const struct pool_jail *opts);
void pool_jail_free(struct pool_set *s);
int pool_jail_prepare(struct instance *inst);
int pool_jail_argv(struct instance *inst, char **argv, char *buf, size_t cap);
void pool_jail_release(struct instance *inst);
/* jail_cgroup.c: the instances' cgroups. pool_cgroup_parent: this home's
 * parent cgroup (relative to a hierarchy's root). pool_cgroup_remove: an
 * instance's cgroup removed (each v1 controller's), what is left in it
 * killed first if kill_procs (a sweep). pool_cgroups_free: the parent, and
 * ember-vmm/ if no other emberd uses it. */
bool pool_cgroup_v1(void);
void pool_cgroup_parent(const struct pool_set *s, char *out, size_t cap);
void pool_cgroup_remove(const struct pool_set *s, const char *id, bool kill_procs);
void pool_cgroups_free(const struct pool_set *s);
/* Sets the memory limit of instance id's cgroup to mib (any thread). A
 * template's snapshot memory file is charged to its cgroup as it writes it
 * (on tmpfs, for good), so a snapshotting instance gets MemorySize more. */
int pool_jail_raise_memory(const struct pool_set *s, const char *id, uint64_t mib);
/* Whether the kernel killed something in inst's cgroup for its memory limit. */
bool pool_jail_oom_killed(const struct instance *inst);
/* Its cgroup's memory limit now, in MiB (0 if unknown). */
uint64_t pool_jail_memory_max_mib(const struct instance *inst);
int pool_jail_seal(const struct pool_set *s, const char *from, const char *to);

/* snapshot.c */
void snap_dir_for(const struct pool_set *s, const struct fn *fn, char *out, size_t cap);
bool snap_exists(const char *dir);
void snap_delete(const char *dir);
/* p's snapshot is gone for good: its files, has_snapshot, and the standby VMM
 * spawned for it (why: for the standby's log line). */
void pool_forget_snapshot(struct pool *p, const char *why);
int snap_take(struct instance *inst);
void snap_state_path(const char *dir, char *out, size_t cap);
void snap_mem_path(const char *dir, char *out, size_t cap);
void snap_scratch_path(const char *dir, char *out, size_t cap);

/* scratch.c: each instance's /tmp disk. pool_scratch_template() makes the
 * empty one at start (mke2fs). A cold start's copy of it is made on the loop
 * before the VMM runs (pool_scratch_place: a fixed ~400 KiB of data); a
 * restore's, of its snapshot's disk (as large as what INIT left in /tmp), on
 * a worker thread (load.c: pool_scratch_for on the loop, pool_scratch_copy
 * on the worker), ahead for a standby. pool_scratch_save() copies a
 * paused template's disk into its snapshot (worker thread). */
struct pool_scratch_copy {
	char from[PATH_MAX], to[PATH_MAX];
	uid_t uid;
	gid_t gid;
};
int pool_scratch_template(struct pool_set *s);
int pool_scratch_place(struct instance *inst);
int pool_scratch_for(const struct instance *inst, struct pool_scratch_copy *c);
int pool_scratch_copy(const struct pool_scratch_copy *c);
int pool_scratch_save(const char *from, const char *to);
/* load.c. Restore: the clone's /tmp disk, then PUT /snapshot/load on the
 * instance's API (a worker thread), with the drives and the vsock socket
 * named by emberd (a state file may not choose host paths:
 * vmm/snapshot/paths.h); the VMM says "ready to run". snap_disk_ahead()
 * copies a standby's disk as soon as it is spawned; a load of it waits for
 * that copy. */
int snap_load(struct instance *inst);
int snap_disk_ahead(struct instance *inst);

#endif
