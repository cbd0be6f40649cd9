/* hybrid: the Unix-socket side of vsock: listen on U, parse CONNECT, connect to U_P. */
#include "vmm/devices/virtio/vsock/hybrid.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/util/log.h"
#include "lib/util/uds.h"

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, strlen(path));
	return 0;
}

int vsock_hybrid_listen(const char *path, int *fd)
{
	return uds_bind(path, VSOCK_BACKLOG, fd);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Arms the timer at the earliest HOST_LINE deadline, or disarms it. */
static void arm_timer(struct vsock_conns *t)
{
	struct itimerspec its = { 0 };
	uint64_t first = UINT64_MAX;

	if (t->timerfd < 0)
		return;
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (t->c[i].state == VSOCK_CONN_HOST_LINE && t->c[i].line_deadline_ns < first)
			first = t->c[i].line_deadline_ns;
	t->timer_armed = first != UINT64_MAX;
	if (t->timer_armed) {
		/* An absolute time of 0 would disarm it: a deadline is never 0. */
		its.it_value.tv_sec = (time_t)(first / 1000000000ull);
		its.it_value.tv_nsec = (long)(first % 1000000000ull);
	}
	(void)timerfd_settime(t->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

void vsock_hybrid_accept(struct vsock_conns *t, int lfd)
{
	for (unsigned i = 0; i < VSOCK_ACCEPT_BURST; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct vsock_conn *c;

		if (fd < 0)
			return;
		c = vsock_conn_alloc(t, fd, VSOCK_CONN_HOST_LINE);
		if (c == NULL) {
			log_ratelimited(LOG_WARN, "vsock: %u connections, host connection refused",
					VSOCK_MAX_CONNS);
			close(fd);
			continue;
		}
		/* Every deadline is now + the same timeout, so a timer already
		 * armed fires first; the expiry re-arms it for this one. */
		c->line_deadline_ns = now_ns() + (uint64_t)t->line_timeout_ms * 1000000ull;
		if (!t->timer_armed)
			arm_timer(t);
	}
}

void vsock_hybrid_expire(struct vsock_conns *t)
{
	uint64_t now = now_ns(), expirations;
	unsigned closed = 0;

	(void)!read(t->timerfd, &expirations, sizeof(expirations));
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &t->c[i];

		if (c->state == VSOCK_CONN_HOST_LINE && c->line_deadline_ns <= now) {
			vsock_conn_free(t, c);
			closed++;
		}
	}
	if (closed > 0)
		log_ratelimited(LOG_WARN,
				"vsock: %u host connection(s) sent no CONNECT line within %u ms, "
				"closed",
				closed, t->line_timeout_ms);
	arm_timer(t);
}

static bool port_in_use(const struct vsock_conns *t, uint32_t port)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (t->c[i].state >= VSOCK_CONN_REQUESTED && t->c[i].host_port == port)
			return true;
	return false;
}

/* At most VSOCK_MAX_CONNS ports are in use, so this ends within MAX+1 steps. */
static uint32_t alloc_port(struct vsock_conns *t)
{
	uint32_t p;

	do {
		p = t->next_port;
		t->next_port = p == UINT32_MAX ? VSOCK_PORT_FIRST : p + 1;
	} while (port_in_use(t, p));
	return p;
}

/* "CONNECT <port>" without the newline. */
static int parse_line(const char *s, uint32_t len, uint32_t *port)
{
	static const char pfx[] = "CONNECT ";
	uint64_t v = 0;
	uint32_t i = sizeof(pfx) - 1;

	if (len <= i || len > i + 10 || memcmp(s, pfx, i) != 0)
		return -EINVAL;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return -EINVAL;
	*port = (uint32_t)v;
	return 0;
}

void vsock_hybrid_line(struct vsock_conns *t, struct vsock_conn *c)
{
	/* One byte at a time (at most VSOCK_LINE_MAX per connection), so data
	 * sent right after the line stays in the socket for the relay. */
	while (c->line_len < VSOCK_LINE_MAX) {
		char ch;
		ssize_t r = recv(c->fd, &ch, 1, MSG_DONTWAIT);
		uint32_t port;

		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			vsock_conn_free(t, c);
			return;
		}
		if (ch != '\n') {
			c->line[c->line_len++] = ch;
			continue;
		}
		if (parse_line(c->line, c->line_len, &port) < 0) {
			log_ratelimited(LOG_WARN, "vsock: bad CONNECT line from host, closed");
			vsock_conn_free(t, c);
			return;
		}
		c->guest_port = port;
		c->host_port = alloc_port(t);
		c->state = VSOCK_CONN_REQUESTED;
		c->pending = VSOCK_PEND_REQUEST;
		vsock_conn_arm(t, c);
		return;
	}
	log_ratelimited(LOG_WARN, "vsock: CONNECT line over %u bytes, closed", VSOCK_LINE_MAX);
	vsock_conn_free(t, c);
}

void vsock_hybrid_guest_connect(struct vsock_conns *t, const struct vsock_hdr *h)
{
	struct sockaddr_un sa;
	char path[sizeof(sa.sun_path) + 16];
	struct vsock_conn *c;
	int fd;

	snprintf(path, sizeof(path), "%s_%u", t->uds_path, h->dst_port);
	if (unix_addr(path, &sa) < 0)
		goto rst;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto rst;
	/* AF_UNIX connect completes at once or fails (EAGAIN: backlog full). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		goto rst;
	}
	c = vsock_conn_alloc(t, fd, VSOCK_CONN_ESTABLISHED);
	if (c == NULL) {
		close(fd);
		goto rst;
	}
	c->host_port = h->dst_port;
	c->guest_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->pending = VSOCK_PEND_RESPONSE;
	vsock_conn_arm(t, c);
	return;
rst:
	(void)vsock_conns_queue_rst(t, h);
}
