/* instance: one ember-vmm and its guest once spawned: console lines, the vsock connection, frames, timers and state transitions. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "api/pool/pool_priv.h"
#include "lib/hvsock/hvsock.h"
#include "lib/util/log.h"

static void on_frame(struct instance *inst, const struct gproto_msg *m);
static void inst_fail(struct instance *inst, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

uint64_t pool_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t inst_memory_mib(const struct fn *fn)
{
	return (uint64_t)fn->memory_mib + POOL_OVERHEAD_MIB;
}

static void set_state(struct instance *inst, enum inst_state to)
{
	enum inst_state from = inst->state;

	inst->state = to;
	pool_inst_state(inst, from, to);
}

static void arm(struct instance *inst, unsigned seconds)
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

static void do_connect(struct instance *inst);

static void on_line(struct instance *inst, bool is_err, const char *line, size_t len)
{
	tail_add(inst, line, len);
	tail_add(inst, "\n", 1);
	if (inst->state != INST_STARTING || inst->bev != NULL)
		return;
	/* A guest could print the cold marker early; that only connects sooner
	 * and fails its own start. The VMM's line cannot come from the guest. */
	if (!inst->restore && !is_err &&
	    memmem(line, len, POOL_READY_COLD, strlen(POOL_READY_COLD)) != NULL)
		do_connect(inst);
	else if (inst->restore && is_err &&
		 memmem(line, len, POOL_READY_RESTORE, strlen(POOL_READY_RESTORE)) != NULL)
		do_connect(inst);
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

/* ---- the vsock connection ---- */

static struct gproto_str str(const char *s)
{
	return (struct gproto_str){ s, (uint32_t)strlen(s) };
}

/* arn:aws:lambda:<region>:<account>:function:<name> */
static void region_of(const char *arn, char *out, size_t cap)
{
	const char *p = arn;

	snprintf(out, cap, "us-east-1");
	for (int i = 0; i < 3 && p != NULL; i++) {
		p = strchr(p, ':');
		if (p != NULL)
			p++;
	}
	if (p != NULL && strchr(p, ':') != NULL && strchr(p, ':') > p)
		snprintf(out, cap, "%.*s", (int)(strchr(p, ':') - p), p);
}

static int send_init(struct instance *inst)
{
	const struct fn *fn = inst->pool->fn;
	static struct gproto_msg m; /* 8 KiB of env slots: not on the stack */
	char region[64], group[FN_NAME_MAX + 16], stream[128], day[16];
	time_t now = time(NULL);
	struct tm tm;

	memset(&m, 0, sizeof(m));
	gmtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y/%m/%d", &tm);
	region_of(fn->arn, region, sizeof(region));
	snprintf(group, sizeof(group), "/aws/lambda/%s", fn->name);
	snprintf(stream, sizeof(stream), "%s/[%s]%s%s", day, fn->version, inst->id, inst->id);
	m.type = GPROTO_INIT;
	m.init = (struct gproto_init){
		.function_name = str(fn->name),
		.function_version = str(fn->version),
		.handler = str(fn->handler),
		.runtime = str(fn->runtime),
		.function_arn = str(fn->arn),
		.region = str(region),
		.log_group = str(group),
		.log_stream = str(stream),
		.memory_mib = fn->memory_mib,
		.timeout_ms = fn->timeout_s * 1000u,
		.log_format = GPROTO_LOG_TEXT,
		.env_count = fn->env_count,
	};
	for (unsigned i = 0; i < fn->env_count && i < GPROTO_ENV_MAX; i++) {
		m.init.env[i].key = str(fn->env[i].key);
		m.init.env[i].value = str(fn->env[i].value);
	}
	return inst_send(inst, &m);
}

static int send_restore(struct instance *inst)
{
	struct gproto_msg m = { .type = GPROTO_RESTORE };
	struct timespec ts;

	/* Fresh entropy for every clone: they all start from the same RNG state. */
	if (getrandom(m.restore.entropy, sizeof(m.restore.entropy), 0) !=
	    (ssize_t)sizeof(m.restore.entropy))
		return -EIO;
	clock_gettime(CLOCK_REALTIME, &ts);
	m.restore.wall_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	m.restore.instance_id = str(inst->id);
	return inst_send(inst, &m);
}

/* The handshake is done: INIT (cold) or RESTORE, then wait for READY. */
static void to_initializing_or_restoring(struct instance *inst)
{
	const struct fn *fn = inst->pool->fn;
	int ret;

	if (inst->restore) {
		ret = send_restore(inst);
		if (ret < 0) {
			inst_fail(inst, "sending RESTORE: %s", strerror(-ret));
			return;
		}
		set_state(inst, INST_RESTORING);
		arm(inst, POOL_RESTORE_TIMEOUT_S);
		return;
	}
	ret = send_init(inst);
	if (ret < 0) {
		inst_fail(inst, "sending INIT: %s", strerror(-ret));
		return;
	}
	set_state(inst, INST_INITIALIZING);
	arm(inst, fn->timeout_s > POOL_INIT_TIMEOUT_S ? fn->timeout_s : POOL_INIT_TIMEOUT_S);
}

