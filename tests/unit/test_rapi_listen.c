/* Unit tests for guest-init/runtime_api.c's listener: the descriptor cap and EMFILE (a real socket). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "guest-init/runtime_api.h"
#include "lib/util/log.h"

#define REQ                                                                                        \
	"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: x\r\n"                              \
	"Content-Length: 0\r\nConnection: close\r\n\r\n"
#define CONNS 24

static int init_errors;

static int op_init_error(void *ctx, const char *type, const uint8_t *body, size_t len)
{
	(void)ctx, (void)type, (void)body, (void)len;
	init_errors++;
	return 0;
}

static const struct rapi_ops ops = { .init_error = op_init_error };

struct fixture {
	struct event_base *base;
	struct event *tick; /* bounds each loop turn, so waits can check a deadline */
	struct rapi api;
	struct sockaddr_in addr;
	struct rlimit saved;
};

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
}

static int setup(void **state)
{
	static struct fixture f;
	struct timeval tv = { 0, 5000 };
	socklen_t sl = sizeof(f.addr);
	int fd;

	memset(&f, 0, sizeof(f));
	log_set_level(LOG_NONE);
	getrlimit(RLIMIT_NOFILE, &f.saved);
	f.base = event_base_new();
	f.tick = event_new(f.base, -1, EV_PERSIST, on_tick, NULL);
	assert_non_null(f.tick);
	event_add(f.tick, &tv);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	f.addr = (struct sockaddr_in){ .sin_family = AF_INET,
				       .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)&f.addr, sizeof(f.addr)), 0);
	assert_int_equal(listen(fd, 128), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&f.addr, &sl), 0);
	assert_int_equal(rapi_serve(&f.api, f.base, &ops, NULL, fd), 0);
	init_errors = 0;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	setrlimit(RLIMIT_NOFILE, &f->saved);
	rapi_stop(&f->api);
	event_free(f->tick);
	event_base_free(f->base);
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A connected client that sent REQ (the kernel completes the handshake even
 * while the server does not accept). */
static int client(struct fixture *f)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&f->addr, sizeof(f->addr)), 0);
	assert_int_equal(send(fd, REQ, strlen(REQ), 0), (ssize_t)strlen(REQ));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Runs the loop until `fd` has an answer (its status line) or 10 s pass. */
static int answered(struct fixture *f, int fd)
{
	double end = now() + 10;
	char buf[512];

	while (now() < end) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_PEEK);

		if (n > 0) {
			buf[n] = '\0';
			return strncmp(buf, "HTTP/1.1 202", 12) == 0;
		}
		event_base_loop(f->base, EVLOOP_ONCE);
	}
	return 0;
}

/* Runs the loop for `turns` turns without waiting. */
static void spin(struct fixture *f, int turns)
{
	for (int i = 0; i < turns; i++)
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

/* With the cap just above what is open, the server serves up to the cap,
 * then stops accepting; the connections beyond it wait in the backlog and
 * are served once descriptors are free again. */
static void test_cap_pauses_and_resumes(void **state)
{
	struct fixture *f = *state;
	struct rlimit rl = f->saved;
	int c[CONNS], served = 0;

	/* cap = soft / 2 = what is open now, the clients, and 4 accepted ones. */
	rl.rlim_cur = 2 * (rapi_fds_open() + CONNS + 4);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	for (int i = 0; i < CONNS; i++)
		c[i] = client(f);
	/* The held connections are not answered at once: run the loop a while. */
	spin(f, 200);
	assert_true(f->api.paused);
	assert_true(f->api.pauses >= 1);
	for (int i = 0; i < CONNS; i++) {
		char b;

		served += recv(c[i], &b, 1, MSG_PEEK) > 0;
	}
	/* Those within the cap were answered; at least the last ones wait. */
	assert_true(served >= 1);
	assert_true(served < CONNS);
	/* Clients gone, descriptors free: every waiting one gets its answer. */
	setrlimit(RLIMIT_NOFILE, &f->saved);
	for (int i = 0; i < CONNS; i++)
		assert_true(answered(f, c[i]));
	assert_int_equal(init_errors, CONNS);
	for (int i = 0; i < CONNS; i++)
		close(c[i]);
}

/* accept() failing with EMFILE pauses the listener instead of retrying on
 * every turn of the loop (the pending connection keeps the socket readable). */
static void test_emfile_no_busy_loop(void **state)
{
	struct fixture *f = *state;
	struct rlimit rl = f->saved;
	int c, fill[256], nfill = 0, fd;

	/* A soft limit high enough that the cap is not what stops accept(). */
	rl.rlim_cur = 2 * (rapi_fds_open() + 40);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	c = client(f);
	while (nfill < 256 && (fd = dup(0)) >= 0)
		fill[nfill++] = fd;
	assert_int_equal(errno, EMFILE);
	spin(f, 500);
	/* One failed accept, then the listener waits: not 500. */
	assert_int_equal(f->api.accept_errors, 1);
	assert_true(f->api.paused);
	for (int i = 0; i < nfill; i++)
		close(fill[i]);
	setrlimit(RLIMIT_NOFILE, &f->saved);
	assert_true(answered(f, c));
	assert_false(f->api.paused);
	close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cap_pauses_and_resumes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_emfile_no_busy_loop, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
