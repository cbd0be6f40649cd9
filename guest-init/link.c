/* link: vsock listener, one host connection, gproto framing and frame dispatch (see link.h). */
#include "guest-init/link.h"

#include "lib/gproto/gproto.h"
#include "lib/util/log.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void conn_close(struct link *k, const char *why)
{
	if (k->cfd < 0)
		return;
	log_info("host connection closed: %s", why);
	event_free(k->read_ev);
	event_free(k->write_ev);
	k->read_ev = k->write_ev = NULL;
	close(k->cfd);
	k->cfd = -1;
	gproto_reader_free(&k->rd);
	evbuffer_drain(k->out, evbuffer_get_length(k->out));
	k->ops->pressure(k->ctx, false);
}

static void flush(struct link *k)
{
	size_t queued;

	while (k->cfd >= 0 && evbuffer_get_length(k->out) > 0) {
		int n = evbuffer_write(k->out, k->cfd);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(k->write_ev, NULL);
			break;
		}
		if (n <= 0) {
			conn_close(k, strerror(errno));
			return;
		}
	}
	if (k->cfd >= 0 && evbuffer_get_length(k->out) == 0)
		event_del(k->write_ev);
	queued = k->cfd >= 0 ? evbuffer_get_length(k->out) : 0;
	if (queued > LINK_OUT_HIGH)
		k->ops->pressure(k->ctx, true);
	else if (queued < LINK_OUT_LOW)
		k->ops->pressure(k->ctx, false);
}

bool link_connected(const struct link *k)
{
	return k->cfd >= 0;
}

void link_send(struct link *k, const struct gproto_msg *m)
{
	struct evbuffer_iovec v;
	const char *why = NULL;
	size_t len = 0;
	int r;

	if (k->cfd < 0)
		return;
	r = gproto_encode(m, NULL, 0, &len, &why);
	if (r < 0 && r != -EMSGSIZE) {
		log_err("encode %s: %s", gproto_type_name(m->type), why ? why : strerror(-r));
		return;
	}
	if (evbuffer_reserve_space(k->out, (ev_ssize_t)len, &v, 1) < 1 ||
	    gproto_encode(m, v.iov_base, v.iov_len, &len, &why) < 0) {
		log_err("encode %s: %s", gproto_type_name(m->type), why ? why : "no memory");
		return;
	}
	v.iov_len = len;
	evbuffer_commit_space(k->out, &v, 1);
	flush(k);
}

void link_send_empty(struct link *k, uint8_t type, uint64_t req_id)
{
	struct gproto_msg m = { .type = type, .req_id = req_id };

	link_send(k, &m);
}

void link_send_error(struct link *k, uint8_t type, uint64_t req_id, const char *etype,
		     const uint8_t *body, size_t len)
{
	struct gproto_msg m = { .type = type, .req_id = req_id };

	m.error.error_type = (struct gproto_str){ etype, (uint32_t)strlen(etype) };
	m.error.body = (struct gproto_bytes){ body, (uint32_t)len };
	link_send(k, &m);
}

/* Copies s into a JSON string's inside; what would need escaping becomes '?'
 * (our texts are ASCII paths and strerror()s: nothing is lost in practice). */
static size_t json_text(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s != '\0' && n + 1 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		out[n++] = c < 0x20 || c >= 0x7f || c == '"' || c == '\\' ? '?' : (char)c;
	}
	out[n] = '\0';
	return n;
}

void link_send_error_json(struct link *k, uint8_t type, uint64_t req_id, const char *etype,
			  const char *text)
{
	char t[GPROTO_ERROR_TYPE_MAX + 1], m[768], body[2048];
	int n;

	json_text(t, sizeof(t), etype);
	json_text(m, sizeof(m), text);
	n = snprintf(body, sizeof(body), "{\"errorType\":\"%s\",\"errorMessage\":\"%s\"}", t, m);
	link_send_error(k, type, req_id, etype, (const uint8_t *)body,
			n < (int)sizeof(body) ? (size_t)n : sizeof(body) - 1);
}

