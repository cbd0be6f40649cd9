/* pool: emberd's execution environments: one ember-vmm per instance, pooled per function version, within the host's limits.
 *
 * An instance is one ember-vmm process serving one invocation at a time. Its
 * folder $EMBER_HOME/run/<instance id>/ holds its pid file (root's only);
 * the VMM works in its jail's root $EMBER_HOME/jail/ember-vmm/<id>/root/
 * (struct pool_jail below), or with --no-jail in the run folder: its API
 * socket api.sock, its vsock socket vsock.sock, vm.json for a cold start.
 * Its states, each with a timer:
 *   starting      spawned; waiting for the guest to listen (cold: ember-init's
 *                 console line) or for the VMM to finish a restore (its
 *                 "ready to run" line), then the vsock handshake (lib/hvsock)
 *   initializing  cold: INIT sent, waiting for READY (or INIT_ERROR)
 *   restoring     restored: RESTORE sent, waiting for READY
 *   snapshotting  SnapStart: the first READY instance of a version is paused,
 *                 snapshotted and resumed on a worker thread
 *   idle          ready; stopped after keep_warm_s (0: at once)
 *   busy          running one job; the timer is its deadline
 *   draining      being stopped: SIGTERM, SIGKILL after POOL_STOP_GRACE_S
 *   gone          reaped (pidfd), folder removed, then freed
 * Instances of one fn->key form a pool. A job (an invocation) runs on an idle
 * instance of its key at once; otherwise it waits in the pool's FIFO, and a
 * new instance starts for it when there are more waiting jobs than starting
 * instances. Whichever instance becomes idle first takes the oldest job.
 *
 * Limits (checked in pool_submit, before anything starts):
 * - reserved concurrency per function name: jobs of that name waiting or
 *   running <= reserved, else POOL_THROTTLED_RESERVED;
 * - the memory budget: instances x (MemorySize + POOL_OVERHEAD_MIB) <=
 *   memory_budget_mib, counting every instance that is not draining (a
 *   draining one is stopping and about to free its memory). A new instance
 *   first evicts idle instances, least recently used first; if it still does
 *   not fit, the job gets POOL_THROTTLED_MEMORY.
 *
 * SnapStart (opts->snapstart): snapshots live in
 * $EMBER_HOME/snapshots/<name>/<version>/<revision>/{state,mem}, written under
 * temporary names and renamed when complete; a folder with both files is a
 * usable snapshot, also after a restart of emberd. A jailed template writes
 * them in its root; emberd moves them out at once, root-owned, 0440 to the
 * VMs' group (0400 with --no-jail), so no VM can change them. Later instances
 * of that key restore it: ember-vmm starts with only its API, and emberd
 * sends PUT /snapshot/load naming every host file itself (the drives, the
 * vsock socket "vsock.sock": a state file may not choose host paths,
 * vmm/snapshot/paths.h); jailed, those are the fixed paths inside each
 * clone's root, where the snapshot files are hard-linked as /state, /mem. If taking
 * or restoring a snapshot fails, that is logged, the snapshot is deleted, and
 * the version falls back to cold starts for the life of this process; a job
 * waiting for a restore that failed waits for a cold start instead.
 *
 * Standby (opts->standby, api/pool/standby.c): once a version's snapshot is
 * stored, one ember-vmm for its next restore is spawned ahead (jailed, its
 * snapshot files linked in, its API listening) and waits in the state
 *   standby       spawned ahead: no VM, no guest memory; the timer is the
 *                 keep-warm TTL once its API listens (none with keep_warm_s 0)
 * A restore start takes it (the load goes at once) and spawns the next. A
 * standby is not counted in the memory budget, the limits or "live"
 * instances: it holds a process (about 2 MiB) but no guest memory. It goes
 * with its snapshot (deleted, replaced, failed) and with its version.
 *
 * Failures: a VM that does not start fails the oldest waiting job
 * (POOL_FAIL_START, with the console's last lines); an INIT_ERROR fails it
 * with the runtime's error (POOL_FAIL_INIT_ERROR). A running job whose
 * instance dies fails with POOL_FAIL_DIED; past its deadline with
 * POOL_FAIL_TIMEOUT, and the instance is destroyed. A runtime exit
 * (Runtime.ExitError) or an init error retires the instance; later jobs get
 * a fresh one.
 *
 * Thread: the loop thread only; snapshots are taken on a worker thread. */
