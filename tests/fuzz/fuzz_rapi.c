/* fuzz_rapi: libFuzzer harness for ember-init's Runtime API (guest-init/runtime_api.c over evhttp).
 *
 * Input: one control byte, then raw bytes for up to FUZZ_CONNS connections,
 * separated by CONN_SEP (NUL bytes, which no valid request has).
 * - Control bits 0-2 pick what the ops answer for /response, /error and
 *   /init/error (0, -ENOENT, -EPERM, -EMSGSIZE, -EPIPE, -EIO); bit 3 makes
 *   ops->next answer a /next at once (rapi_send_event), else it keeps it and
 *   the harness answers it when that connection's bytes are done, if its
 *   client has not gone (ops->next_gone); bit 4 makes ops->next refuse.
 * - Everything is fresh per input: the real server (rapi_serve: evhttp, the
 *   route table, the listener with its descriptor cap) on a Unix socket in a
 *   scratch directory, run by this thread.
 * Each connection's bytes are written, the write side is shut, and the loop
 * runs until the server closes the connection. The ops check what reaches
 * them (a valid id, a gproto-safe error type, a bounded body). Afterwards
 * the server must still serve: a POST /init/error gets its 202. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>

#include "guest-init/runtime_api.h"
#include "lib/gproto/gproto.h"
#include "lib/util/log.h"

#define FUZZ_CONNS 8
#define CONN_SEP   "\0\0\0\0"
#define TURNS	   20000 /* loop turns a connection may take before it counts as hung */
#define CHECK_REQ                                                                                  \
	"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int results[] = { 0, -ENOENT, -EPERM, -EMSGSIZE, -EPIPE, -EIO, 0, 0 };

static struct event_base *base;
static struct rapi api;
static struct sockaddr_un addr = { .sun_family = AF_UNIX };
static char dir[] = "/tmp/fuzz-rapi-XXXXXX";
static uint8_t control;
static int result;
static struct evhttp_request *held;

static void check_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > GPROTO_REQUEST_ID_MAX ||
	    strspn(id, "abcdefghijklmnopqrstuvwxyz"
		       "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		       "0123456789._-") != n)
		__builtin_trap();
}

static void check_type(const char *type)
{
	if (strlen(type) > GPROTO_ERROR_TYPE_MAX)
		__builtin_trap();
	for (const char *p = type; *p != '\0'; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			__builtin_trap();
}

static void check_body(const uint8_t *body, size_t len)
{
	if (len > RAPI_BODY_MAX)
		__builtin_trap();
	if (len > 0) /* readable to its end */
		(void)*(volatile const uint8_t *)(body + len - 1);
}

static int op_next(void *ctx, struct evhttp_request *req)
{
	static const uint8_t payload[] = "{\"k\":1}";
	struct rapi_event ev = {
		"req-1", 123, "arn", "trace", "", "", payload, sizeof(payload) - 1
	};

	(void)ctx;
	if (control & 0x10)
		return -EPERM;
	if (control & 0x08) {
		rapi_send_event(&api, req, &ev);
		return 0;
	}
	if (held != NULL) /* the owner holds one at a time (inflight.h) */
		return -EPERM;
	held = req;
	return 0;
}

static void op_next_gone(void *ctx, struct evhttp_request *req)
{
	(void)ctx;
	if (req != held)
		__builtin_trap();
	held = NULL;
}

static int op_response(void *ctx, const char *id, const uint8_t *body, size_t len)
{
	(void)ctx;
	check_id(id);
	check_body(body, len);
	return result;
}

static int op_error(void *ctx, const char *id, const char *type, const uint8_t *body, size_t len)
{
	(void)ctx;
	check_id(id);
	check_type(type);
	check_body(body, len);
	return result;
}

static int op_init_error(void *ctx, const char *type, const uint8_t *body, size_t len)
{
	(void)ctx;
	check_type(type);
	check_body(body, len);
	return result;
}

static const struct rapi_ops ops = { op_next, op_next_gone, op_response, op_error, op_init_error };

static void cleanup(void)
{
	rapi_stop(&api);
	unlink(addr.sun_path);
	rmdir(dir);
}

static int start(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	unlink(addr.sun_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 64) < 0)
		__builtin_trap();
	if (rapi_serve(&api, base, &ops, NULL, fd) < 0)
		__builtin_trap();
	return 0;
}

/* Sends `len` bytes on a new connection, shuts the write side and runs the
 * loop until the server closes it; the answer goes to out[cap] (NUL-ended). */
static void exchange(const uint8_t *p, size_t len, char *out, size_t cap)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	size_t sent = 0, got = 0;
	int shut = 0;

	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		__builtin_trap();
	for (int turn = 0; turn < TURNS; turn++) {
		ssize_t n;

		if (sent < len) {
			n = send(fd, p + sent, len - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				sent = len; /* the server closed early */
		}
		if (sent == len && !shut) {
			shutdown(fd, SHUT_WR);
			shut = 1;
		}
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		/* A /next kept until the client is done: answer it now. */
		if (shut && held != NULL) {
			struct evhttp_request *r = held;

			held = NULL;
			rapi_send_status(&api, r, -EPIPE);
		}
		n = recv(fd, out + got, cap - 1 - got, 0);
		if (n > 0) {
			got += (size_t)n;
			if (got == cap - 1)
				got = 0; /* keep only the tail; only the check reads it */
		} else if (n == 0 || (n < 0 && errno != EAGAIN)) {
			break;
		}
	}
	out[got] = '\0';
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static char out[1 << 16];
	size_t off = 1;

	if (!ready) {
		log_set_level(LOG_NONE);
		base = event_base_new();
		if (base == NULL || mkdtemp(dir) == NULL)
			return 0;
		snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/rapi", dir);
		atexit(cleanup);
		ready = 1;
	}
	if (size < 1)
		return 0;
	control = data[0];
	result = results[control & 7];
	held = NULL;
	start();
	for (int c = 0; c < FUZZ_CONNS && off <= size; c++) {
		const uint8_t *end = memmem(data + off, size - off, CONN_SEP, 4);
		size_t len = end != NULL ? (size_t)(end - (data + off)) : size - off;

		exchange(data + off, len, out, sizeof(out));
		if (held != NULL)
			__builtin_trap(); /* the connection closed with its /next unanswered */
		off += len + 4;
	}
	result = 0;
	exchange((const uint8_t *)CHECK_REQ, strlen(CHECK_REQ), out, sizeof(out));
	if (strncmp(out, "HTTP/1.1 202", 12) != 0)
		__builtin_trap(); /* the server no longer serves */
	rapi_stop(&api);
	return 0;
}