void link_send_log(struct link *k, uint64_t req_id, uint8_t stream, const uint8_t *line, size_t len)
{
	struct gproto_msg m = { .type = GPROTO_LOG, .req_id = req_id };

	if (k->cfd < 0) {
		printf("ember-init: function: %.*s\n", (int)len, (const char *)line);
		return;
	}
	m.log.stream = stream;
	m.log.line = (struct gproto_bytes){ line, (uint32_t)len };
	link_send(k, &m);
}

/* Which frame does what. gproto_decode() accepted only what a host may send. */
static void dispatch(struct link *k, const struct gproto_msg *m)
{
	switch (m->type) {
	case GPROTO_INIT:
		k->ops->init(k->ctx, &m->init);
		break;
	case GPROTO_INVOKE:
		k->ops->invoke(k->ctx, m->req_id, &m->invoke);
		break;
	case GPROTO_RESTORE:
		k->ops->restore(k->ctx, &m->restore);
		break;
	case GPROTO_PING:
		link_send_empty(k, GPROTO_PONG, m->req_id);
		break;
	default: /* PONG: nothing to do */
		break;
	}
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct link *k = arg;
	struct gproto_frame f;
	const char *why = NULL;
	ssize_t n;
	int r;

	(void)fd, (void)what;
	n = gproto_reader_read(&k->rd, k->cfd);
	if (n == -EAGAIN || n == -EINTR)
		return;
	if (n == 0) {
		conn_close(k, gproto_reader_pending(&k->rd) ? "end of stream inside a frame"
							    : "end of stream");
		return;
	}
	if (n < 0 && n != -ENOBUFS) {
		conn_close(k, k->rd.why ? k->rd.why : strerror((int)-n));
		return;
	}
	/* Each dispatch may close the connection (a write error): check cfd. */
	while (k->cfd >= 0 && (r = gproto_reader_next(&k->rd, &f)) != 0) {
		if (r < 0 || (r = gproto_decode(&f.hdr, f.body, k->msg, &why)) < 0) {
			log_ratelimited(LOG_ERR, "malformed frame from the host: %s",
					r < 0 && why ? why : (k->rd.why ? k->rd.why : "?"));
			conn_close(k, "malformed frame");
			return;
		}
		dispatch(k, k->msg);
	}
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	flush(arg);
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct link *k = arg;
	int c = accept4(k->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	(void)fd, (void)what;
	if (c < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("vsock accept: %s", strerror(errno));
		return;
	}
	conn_close(k, "a new host connection replaces it");
	k->cfd = c;
	gproto_reader_init(&k->rd, GPROTO_FROM_HOST);
	k->read_ev = event_new(k->base, c, EV_READ | EV_PERSIST, on_readable, k);
	k->write_ev = event_new(k->base, c, EV_WRITE | EV_PERSIST, on_writable, k);
	if (k->read_ev == NULL || k->write_ev == NULL || event_add(k->read_ev, NULL) < 0) {
		conn_close(k, "out of memory");
		return;
	}
	log_info("host connected");
	k->ops->connected(k->ctx);
}

static int listen_vsock(void)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK,
				 .svm_cid = VMADDR_CID_ANY,
				 .svm_port = GPROTO_PORT };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, LINK_BACKLOG) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

int link_start(struct link *k, struct event_base *base, const struct link_ops *ops, void *ctx)
{
	int r;

	*k = (struct link){ .base = base, .ops = ops, .ctx = ctx, .lfd = -1, .cfd = -1 };
	k->out = evbuffer_new();
	k->msg = malloc(sizeof(*k->msg));
	if (k->out == NULL || k->msg == NULL) {
		r = -ENOMEM;
		goto err_free;
	}
	k->lfd = listen_vsock();
	if (k->lfd < 0) {
		r = k->lfd;
		goto err_free;
	}
	k->accept_ev = event_new(base, k->lfd, EV_READ | EV_PERSIST, on_accept, k);
	if (k->accept_ev == NULL || event_add(k->accept_ev, NULL) < 0) {
		r = -ENOMEM;
		goto err_close;
	}
	return 0;

err_close:
	if (k->accept_ev != NULL)
		event_free(k->accept_ev);
	close(k->lfd);
	k->lfd = -1;
err_free:
	free(k->msg);
	if (k->out != NULL)
		evbuffer_free(k->out);
	*k = (struct link){ .lfd = -1, .cfd = -1 };
	return r;
}
