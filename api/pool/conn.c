/* conn: an instance's vsock connection to its guest: the handshake, INIT or RESTORE, frames in and out. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "api/pool/pool_priv.h"
#include "lib/hvsock/hvsock.h"
#include "lib/util/log.h"

static void on_frame(struct instance *inst, const struct gproto_msg *m);

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

	inst->t_connected_ns = pool_now_ns();
	if (inst->restore) {
		ret = send_restore(inst);
		if (ret < 0) {
			inst_fail(inst, "sending RESTORE: %s", strerror(-ret));
			return;
		}
		inst_set_state(inst, INST_RESTORING);
		inst_arm(inst, POOL_RESTORE_TIMEOUT_S);
		return;
	}
	ret = send_init(inst);
	if (ret < 0) {
		inst_fail(inst, "sending INIT: %s", strerror(-ret));
		return;
	}
	inst_set_state(inst, INST_INITIALIZING);
	inst_arm(inst, fn->timeout_s > POOL_INIT_TIMEOUT_S ? fn->timeout_s : POOL_INIT_TIMEOUT_S);
}

/* Why a log budget: each log line costs emberd a frame to decode and a
 * write to the function's log, on the loop that serves every other
 * instance, so a function that floods its stdout would slow them all. Over
 * budget, emberd stops reading the instance's connection until it has
 * earned more: the guest's vsock buffers fill and the function's writes
 * block, as they would on a slow terminal. Nothing is dropped; frames
 * keep their order (a RESULT after a flood waits its turn). */
static void on_log_resume(evutil_socket_t fd, short what, void *arg);

static void log_pause(struct instance *inst)
{
	struct pool_set *s = inst->pool->set;
	double wait_s = -inst->log_units / POOL_LOG_RATE;
	struct timeval tv = { (time_t)wait_s, (suseconds_t)((wait_s - (time_t)wait_s) * 1e6) + 1 };

	if (inst->log_ev == NULL)
		inst->log_ev = evtimer_new(s->base, on_log_resume, inst);
	if (inst->log_ev == NULL || evtimer_add(inst->log_ev, &tv) < 0)
		return; /* out of memory: no budget then, rather than no reading */
	inst->log_paused = true;
	bufferevent_disable(inst->bev, EV_READ);
}

/* Charges one log line; false once the instance is over its budget. */
static bool log_charge(struct instance *inst, size_t len)
{
	uint64_t now = pool_now_ns();
	double units = inst->log_units + (double)(now - inst->log_ns) * 1e-9 * POOL_LOG_RATE;

	inst->log_units = units > POOL_LOG_RATE ? POOL_LOG_RATE : units;
	inst->log_ns = now;
	inst->log_units -= 1.0 + (double)(len >> 10);
	return inst->log_units >= 0;
}

static void process_frames(struct instance *inst)
{
	struct gproto_frame f;
	static struct gproto_msg m;
	const char *why = NULL;
	int r;

	while (inst->bev != NULL && !inst->log_paused &&
	       (r = gproto_reader_next(&inst->rd, &f)) != 0) {
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
		if (m.type == GPROTO_LOG && !log_charge(inst, m.log.line.len) && inst->bev != NULL)
			log_pause(inst); /* after this frame */
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
	process_frames(inst); /* (what a log pause left in it) */
	while (inst->bev != NULL && !inst->log_paused && evbuffer_get_length(in) > 0) {
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

static void on_log_resume(evutil_socket_t fd, short what, void *arg)
{
	struct instance *inst = arg;

	(void)fd, (void)what;
	inst->log_paused = false;
	if (inst->bev == NULL)
		return;
	bufferevent_enable(inst->bev, EV_READ);
	on_read(inst->bev, inst);
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
		inst_connect(inst);
		return;
	}
	if (!inst->handshaken)
		inst_fail(inst, "vsock: CONNECT %u refused (nobody listens in the guest)",
			  GPROTO_PORT);
	else
		inst_fail(inst, "the guest closed its connection%s",
			  what & BEV_EVENT_ERROR ? " (error)" : "");
}

void inst_connect(struct instance *inst)
{
	struct pool_set *s = inst->pool->set;
	char path[PATH_MAX];
	int fd = -1, ret;

	snprintf(path, sizeof(path), "%s/%s", inst->root, POOL_VSOCK_SOCK);
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
	inst->log_units = POOL_LOG_RATE;
	inst->log_ns = pool_now_ns();
	inst->log_paused = false;
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
