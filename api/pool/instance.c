/* instance: one ember-vmm once spawned: its console lines, timers, state transitions, stopping and reaping. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "api/pool/pool_priv.h"
#include "lib/util/log.h"

uint64_t pool_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double ms_between(uint64_t from, uint64_t to)
{
	return from != 0 && to >= from ? (double)(to - from) / 1e6 : 0;
}

void pool_phases_of(const struct instance *inst, struct pool_phases *ph)
{
	uint64_t vm_from = inst->restore ? inst->t_api_ns : inst->t_spawn_ns;

	*ph = (struct pool_phases){
		.spawn_ms = inst->restore ? ms_between(inst->t_spawn_ns, inst->t_api_ns) : 0,
		.vm_ms = ms_between(vm_from, inst->t_vm_ns),
		.connect_ms = ms_between(inst->t_vm_ns, inst->t_connected_ns),
		.init_ms = ms_between(inst->t_connected_ns, inst->t_ready_ns),
		.total_ms = ms_between(inst->t_spawn_ns, inst->t_ready_ns),
		.standby = inst->from_standby,
	};
}

uint64_t inst_memory_mib(const struct fn *fn)
{
	return (uint64_t)fn->memory_mib + POOL_OVERHEAD_MIB;
}

void inst_set_state(struct instance *inst, enum inst_state to)
{
	enum inst_state from = inst->state;

	inst->state = to;
	pool_inst_state(inst, from, to);
}

void inst_arm(struct instance *inst, unsigned seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	evtimer_add(inst->timer, &tv);
}

/* ---- the console and the VMM's log: kept as a tail, scanned for events ---- */

static void tail_add(struct instance *inst, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		inst->tail[inst->tail_pos++] = s[i];
		if (inst->tail_pos == sizeof(inst->tail)) {
			inst->tail_pos = 0;
			inst->tail_wrapped = true;
		}
	}
}

/* The tail as text safe for a log line or a JSON string: whole lines only,
 * control bytes (but newlines) and non-ASCII shown as '?'. */