#ifndef EMBER_API_POOL_H
#define EMBER_API_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/pool/phases.h"
#include "api/store/fn.h"
#include "lib/gproto/gproto.h"

struct event_base;

#define POOL_OVERHEAD_MIB	16 /* per instance beyond MemorySize: ember-vmm, page tables, buffers */
#define POOL_BOOT_TIMEOUT_S	60   /* spawn -> guest listening (cold) or restored */
#define POOL_INIT_TIMEOUT_S	10   /* INIT -> READY, at least; the function's timeout if longer */
#define POOL_RESTORE_TIMEOUT_S	30   /* RESTORE -> READY */
#define POOL_SNAPSHOT_TIMEOUT_S 300  /* pause + snapshot/create + resume */
#define POOL_STOP_GRACE_S	2    /* SIGTERM -> SIGKILL */
#define POOL_CONSOLE_TAIL	1024 /* bytes of console and VMM log kept for error messages */
#define POOL_ID_LEN		16   /* hex digits of an instance id */
#define POOL_SCRATCH_MIB	512  /* each instance's /tmp disk: Lambda's EphemeralStorage */

/* Jails (api/pool/jail.c, vmm/jail/README.md): unless off, every ember-vmm
 * runs under ember-jailer with a uid of its own from [uid_first, uid_first +
 * uid_count), the group gid shared by all VMs, in
 * $EMBER_HOME/jail/ember-vmm/<instance id>/root, in a network namespace
 * of its own made ahead (netns.c), and in the cgroup
 * ember-vmm/<home hash>/<instance id> (jail_cgroup.c) with memory.max =
 * MemorySize + mem_margin_mib, a CPU quota of its vCPUs plus a quarter CPU
 * per 100 ms, and ember-jailer's pids.max (v1: the same limits in each
 * controller's hierarchy, under v1's names). The
 * VM's files are hard-linked into its root from $EMBER_HOME/jail/files
 * (copies, made once, of files outside $EMBER_HOME), root-owned, 0440, group
 * gid: readable by the VMs, writable by none. */
struct pool_jail {
	bool off;
	uint32_t uid_first, uid_count;
	uint32_t gid;
	uint32_t mem_margin_mib;
	const char *jailer; /* NULL: ember-jailer next to ember-vmm */
};

#define POOL_JAIL_UID_FIRST  10001
#define POOL_JAIL_UID_COUNT  9999
#define POOL_JAIL_GID	     10000
#define POOL_JAIL_MARGIN_MIB 64 /* ember-jailer's own --guest-mem-mib margin */

struct pool_opts {
	const char *home, *vmm_path, *kernel_path, *initrd_path, *guest_args;
	uint64_t memory_budget_mib;
	unsigned keep_warm_s;
	bool snapstart;
	bool standby; /* with snapstart: a VMM spawned ahead per snapshotted version */
	const struct pool_jail *jail; /* NULL: jailed, with the defaults above */
};

enum pool_start { POOL_START_WARM, POOL_START_COLD, POOL_START_RESTORE };

enum pool_fail {
	POOL_FAIL_START,      /* no instance could be started: detail says why */
	POOL_FAIL_INIT_ERROR, /* detail: the error type; body: the runtime's error JSON */
	POOL_FAIL_DIED,	      /* the instance died while running the job */
	POOL_FAIL_TIMEOUT,    /* the deadline passed; the instance is destroyed */
	POOL_FAIL_SHUTDOWN,   /* the pool set is being freed */
};

/* pool_submit()'s throttling outcomes (positive, so distinct from -errno). */
#define POOL_THROTTLED_RESERVED 1
#define POOL_THROTTLED_MEMORY	2