static void process_frames(struct instance *inst)
{
	struct gproto_frame f;
	static struct gproto_msg m;
	const char *why = NULL;
	int r;

	while (inst->bev != NULL && (r = gproto_reader_next(&inst->rd, &f)) != 0) {
		if (r < 0) {
			inst_fail(inst, "malformed frame from the guest: %s",
				  inst->rd.why ? inst->rd.why : strerror(-r));
			return;
		}
		r = gproto_decode(&f.hdr, f.body, &m, &why);
		if (r < 0) {
			inst_fail(inst, "malformed %s frame from the guest: %s",
				  gproto_type_name(f.hdr.type), why ? why : strerror(-r));
			return;
		}
		on_frame(inst, &m);
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct instance *inst = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (!inst->handshaken) {
		size_t len = evbuffer_get_length(in), used = 0;
		size_t n = len < HVSOCK_REPLY_MAX ? len : HVSOCK_REPLY_MAX;
		uint32_t port;
		int r = hvsock_parse_reply(evbuffer_pullup(in, (ssize_t)n), n, &port, &used);

		if (r < 0) {
			inst_fail(inst, "vsock handshake: not an \"OK <port>\" reply");
			return;
		}
		if (r == 0)
			return;
		evbuffer_drain(in, used);
		inst->handshaken = true;
		to_initializing_or_restoring(inst);
	}
	/* Feed the framer chunk by chunk; it holds at most one frame (bounded by
	 * gproto_frame_max) and takes more once its frames are handled. */
	while (inst->bev != NULL && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		ssize_t n;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		n = gproto_reader_feed(&inst->rd, v.iov_base, v.iov_len);
		if (n < 0) {
			inst_fail(inst, "from the guest: %s", inst->rd.why ? inst->rd.why : "?");
			return;
		}
		evbuffer_drain(in, (size_t)n);
		process_frames(inst);
		if (n == 0 && inst->bev != NULL && !gproto_reader_pending(&inst->rd))
			break;
	}
	/* Between frames the framer needs no buffer: an idle instance then
	 * holds none (its 64 KiB would be most of an instance's memory). */
	if (inst->bev != NULL && !gproto_reader_pending(&inst->rd))
		gproto_reader_free(&inst->rd);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct instance *inst = arg;

	(void)bev;
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	/* A clone's first host connection gets the host port that the
	 * snapshot's live connection had (the VMM numbers them from the same
	 * start), and the guest may still hold that old socket, reset but not
	 * yet closed by ember-init: Linux answers the REQUEST with RST. The
	 * next connection has the next port. */
	if (!inst->handshaken && inst->restore && inst->connect_tries < POOL_CONNECT_TRIES) {
		bufferevent_free(inst->bev);
		inst->bev = NULL;
		gproto_reader_free(&inst->rd);
		do_connect(inst);
		return;
	}
	if (!inst->handshaken)
		inst_fail(inst, "vsock: CONNECT %u refused (nobody listens in the guest)",
			  GPROTO_PORT);
	else
		inst_fail(inst, "the guest closed its connection%s",
			  what & BEV_EVENT_ERROR ? " (error)" : "");
}

static void do_connect(struct instance *inst)
{
	struct pool_set *s = inst->pool->set;
	char path[PATH_MAX];
	int fd = -1, ret;

	snprintf(path, sizeof(path), "%s/%s", inst->dir, POOL_VSOCK_SOCK);
	inst->connect_tries++;
	ret = hvsock_start(path, GPROTO_PORT, &fd);
	if (ret < 0) {
		inst_fail(inst, "vsock connect %s: %s", path, strerror(-ret));
		return;
	}
	inst->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (inst->bev == NULL) {
		close(fd);
		inst_fail(inst, "out of memory");
		return;
	}
	gproto_reader_init(&inst->rd, GPROTO_FROM_GUEST);
	bufferevent_setcb(inst->bev, on_read, NULL, on_event, inst);
	bufferevent_enable(inst->bev, EV_READ);
}

int inst_send(struct instance *inst, const struct gproto_msg *m)
{
	struct evbuffer *out;
	struct evbuffer_iovec v;
	const char *why = NULL;
	size_t len = 0;
	int ret;

	if (inst->bev == NULL)
		return -ENOTCONN;
	ret = gproto_encode(m, NULL, 0, &len, &why);
	if (ret != -EMSGSIZE) {
		log_err("instance %s: cannot encode %s: %s", inst->id, gproto_type_name(m->type),
			why ? why : strerror(-ret));
		return ret < 0 ? ret : -EINVAL;
	}
	out = bufferevent_get_output(inst->bev);
	/* Encode straight into the output buffer: one copy of the payload. */
	if (evbuffer_reserve_space(out, (ssize_t)len, &v, 1) < 1)
		return -ENOMEM;
	ret = gproto_encode(m, v.iov_base, v.iov_len, &len, &why);
	if (ret < 0)
		return ret;
	v.iov_len = len;
	return evbuffer_commit_space(out, &v, 1) < 0 ? -ENOMEM : 0;
}

static void send_pong(struct instance *inst, uint64_t req_id)
{
	struct gproto_msg m = { .type = GPROTO_PONG, .req_id = req_id };

	inst_send(inst, &m);
}

/* Frames before READY, while snapshotting and while idle. */
static void frame_outside_job(struct instance *inst, const struct gproto_msg *m)
{
	struct pool_set *s = inst->pool->set;

	switch (m->type) {
	case GPROTO_LOG:
		s->ops->init_log(s->arg, inst->pool->fn, m->log.line.p, m->log.line.len);
		return;
	case GPROTO_PING:
		send_pong(inst, m->req_id);
		return;
	case GPROTO_PONG:
		return;
	case GPROTO_READY:
		if (inst->state == INST_INITIALIZING || inst->state == INST_RESTORING) {
			inst->t_ready_ns = pool_now_ns();
			evtimer_del(inst->timer);
			pool_inst_ready(inst);
		}
		return; /* a READY when idle or snapshotting changes nothing */
	case GPROTO_INIT_ERROR:
		if (inst->state == INST_INITIALIZING || inst->state == INST_RESTORING) {
			pool_inst_start_failed(inst, "the runtime's init failed",
					       m->error.error_type.s, m->error.body.p,
					       m->error.body.len);
			inst_stop(inst, STOP_KILL, "init error");
		} else {
			inst_stop(inst, STOP_KILL, "init error after a runtime restart");
		}
		return;
	default:
		inst_fail(inst, "unexpected %s frame from the guest (instance %s)",
			  gproto_type_name(m->type),
			  inst->state == INST_IDLE ? "idle" : "not ready yet");
		return;
	}
}

static void on_frame(struct instance *inst, const struct gproto_msg *m)
{
	switch (inst->state) {
	case INST_INITIALIZING:
	case INST_RESTORING:
	case INST_SNAPSHOTTING:
	case INST_IDLE:
		frame_outside_job(inst, m);
		return;
	case INST_BUSY:
		break;
	default:
		return; /* draining: nothing matters any more */
	}
	switch (m->type) {
	case GPROTO_LOG:
		if (m->req_id == 0) {
			frame_outside_job(inst, m);
			return;
		}
		break;
	case GPROTO_STATS:
	case GPROTO_RESULT:
	case GPROTO_ERROR:
		break;
	case GPROTO_PING:
	case GPROTO_PONG:
	case GPROTO_READY:
		frame_outside_job(inst, m);
		return;
	default:
		inst_fail(inst, "unexpected %s frame from the guest during an invocation",
			  gproto_type_name(m->type));
		return;
	}
	if (m->req_id != inst->req_id) {
		inst_fail(inst, "%s frame for request %llu, not the running one",
			  gproto_type_name(m->type), (unsigned long long)m->req_id);
		return;
	}
	pool_inst_job_frame(inst, m);
}

/* ---- transitions ---- */

void inst_to_snapshotting(struct instance *inst)
{
	set_state(inst, INST_SNAPSHOTTING);
	arm(inst, POOL_SNAPSHOT_TIMEOUT_S);
}

void inst_to_idle(struct instance *inst)
{
	/* keep_warm_s 0: stopped as soon as it is idle (every start is then a
	 * cold start or a restore, as a benchmark of them needs). */
	set_state(inst, INST_IDLE);
	arm(inst, inst->pool->set->keep_warm_s);
}

void inst_run(struct instance *inst, struct pool_job *job)
{
	static uint64_t next_req_id;

	inst->job = job;
	job->inst = inst;
	inst->req_id = ++next_req_id;
	set_state(inst, INST_BUSY);
	arm(inst, job->fn->timeout_s); /* the deadline */
}

static void free_inst(struct instance *inst)
{
	if (inst->snap_job) {
		inst->free_after_job = true; /* snapshot.c frees it in done() */
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
	event_free(inst->pid_ev);
	event_free(inst->out_ev);
	event_free(inst->err_ev);
	close(inst->pidfd);
	close(inst->out_fd);
	close(inst->err_fd);
	inst->out_fd = inst->err_fd = inst->pidfd = -1;
	inst_remove_dir(inst->dir);
	set_state(inst, INST_GONE);
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
	set_state(inst, INST_DRAINING);
	if (inst->exited) {
		evtimer_add(inst->timer, &now); /* gone on the next loop turn */
		return;
	}
	if (how == STOP_TERM)
		signal_vmm(inst, SIGTERM);
	else if (how == STOP_KILL)
		signal_vmm(inst, SIGKILL);
	arm(inst, POOL_STOP_GRACE_S);
}

/* Something went wrong with this instance: tell the pool, then stop it. */
static void inst_fail(struct instance *inst, const char *fmt, ...)
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
		if (WIFSIGNALED(status))
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

/* The events of a freshly spawned instance; it is then starting. */
int inst_attach(struct instance *inst)
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
	set_state(inst, INST_STARTING);
	arm(inst, POOL_BOOT_TIMEOUT_S);
	return 0;
}