void inst_console_tail(const struct instance *inst, char *out, size_t cap)
{
	size_t n = 0, start = inst->tail_wrapped ? inst->tail_pos : 0;
	size_t len = inst->tail_wrapped ? sizeof(inst->tail) : inst->tail_pos;
	size_t skip = len + 1 > cap ? len + 1 - cap : 0;
	bool at_line = skip == 0 && !inst->tail_wrapped;

	for (size_t i = skip; i < len; i++) {
		char c = inst->tail[(start + i) % sizeof(inst->tail)];

		if (!at_line) {
			at_line = c == '\n';
			continue;
		}
		out[n++] = c == '\n' || (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	while (n > 0 && out[n - 1] == '\n')
		n--;
	out[n] = '\0';
}

static void on_line(struct instance *inst, bool is_err, const char *line, size_t len)
{
	/* The jailer opens --netns before it prints anything or runs the VMM. */
	pool_netns_drop(inst);
	tail_add(inst, line, len);
	tail_add(inst, "\n", 1);
	if ((inst->state != INST_STARTING && inst->state != INST_STANDBY) || inst->bev != NULL)
		return;
	if (inst->state == INST_STANDBY) {
		if (is_err && memmem(line, len, POOL_API_LISTENING, strlen(POOL_API_LISTENING)))
			pool_standby_api_ready(inst);
		return;
	}
	/* A guest could print the cold marker early; that only connects sooner
	 * and fails its own start. The VMM's line cannot come from the guest. */
	if (!inst->restore && !is_err &&
	    memmem(line, len, POOL_READY_COLD, strlen(POOL_READY_COLD)) != NULL) {
		inst->t_vm_ns = pool_now_ns();
		inst_connect(inst);
	} else if (inst->restore && is_err &&
		   memmem(line, len, POOL_READY_RESTORE, strlen(POOL_READY_RESTORE)) != NULL) {
		inst->t_vm_ns = pool_now_ns();
		inst_connect(inst);
	} else if (inst->restore && is_err && !inst->load_sent &&
		   memmem(line, len, POOL_API_LISTENING, strlen(POOL_API_LISTENING)) != NULL) {
		int ret;

		inst->t_api_ns = pool_now_ns();
		ret = snap_load(inst);
		inst->load_sent = true;
		if (ret < 0)
			inst_fail(inst, "loading the snapshot: %s", strerror(-ret));
	}
}

static void feed_lines(struct instance *inst, bool is_err, const char *buf, size_t n)
{
	struct linebuf *lb = is_err ? &inst->err_line : &inst->out_line;

	for (size_t i = 0; i < n && inst->state != INST_GONE; i++) {
		char c = buf[i];

		if (c == '\n') {
			if (!lb->cut)
				on_line(inst, is_err, lb->buf, lb->len);
			lb->len = 0;
			lb->cut = false;
		} else if (c != '\r' && !lb->cut) {
			if (lb->len == sizeof(lb->buf)) {
				on_line(inst, is_err, lb->buf, lb->len);
				lb->cut = true;
			} else {
				lb->buf[lb->len++] = c;
			}
		}
	}
}

/* Reads what the pipe has; false at its end (or on an error). */
static bool drain_pipe(struct instance *inst, int fd, bool is_err)
{
	char buf[4096];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n > 0) {
			feed_lines(inst, is_err, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN;
	}
}

static void on_pipe(evutil_socket_t fd, short what, void *arg)
{
	struct instance *inst = arg;
	bool is_err = fd == inst->err_fd;

	(void)what;
	if (!drain_pipe(inst, fd, is_err))
		event_del(is_err ? inst->err_ev : inst->out_ev); /* closed at gone */
}

/* ---- transitions ---- */

void inst_to_snapshotting(struct instance *inst)
{
	inst_set_state(inst, INST_SNAPSHOTTING);
	inst_arm(inst, POOL_SNAPSHOT_TIMEOUT_S);
}

void inst_to_idle(struct instance *inst)
{
	/* keep_warm_s 0: stopped as soon as it is idle (every start is then a
	 * cold start or a restore, as a benchmark of them needs). */
	inst_set_state(inst, INST_IDLE);
	inst_arm(inst, inst->pool->set->keep_warm_s);
}

void inst_run(struct instance *inst, struct pool_job *job)
{
	static uint64_t next_req_id;

	inst->job = job;
	job->inst = inst;
	inst->req_id = ++next_req_id;
	inst_set_state(inst, INST_BUSY);
}

void inst_arm_deadline(struct instance *inst)
{
	/* From now, not from the loop's cached time (this turn's start): the
	 * invocation's clock started as INVOKE went, and the deadline may not
	 * come before Timeout has passed on it (a REPORT of 2999.87 ms). */
	event_base_update_cache_time(inst->pool->set->base);
	inst_arm(inst, inst->job->fn->timeout_s);
}

static void free_inst(struct instance *inst)
{
	if (inst->snap_job || inst->load_job || inst->disk_job) {
		inst->free_after_job = true; /* snapshot.c or load.c frees it in done() */
		return;
	}
	free(inst);
}

/* The process is reaped: release everything and tell the pool. */
static void to_gone(struct instance *inst)
{
	/* The last console lines say why a VM ended: take them first. */
	if (inst->out_fd >= 0)
		drain_pipe(inst, inst->out_fd, false);
	if (inst->err_fd >= 0)
		drain_pipe(inst, inst->err_fd, true);
	if (inst->bev != NULL)
		bufferevent_free(inst->bev);
	inst->bev = NULL;
	gproto_reader_free(&inst->rd);
	event_free(inst->timer);
	if (inst->log_ev != NULL)
		event_free(inst->log_ev);
	inst->log_ev = NULL;
	event_free(inst->pid_ev);
	event_free(inst->out_ev);
	event_free(inst->err_ev);
	close(inst->pidfd);
	close(inst->out_fd);
	close(inst->err_fd);
	inst->out_fd = inst->err_fd = inst->pidfd = -1;
	pool_netns_drop(inst);
	/* Killed for its memory limit: that is what its job's error must say,
	 * whatever noticed the end first (the vsock connection, the pidfd). */
	if (inst->exited && WIFSIGNALED(inst->status) && pool_jail_oom_killed(inst))
		snprintf(inst->why, sizeof(inst->why),
			 "ember-vmm was killed by the kernel: over its memory limit (its cgroup's "
			 "memory.max, %llu MiB, for MemorySize %u MiB)",
			 (unsigned long long)pool_jail_memory_max_mib(inst),
			 inst->pool->fn->memory_mib);
	inst_remove_dir(inst->dir);
	pool_jail_release(inst);
	inst_set_state(inst, INST_GONE);
	pool_inst_gone(inst);
	free_inst(inst);
}

static void signal_vmm(struct instance *inst, int sig)
{
	if (inst->exited)
		return;
	/* A pidfd names this very process, never a recycled pid. */
	if (pidfd_send_signal(inst->pidfd, sig, NULL, 0) < 0 && errno != ESRCH)
		log_warn("instance %s: signal %d: %s", inst->id, sig, strerror(errno));
}

void inst_stop(struct instance *inst, enum inst_stop how, const char *why)
{
	struct timeval now = { 0, 0 };

	if (inst->state == INST_GONE)
		return;
	if (inst->state == INST_DRAINING) {
		if (how == STOP_KILL)
			signal_vmm(inst, SIGKILL);
		return;
	}
	if (why != NULL && inst->why[0] == '\0')
		snprintf(inst->why, sizeof(inst->why), "%s", why);
	if (inst->bev != NULL)
		bufferevent_free(inst->bev);
	inst->bev = NULL;
	inst_set_state(inst, INST_DRAINING);
	if (inst->exited) {
		evtimer_add(inst->timer, &now); /* gone on the next loop turn */
		return;
	}
	if (how == STOP_TERM)
		signal_vmm(inst, SIGTERM);
	else if (how == STOP_KILL)
		signal_vmm(inst, SIGKILL);
	inst_arm(inst, POOL_STOP_GRACE_S);
}

/* Something went wrong with this instance: tell the pool, then stop it. */
void inst_fail(struct instance *inst, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	switch (inst->state) {
	case INST_STARTING:
	case INST_INITIALIZING:
	case INST_RESTORING:
	case INST_SNAPSHOTTING:
		pool_inst_start_failed(inst, why, NULL, NULL, 0);
		inst_stop(inst, STOP_KILL, why);
		return;
	case INST_BUSY:
		/* The job fails when the process is gone, with its exit status. */
		log_ratelimited(LOG_WARN, "instance %s: %s", inst->id, why);
		inst_stop(inst, STOP_WAIT, why);
		return;
	case INST_STANDBY:
		log_ratelimited(LOG_WARN, "instance %s (standby): %s", inst->id, why);
		inst_stop(inst, STOP_KILL, why);
		return;
	case INST_IDLE:
		log_ratelimited(LOG_WARN, "instance %s (idle): %s", inst->id, why);
		inst_stop(inst, STOP_KILL, why);
		return;
	default:
		return;
	}
}

static void on_pid(evutil_socket_t fd, short what, void *arg)
{
	struct instance *inst = arg;
	int status = 0;
	pid_t r;

	(void)fd, (void)what;
	do
		r = waitpid(inst->pid, &status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return; /* not yet (a pidfd is readable only at exit; be safe) */
	inst->exited = true;
	inst->status = r > 0 ? status : 0;
	if (inst->state != INST_DRAINING) {
		if (WIFSIGNALED(status) && pool_jail_oom_killed(inst))
			inst_fail(inst,
				  "ember-vmm was killed by the kernel: over its memory limit");
		else if (WIFSIGNALED(status))
			inst_fail(inst, "ember-vmm was killed by signal %d", WTERMSIG(status));
		else
			inst_fail(inst, "ember-vmm exited with status %d", WEXITSTATUS(status));
	}
	to_gone(inst);
}

void inst_finish(struct instance *inst)
{
	int status = 0;

	if (inst->state == INST_GONE)
		return;
	if (!inst->exited) {
		signal_vmm(inst, SIGKILL);
		while (waitpid(inst->pid, &status, 0) < 0 && errno == EINTR)
			;
		inst->exited = true;
		inst->status = status;
	}
	if (inst->state != INST_DRAINING)
		inst_stop(inst, STOP_KILL, "emberd is stopping");
	to_gone(inst);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct instance *inst = arg;

	(void)fd, (void)what;
	switch (inst->state) {
	case INST_STARTING:
		inst_fail(inst, "the microVM did not %s within %d s",
			  inst->restore ? "restore" : "boot", POOL_BOOT_TIMEOUT_S);
		return;
	case INST_INITIALIZING:
		inst_fail(inst, "the runtime did not become ready (no READY) in time");
		return;
	case INST_RESTORING:
		inst_fail(inst, "no READY within %d s of RESTORE", POOL_RESTORE_TIMEOUT_S);
		return;
	case INST_SNAPSHOTTING:
		inst_fail(inst, "the snapshot took longer than %d s", POOL_SNAPSHOT_TIMEOUT_S);
		return;
	case INST_IDLE:
		pool_inst_idle_expired(inst);
		return;
	case INST_STANDBY:
		pool_standby_expired(inst);
		return;
	case INST_BUSY:
		pool_inst_deadline(inst);
		return;
	case INST_DRAINING:
		if (inst->exited) {
			to_gone(inst);
		} else {
			log_warn("instance %s: still running %d s after it was told to stop; "
				 "SIGKILL",
				 inst->id, POOL_STOP_GRACE_S);
			signal_vmm(inst, SIGKILL);
		}
		return;
	case INST_GONE:
		return;
	}
}

/* The events of a freshly spawned instance; it is then starting (or on standby). */
int inst_attach(struct instance *inst, bool standby)
{
	struct event_base *base = inst->pool->set->base;

	inst->pid_ev = event_new(base, inst->pidfd, EV_READ, on_pid, inst);
	inst->out_ev = event_new(base, inst->out_fd, EV_READ | EV_PERSIST, on_pipe, inst);
	inst->err_ev = event_new(base, inst->err_fd, EV_READ | EV_PERSIST, on_pipe, inst);
	inst->timer = evtimer_new(base, on_timer, inst);
	if (inst->pid_ev == NULL || inst->out_ev == NULL || inst->err_ev == NULL ||
	    inst->timer == NULL || event_add(inst->pid_ev, NULL) < 0 ||
	    event_add(inst->out_ev, NULL) < 0 || event_add(inst->err_ev, NULL) < 0) {
		if (inst->timer)
			event_free(inst->timer);
		if (inst->pid_ev)
			event_free(inst->pid_ev);
		if (inst->out_ev)
			event_free(inst->out_ev);
		if (inst->err_ev)
			event_free(inst->err_ev);
		return -ENOMEM;
	}
	inst_set_state(inst, standby ? INST_STANDBY : INST_STARTING);
	inst_arm(inst, POOL_BOOT_TIMEOUT_S);
	return 0;
}
