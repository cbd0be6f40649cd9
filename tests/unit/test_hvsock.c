/* Unit tests for lib/hvsock: the hybrid vsock client handshake, against a Unix socket server in a thread. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/hvsock/hvsock.h"

static int parse(const char *s, uint32_t *port, size_t *used)
{
	return hvsock_parse_reply(s, strlen(s), port, used);
}

static void test_request(void **state)
{
	char buf[HVSOCK_REQUEST_MAX];
	size_t len = 0;

	(void)state;
	assert_int_equal(hvsock_format_request(1024, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, strlen("CONNECT 1024\n"));
	assert_memory_equal(buf, "CONNECT 1024\n", len);
	assert_int_equal(hvsock_format_request(UINT32_MAX, buf, sizeof(buf), &len), 0);
	assert_string_equal(buf, "CONNECT 4294967295\n");
	assert_int_equal(hvsock_format_request(1024, buf, 8, &len), -ENOSPC);
}

static void test_reply_complete(void **state)
{
	uint32_t port = 0;
	size_t used = 0;

	(void)state;
	assert_int_equal(parse("OK 1073741824\n", &port, &used), 1);
	assert_int_equal(port, 1073741824u);
	assert_int_equal(used, 14);
	/* Bytes after the line are the guest's and are not consumed. */
	assert_int_equal(parse("OK 7\nEMGP....", &port, &used), 1);
	assert_int_equal(port, 7);
	assert_int_equal(used, 5);
	assert_int_equal(parse("OK 4294967295\n", &port, &used), 1);
	assert_int_equal(port, UINT32_MAX);
}

static void test_reply_partial(void **state)
{
	const char *full = "OK 1234\n";
	uint32_t port = 0;
	size_t used = 0;

	(void)state;
	for (size_t n = 0; n < strlen(full); n++)
		assert_int_equal(hvsock_parse_reply(full, n, &port, &used), 0);
	assert_int_equal(hvsock_parse_reply(full, strlen(full), &port, &used), 1);
	assert_int_equal(port, 1234);
}

static void test_reply_bad(void **state)
{
	static const char *const bad[] = {
		"OK\n",
		"OK \n",
		"ok 1\n",
		"KO 1\n",
		"OK -1\n",
		"OK 1x\n",
		"OK 4294967296\n",
		"OK 99999999999999999999\n",
		"OK  1\n",
		"NO",
		"X",
		"OK 1 \n",
	};
	char longline[HVSOCK_REPLY_MAX + 8];
	uint32_t port = 0;
	size_t used = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i], &port, &used);

		if (r != -EPROTO)
			fail_msg("'%s' gave %d, not -EPROTO", bad[i], r);
	}
	/* A reply that never ends is refused once it is too long to be one. */
	memset(longline, '1', sizeof(longline));
	memcpy(longline, "OK ", 3);
	assert_int_equal(hvsock_parse_reply(longline, HVSOCK_REPLY_MAX - 1, &port, &used), 0);
	assert_int_equal(hvsock_parse_reply(longline, HVSOCK_REPLY_MAX, &port, &used), -EPROTO);
	assert_int_equal(hvsock_parse_reply(longline, sizeof(longline), &port, &used), -EPROTO);
}

/* A hybrid vsock server: accepts one connection, checks the request, then
 * answers with `reply` (NULL: closes at once, as a VMM does for a port with no
 * listener) followed by `extra`. */
struct server {
	char path[108];
	int lfd;
	const char *reply, *extra;
	char got[64];
	pthread_t thread;
};

static void *serve(void *arg)
{
	struct server *s = arg;
	int c = accept(s->lfd, NULL, NULL);
	size_t n = 0;

	if (c < 0)
		return NULL;
	while (n + 1 < sizeof(s->got) && read(c, s->got + n, 1) == 1 && s->got[n++] != '\n')
		;
	if (s->reply != NULL) {
		/* The client may hang up early (a bad reply): no SIGPIPE for that. */
		if (send(c, s->reply, strlen(s->reply), MSG_NOSIGNAL) < 0 ||
		    send(c, s->extra, strlen(s->extra), MSG_NOSIGNAL) < 0)
			s->got[0] = '!';
	}
	close(c);
	return NULL;
}

static void server_start(struct server *s, const char *reply, const char *extra)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "/tmp/ember-test-hvsock-%d.sock", (int)getpid());
	unlink(s->path);
	s->reply = reply;
	s->extra = extra;
	memcpy(a.sun_path, s->path, strlen(s->path) + 1);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->lfd, 4), 0);
	assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
	pthread_join(s->thread, NULL);
	close(s->lfd);
	unlink(s->path);
}

static void test_connect_ok(void **state)
{
	struct pollfd p = { .events = POLLIN };
	struct server s;
	uint32_t port = 0;
	char rest[16] = "";
	int fd = -1;

	(void)state;
	server_start(&s, "OK 1073741825\n", "EMGP");
	assert_int_equal(hvsock_connect(s.path, 1024, 5000, &fd, &port), 0);
	assert_int_equal(port, 1073741825u);
	/* The guest's first bytes are still there to read (the socket is
	 * non-blocking: wait for them). */
	p.fd = fd;
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(recv(fd, rest, 4, MSG_WAITALL), 4);
	assert_memory_equal(rest, "EMGP", 4);
	close(fd);
	server_stop(&s);
	assert_string_equal(s.got, "CONNECT 1024\n");
}

static void test_connect_refused_port(void **state)
{
	struct server s;
	uint32_t port = 0;
	int fd = -1;

	(void)state;
	server_start(&s, NULL, NULL);
	assert_int_equal(hvsock_connect(s.path, 52, 5000, &fd, &port), -ECONNREFUSED);
	server_stop(&s);
	assert_string_equal(s.got, "CONNECT 52\n");
}

static void test_connect_bad_reply(void **state)
{
	struct server s;
	uint32_t port = 0;
	int fd = -1;

	(void)state;
	server_start(&s, "HTTP/1.1 400\n", "");
	assert_int_equal(hvsock_connect(s.path, 1024, 5000, &fd, &port), -EPROTO);
	server_stop(&s);
}

static void test_start_errors(void **state)
{
	char longpath[200];
	int fd = -1;

	(void)state;
	assert_int_equal(hvsock_start("/nonexistent/ember/v.sock", 1024, &fd), -ENOENT);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(hvsock_start(longpath, 1024, &fd), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_reply_complete),
		cmocka_unit_test(test_reply_partial),
		cmocka_unit_test(test_reply_bad),
		cmocka_unit_test(test_connect_ok),
		cmocka_unit_test(test_connect_refused_port),
		cmocka_unit_test(test_connect_bad_reply),
		cmocka_unit_test(test_start_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
