/* console: guest console output from the UART's ring to its fd, non-blocking, on the event loop (see console.h). */
#include "vmm/machine/console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "lib/util/log.h"

/* Drops are reported at most this often while they go on. */
#define DROP_LOG_NS 1000000000ull

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A file description of our own for a pipe, FIFO or terminal, so that
 * O_NONBLOCK does not change the file the parent or a sibling writes to. */
static int own_nonblocking(int fd, bool owned, int *out)
{
	char path[32];
	int nfd, fl;

	if (!owned) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		nfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (nfd >= 0) {
			*out = nfd;
			return 0;
		}
		log_debug("console: reopening fd %d: %s; making it non-blocking", fd,
			  strerror(errno));
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	*out = fd;
	return 0;
}

void console_init(struct console *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = c->close_fd = c->wake_fd = c->tick_fd = -1;
}

int console_open(struct console *c, int fd, bool owned)
{
	struct stat st;
	int out = fd, ret;

	if (fstat(fd, &st) < 0) {
		out = -1; /* stdout closed: the output goes nowhere */
	} else if (S_ISSOCK(st.st_mode)) {
		c->sock = true;
	} else if (!S_ISREG(st.st_mode)) {
		ret = own_nonblocking(fd, owned, &out);
		if (ret < 0)
			return ret;
	}
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (c->wake_fd < 0 || c->tick_fd < 0) {
		ret = -errno;
		if (out >= 0 && out != fd)
			close(out);
		if (c->wake_fd >= 0)
			close(c->wake_fd);
		if (c->tick_fd >= 0)
			close(c->tick_fd);
		c->wake_fd = c->tick_fd = -1;
		return ret;
	}
	c->fd = out;
	/* Ours to close: the --console file, or the description we opened. */
	c->close_fd = owned ? fd : out >= 0 && out != fd ? out : -1;
	return 0;
}

void console_out_ready(void *opaque)
{
	struct console *c = opaque;
	uint64_t one = 1;

	/* EAGAIN only when the counter is near overflow: readable already. */
	(void)!write(c->wake_fd, &one, sizeof(one));
}

static void note_dropped(struct console *c, uint64_t n)
{
	uint64_t now;

	if (n == 0)
		return;
	c->dropped += n;
	c->unlogged += n;
	now = now_ns();
	if (c->logged_ns != 0 && now - c->logged_ns < DROP_LOG_NS)
		return;
	log_warn("console: %llu line(s) of guest output dropped (the console's reader is slow, "
		 "or the guest writes over %u bytes/s); %llu in all",
		 (unsigned long long)c->unlogged, SERIAL_RATE_BPS, (unsigned long long)c->dropped);
	c->logged_ns = now;
	c->unlogged = 0;
}

static void on_writable(void *opaque, int fd, uint32_t events);

/* While the fd takes nothing, the UART drops lines without waking anyone:
 * the tick collects its count, so the drops are logged as they happen. */
static void set_tick(struct console *c, bool on)
{
	struct itimerspec its = { 0 };

	if (on) {
		its.it_value.tv_sec = CONSOLE_TICK_S;
		its.it_interval.tv_sec = CONSOLE_TICK_S;
	}
	(void)timerfd_settime(c->tick_fd, 0, &its, NULL);
}

static void wait_writable(struct console *c)
{
	int ret;

	if (c->polled)
		return;
	ret = evloop_add(c->ev, c->fd, EPOLLOUT, on_writable, c);
	if (ret == 0) {
		c->polled = true;
		set_tick(c, true);
		return;
	}
	/* Not pollable: no way to know when it takes more. Give up on it. */
	log_warn("console: cannot wait for the console to take more output: %s; dropping it",
		 strerror(-ret));
	c->fd = -1;
}

static void stop_waiting(struct console *c)
{
	if (c->polled && c->fd >= 0)
		evloop_del(c->ev, c->fd);
	if (c->polled)
		set_tick(c, false);
	c->polled = false;
}

static ssize_t put(struct console *c)
{
	if (c->sock)
		return send(c->fd, c->buf + c->off, c->len, MSG_DONTWAIT | MSG_NOSIGNAL);
	return write(c->fd, c->buf + c->off, c->len);
}

/* Writes until the UART is empty or the fd would block. */
static void drain(struct console *c, bool may_wait)
{
	for (;;) {
		ssize_t w;

		if (c->len == 0) {
			uint64_t dropped;

			c->off = 0;
			c->len = serial_out_take(c->uart, c->buf, sizeof(c->buf), &dropped);
			note_dropped(c, dropped);
			if (c->len == 0)
				break;
		}
		if (c->fd < 0) {
			c->len = 0; /* nowhere to go: taken only to be counted */
			continue;
		}
		w = put(c);
		if (w > 0) {
			c->off += (size_t)w;
			c->len -= (size_t)w;
			c->written += (uint64_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (may_wait)
				wait_writable(c);
			return;
		}
		log_warn("console: writing the guest's output failed (%s); it is dropped from now "
			 "on",
			 w < 0 ? strerror(errno) : "nothing written");
		stop_waiting(c);
		c->fd = -1;
	}
	stop_waiting(c);
}

static void on_wake(void *opaque, int fd, uint32_t events)
{
	struct console *c = opaque;
	uint64_t v;

	(void)events;
	(void)!read(fd, &v, sizeof(v));
	if (!c->polled) /* else EPOLLOUT will come */
		drain(c, true);
}

static void on_writable(void *opaque, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	drain(opaque, true);
}

static void on_tick(void *opaque, int fd, uint32_t events)
{
	struct console *c = opaque;
	uint64_t ticks, dropped;
	char none;

	(void)events;
	(void)!read(fd, &ticks, sizeof(ticks));
	(void)serial_out_take(c->uart, &none, 0, &dropped);
	note_dropped(c, dropped);
}

int console_attach(struct console *c, struct serial *uart, struct evloop *ev)
{
	int ret;

	c->uart = uart;
	c->ev = ev;
	ret = evloop_add(ev, c->wake_fd, EPOLLIN, on_wake, c);
	if (ret == 0)
		ret = evloop_add(ev, c->tick_fd, EPOLLIN, on_tick, c);
	return ret;
}

void console_drain(struct console *c)
{
	if (c->uart == NULL)
		return;
	serial_flush(c->uart);
	if (!c->polled)
		drain(c, true);
}

void console_finish(struct console *c)
{
	size_t left;
	uint64_t dropped;
	char tmp[CONSOLE_BUF];

	if (c->uart == NULL)
		return;
	stop_waiting(c);
	drain(c, false);
	/* What is still held could only be written by waiting: count it. */
	left = c->len;
	while ((c->len = serial_out_take(c->uart, tmp, sizeof(tmp), &dropped)) > 0 || dropped > 0) {
		left += c->len;
		c->dropped += dropped;
	}
	c->len = 0;
	if (left > 0)
		log_warn("console: %zu byte(s) of guest output not written: the console's reader "
			 "did not take them",
			 left);
	if (c->dropped > 0)
		log_warn("console: %llu line(s) of guest output were dropped in all",
			 (unsigned long long)c->dropped);
}

void console_destroy(struct console *c)
{
	stop_waiting(c);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	if (c->tick_fd >= 0)
		close(c->tick_fd);
	if (c->close_fd >= 0)
		close(c->close_fd);
	c->wake_fd = c->tick_fd = c->close_fd = c->fd = -1;
}