struct instance;

/* One job (an invocation), embedded in the caller's own struct. */
struct pool_job {
	struct fn *fn; /* the caller's reference, for the job's life */
	struct pool_job *next;
	struct instance *inst; /* while running */
	struct pool *pool;
};

struct pool_ops {
	/* job now owns an instance: send it (pool_send) and return. how: a warm
	 * instance, or the first job of a cold or restored one, whose start
	 * took `ph` (NULL for a warm one). */
	void (*run)(void *arg, struct pool_job *job, enum pool_start how,
		    const struct pool_phases *ph);
	/* A frame for the running job: LOG (its req_id), STATS, RESULT or ERROR.
	 * After RESULT or ERROR the job is over: the pool no longer refers to
	 * it, and the instance is idle again, or retired after a runtime exit
	 * (error type Runtime.ExitError) or an Ember.* protocol error. */
	void (*frame)(void *arg, struct pool_job *job, const struct gproto_msg *m);
	/* The job ends without a RESULT or ERROR; the pool no longer refers to
	 * it. detail: one line; body: for POOL_FAIL_INIT_ERROR the runtime's
	 * error JSON (detail is then its error type), else NULL. */
	void (*fail)(void *arg, struct pool_job *job, enum pool_fail why, const char *detail,
		     const uint8_t *body, size_t len);
	/* A log line outside any job (req_id 0: the runtime's init) of fn. */
	void (*init_log)(void *arg, const struct fn *fn, const uint8_t *line, size_t len);
};

struct pool_status {
	const char *name, *version, *key;
	unsigned starting, idle, busy, draining;
	unsigned standby; /* spawned ahead, not serving: not an instance of the limits */
	bool has_snapshot;
	uint64_t memory_mib;
};

struct pool_set;

int pool_set_new(struct event_base *base, const struct pool_opts *opts, const struct pool_ops *ops,
		 void *arg, struct pool_set **out);
/* Fails every job (POOL_FAIL_SHUTDOWN), stops every instance (SIGKILL after
 * the grace period, waiting for each), removes their folders, frees. */
void pool_set_free(struct pool_set *s);

/* 0: the job runs now or waits for an instance (ops->run comes later, on
 * the loop, never from inside this call); POOL_THROTTLED_*: refused, nothing
 * kept; -errno. */
int pool_submit(struct pool_set *s, struct pool_job *job);
/* Sends m on the job's instance (run() calls it with INVOKE), with the
 * job's req_id set in m (the guest echoes it in the job's frames). */
int pool_send(struct pool_job *job, struct gproto_msg *m);
/* The id of the instance a job runs on (valid in run() and frame()). */
const char *pool_instance_id(const struct pool_job *job);

/* Drains name's pools of version (NULL: every version) whose key is not current_key (NULL: all). */
void pool_drain(struct pool_set *s, const char *name, const char *version, const char *current_key);
void pool_forget(struct pool_set *s, const char *name);
/* Stops name's idle instances now (busy ones finish and stay); with
 * drop_snapshot also deletes its versions' snapshots, so that the next start
 * is cold (and, with SnapStart, snapshots again). For `ember bench`. Returns
 * how many instances it stopped. */
unsigned pool_stop_idle(struct pool_set *s, const char *name, bool drop_snapshot);
void pool_set_concurrency(struct pool_set *s, const char *name, uint32_t reserved);
/* Copies path (a runtime image, say) into the jails' staging folder on a
 * worker thread, once, so the first start that needs it does not copy on the
 * loop (a start that comes first copies it there itself, as before); a no-op
 * without jails or when the copy exists. */
void pool_prestage(struct pool_set *s, const char *path);
/* Snapshots stored, and versions that fell back to cold starts, since start. */
void pool_snapshot_counts(struct pool_set *s, uint64_t *taken, uint64_t *fallbacks);
void pool_status(struct pool_set *s, void (*each)(void *arg, const struct pool_status *st),
		 void *arg, uint64_t *used_mib, uint64_t *budget_mib);

#endif
