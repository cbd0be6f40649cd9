/* bootstrap: the function's process (the runtime's bootstrap), its output and its memory.
 *
 * Contract:
 * - bootstrap_start() forks the bootstrap: in the child, a new session,
 *   stdin /dev/null, stdout and stderr to two pipes, chroot(WORLD_ROOT),
 *   chdir(/var/task), no I/O ports nor IOPL (ioperm/iopl dropped), RLIMIT_NPROC
 *   = WORLD_NPROC_MAX, setgroups({}),
 *   setgid/setuid(WORLD_UID) and PR_SET_NO_NEW_PRIVS, then execve(path,
 *   {path}, envp). The rlimit counts every process and thread of WORLD_UID,
 *   so a fork bomb stops there and PID 1 can still fork to clean up. An exec failure
 *   comes back through a close-on-exec pipe as -errno, with the child reaped.
 * - Output: the pipes are read in the event loop and split into lines
 *   (without the '\n'); a line longer than GPROTO_LOG_LINE_MAX is cut into
 *   pieces of that size. ops->log gets each line. bootstrap_drain() reads
 *   whatever the pipes hold right now (without blocking), so that lines
 *   written before an HTTP call are attributed before that call's effect.
 *   bootstrap_pause() stops reading (back-pressure when the host is slow).
 * - Exit: bootstrap_reap() (on SIGCHLD) waits for every child (PID 1 also
 *   reaps orphans). When the bootstrap itself ends, it drains the pipes, kills
 *   every process of WORLD_UID left (as Lambda ends the whole sandbox), waits
 *   (SIGCHLD, at most BOOTSTRAP_REAP_MS) until none is left, not even a
 *   zombie, since each counts against the next bootstrap's RLIMIT_NPROC
 *   until reaped, closes the pipes, and calls ops->exited with the wait status.
 * - Memory: bootstrap_mem_reset() resets the peak RSS (VmHWM) of every
 *   WORLD_UID process by writing "5" to /proc/PID/clear_refs;
 *   bootstrap_mem_peak() sums, over them, the larger of VmHWM and the exact
 *   current RSS (smaps_rollup), in bytes (bootstrap.c says why). Summing peaks
 *   overcounts pages that processes share, and misses processes that ended
 *   between the two calls: cheap (one /proc scan, usually one process), not
 *   exact. No memory cgroup is needed (the guest kernel has none).
 * Event loop thread only. */
#ifndef EMBER_BOOTSTRAP_H
#define EMBER_BOOTSTRAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct event;

/* How long a runtime's exit waits for the sandbox to be gone. Killed
 * processes die in microseconds each; 30 s is for a thousand of them in an
 * emulated guest (the testbox), or one stuck in the kernel. */
#define BOOTSTRAP_REAP_MS 30000u

struct bootstrap_ops {
	void (*log)(void *ctx, uint8_t stream, const uint8_t *line, size_t len);
	void (*exited)(void *ctx, int status);
};

struct bootstrap_stream {
	int fd; /* -1 when closed */
	struct event *ev;
	uint8_t stream; /* enum gproto_stream */
	uint8_t *buf;	/* GPROTO_LOG_LINE_MAX bytes */
	size_t len;
};

struct bootstrap {
	struct event_base *base;
	const struct bootstrap_ops *ops;
	void *ctx;
	pid_t pid; /* 0 when not running */
	bool paused;
	struct bootstrap_stream out[2];
};

int bootstrap_init(struct bootstrap *b, struct event_base *base, const struct bootstrap_ops *ops,
		   void *ctx);
int bootstrap_start(struct bootstrap *b, const char *path, char *const envp[]);
void bootstrap_drain(struct bootstrap *b);
void bootstrap_pause(struct bootstrap *b, bool pause);
void bootstrap_reap(struct bootstrap *b);
/* Kills every WORLD_UID process (the bootstrap's exit then arrives via reap). */
void bootstrap_kill(void);
/* The number of WORLD_UID processes (zombies too): a /proc scan. */
unsigned bootstrap_count(void);
void bootstrap_mem_reset(void);
uint64_t bootstrap_mem_peak(void);

#endif
