/* instance: one ember-vmm and its guest: spawn, console lines, the vsock connection, frames, timers and state transitions. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "api/pool/pool_priv.h"
#include "lib/fcapi/schema.h"
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
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct instance *inst = arg;

	(void)bev;
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
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
	set_state(inst, INST_IDLE);
	if (inst->pool->set->keep_warm_s > 0)
		arm(inst, inst->pool->set->keep_warm_s);
	else
		evtimer_del(inst->timer);
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

static void remove_dir(const char *dir)
{
	static const char *const names[] = { POOL_API_SOCK, POOL_VSOCK_SOCK, POOL_VM_CONFIG };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	if (rmdir(dir) < 0 && errno != ENOENT)
		log_warn("instance folder %s: %s", dir, strerror(errno));
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
	if (inst->handshaken || inst->rd.buf != NULL)
		gproto_reader_free(&inst->rd);
	event_free(inst->timer);
	event_free(inst->pid_ev);
	event_free(inst->out_ev);
	event_free(inst->err_ev);
	close(inst->pidfd);
	close(inst->out_fd);
	close(inst->err_fd);
	inst->out_fd = inst->err_fd = inst->pidfd = -1;
	remove_dir(inst->dir);
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

/* ---- spawn ---- */

static int write_config(struct instance *inst)
{
	const struct pool_set *s = inst->pool->set;
	const struct fn *fn = inst->pool->fn;
	struct vm_config *cfg = malloc(sizeof(*cfg));
	char err[CONFIG_ERR_LEN], path[PATH_MAX];
	char *json = NULL;
	unsigned vcpus = (fn->memory_mib + POOL_LAMBDA_VCPU_MIB - 1) / POOL_LAMBDA_VCPU_MIB;
	int ret = -ENOMEM, fd;

	if (cfg == NULL)
		return -ENOMEM;
	config_init(cfg);
	if (snprintf(cfg->boot_source.kernel_image_path, PATH_MAX, "%s", s->kernel) >= PATH_MAX ||
	    snprintf(cfg->boot_source.initrd_path, PATH_MAX, "%s", s->initrd) >= PATH_MAX ||
	    snprintf(cfg->boot_source.boot_args, CONFIG_CMDLINE_MAX, "%s ember.lambda=1%s%s",
		     CONFIG_DEFAULT_CMDLINE, s->guest_args[0] ? " " : "",
		     s->guest_args) >= CONFIG_CMDLINE_MAX) {
		ret = -ENAMETOOLONG;
		goto out;
	}
	cfg->machine.mem_size_mib = fn->memory_mib;
	cfg->machine.vcpu_count = vcpus < 1 ? 1 : vcpus > POOL_MAX_VCPUS ? POOL_MAX_VCPUS : vcpus;
	cfg->ndrives = 2;
	snprintf(cfg->drives[0].drive_id, CONFIG_DRIVE_ID_LEN, "runtime");
	snprintf(cfg->drives[0].path_on_host, PATH_MAX, "%s", fn->runtime_image);
	cfg->drives[0].is_read_only = true;
	snprintf(cfg->drives[1].drive_id, CONFIG_DRIVE_ID_LEN, "code");
	snprintf(cfg->drives[1].path_on_host, PATH_MAX, "%s", fn->code_image);
	cfg->drives[1].is_read_only = true;
	cfg->vsock.enabled = true;
	cfg->vsock.guest_cid = CONFIG_VSOCK_CID_MIN;
	snprintf(cfg->vsock.vsock_id, sizeof(cfg->vsock.vsock_id), "vsock");
	snprintf(cfg->vsock.uds_path, sizeof(cfg->vsock.uds_path), "%s", POOL_VSOCK_SOCK);
	ret = config_validate(cfg, err, sizeof(err));
	if (ret < 0) {
		log_err("instance %s: configuration: %s", inst->id, err);
		goto out;
	}
	json = schema_vm_config_to_json(cfg);
	if (json == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", inst->dir, POOL_VM_CONFIG);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	ret = write(fd, json, strlen(json)) == (ssize_t)strlen(json) ? 0 : -EIO;
	close(fd);
out:
	free(json);
	free(cfg);
	return ret;
}

static int make_id(char *id)
{
	uint8_t b[POOL_ID_LEN / 2];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -EIO;
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(id + 2 * i, 3, "%02x", b[i]);
	return 0;
}

/* posix_spawn ember-vmm in the instance folder, stdout and stderr to pipes. */
static int spawn_vmm(struct instance *inst, int out_w, int err_w)
{
	const struct pool_set *s = inst->pool->set;
	char restore[2 * PATH_MAX + 2], state[PATH_MAX], mem[PATH_MAX];
	char *argv[12];
	char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int argc = 0, ret, devnull;

	argv[argc++] = (char *)s->vmm;
	argv[argc++] = "--api-sock";
	argv[argc++] = POOL_API_SOCK;
	argv[argc++] = "--id";
	argv[argc++] = inst->id;
	if (inst->restore) {
		snap_state_path(inst->pool->snap_dir, state, sizeof(state));
		snap_mem_path(inst->pool->snap_dir, mem, sizeof(mem));
		snprintf(restore, sizeof(restore), "%s,%s", state, mem);
		argv[argc++] = "--restore";
		argv[argc++] = restore;
	} else {
		argv[argc++] = "--config-file";
		argv[argc++] = POOL_VM_CONFIG;
	}
	/* At debug level ember-vmm says "ready to run" once a restore is done. */
	argv[argc++] = "--log-level";
	argv[argc++] = "debug";
	argv[argc] = NULL;
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0)
		return -errno;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* Its own session (a Ctrl-C at emberd's terminal is emberd's to
	 * handle), no inherited signal mask or ignored signals. */
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	ret = posix_spawn_file_actions_addchdir_np(&fa, inst->dir);
	if (ret == 0)
		ret = posix_spawn_file_actions_adddup2(&fa, devnull, 0);
	if (ret == 0)
		ret = posix_spawn_file_actions_adddup2(&fa, out_w, 1);
	if (ret == 0)
		ret = posix_spawn_file_actions_adddup2(&fa, err_w, 2);
	if (ret == 0)
		ret = posix_spawn(&inst->pid, s->vmm, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(devnull);
	return -ret;
}

int inst_spawn(struct pool *p, bool restore, struct instance **out)
{
	struct pool_set *s = p->set;
	struct instance *inst = calloc(1, sizeof(*inst));
	int out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 };
	int ret;

	if (inst == NULL)
		return -ENOMEM;
	inst->pool = p;
	inst->restore = restore;
	inst->fresh = true;
	inst->pidfd = inst->out_fd = inst->err_fd = -1;
	inst->state = INST_NSTATES; /* new: counted nowhere yet */
	ret = make_id(inst->id);
	if (ret < 0)
		goto err_free;
	if (snprintf(inst->dir, sizeof(inst->dir), "%s/run/%s", s->home, inst->id) >=
	    (int)sizeof(inst->dir)) {
		ret = -ENAMETOOLONG; /* pool_set_new() checked it */
		goto err_free;
	}
	if (mkdir(inst->dir, 0700) < 0) {
		ret = -errno;
		log_err("instance folder %s: %s", inst->dir, strerror(errno));
		goto err_free;
	}
	if (!restore) {
		ret = write_config(inst);
		if (ret < 0)
			goto err_dir;
	}
	if (pipe2(out_p, O_CLOEXEC) < 0 || pipe2(err_p, O_CLOEXEC) < 0) {
		ret = -errno;
		goto err_pipes;
	}
	/* Only emberd's ends are non-blocking: the VMM's console blocks as usual. */
	fcntl(out_p[0], F_SETFL, O_NONBLOCK);
	fcntl(err_p[0], F_SETFL, O_NONBLOCK);
	inst->t_spawn_ns = pool_now_ns();
	ret = spawn_vmm(inst, out_p[1], err_p[1]);
	close(out_p[1]);
	close(err_p[1]);
	out_p[1] = err_p[1] = -1;
	if (ret < 0) {
		log_err("spawning %s: %s", s->vmm, strerror(-ret));
		goto err_pipes;
	}
	inst->out_fd = out_p[0];
	inst->err_fd = err_p[0];
	inst->pidfd = pidfd_open(inst->pid, 0);
	if (inst->pidfd < 0) {
		ret = -errno;
		kill(inst->pid, SIGKILL);
		waitpid(inst->pid, NULL, 0);
		goto err_fds;
	}
	inst->pid_ev = event_new(s->base, inst->pidfd, EV_READ, on_pid, inst);
	inst->out_ev = event_new(s->base, inst->out_fd, EV_READ | EV_PERSIST, on_pipe, inst);
	inst->err_ev = event_new(s->base, inst->err_fd, EV_READ | EV_PERSIST, on_pipe, inst);
	inst->timer = evtimer_new(s->base, on_timer, inst);
	if (inst->pid_ev == NULL || inst->out_ev == NULL || inst->err_ev == NULL ||
	    inst->timer == NULL || event_add(inst->pid_ev, NULL) < 0 ||
	    event_add(inst->out_ev, NULL) < 0 || event_add(inst->err_ev, NULL) < 0) {
		ret = -ENOMEM;
		pidfd_send_signal(inst->pidfd, SIGKILL, NULL, 0);
		waitpid(inst->pid, NULL, 0);
		goto err_events;
	}
	set_state(inst, INST_STARTING);
	arm(inst, POOL_BOOT_TIMEOUT_S);
	*out = inst;
	return 0;

err_events:
	if (inst->timer)
		event_free(inst->timer);
	if (inst->pid_ev)
		event_free(inst->pid_ev);
	if (inst->out_ev)
		event_free(inst->out_ev);
	if (inst->err_ev)
		event_free(inst->err_ev);
	close(inst->pidfd);
err_fds:
	close(inst->out_fd);
	close(inst->err_fd);
	out_p[0] = err_p[0] = -1;
err_pipes:
	for (int i = 0; i < 2; i++) {
		if (out_p[i] >= 0)
			close(out_p[i]);
		if (err_p[i] >= 0)
			close(err_p[i]);
	}
err_dir:
	remove_dir(inst->dir);
err_free:
	free(inst);
	return ret;
}
