/* fuzz_api_http: libFuzzer harness for the API's HTTP request path (vmm/api/server.c, routes.c).
 *
 * The real server (evhttp on its own thread, the route table, the schemas,
 * the control mailbox) runs once per process on a Unix socket in a temporary
 * directory; a stand-in for the main thread answers every VM command with
 * an error, since no VM exists here. Each input is written raw to a fresh
 * connection, the write side is shut, and everything the server answers is
 * read until it closes. Whatever the bytes, the server must not crash, must
 * answer with nothing or with HTTP responses (evhttp echoes the request's version), and must keep serving (a
 * GET / after each input must get 200). State (the pre-boot config) carries
 * over between inputs, as it would for a real client. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/api/api.h"
#include "vmm/api/server.h"
#include "lib/util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define READ_TIMEOUT_MS 5000

static struct ctl ctl;
static struct metrics metrics;
static struct api api;
static struct sockaddr_un addr = { .sun_family = AF_UNIX };

/* The main thread's part: there is no VM, so every command fails. */
static void *no_vm(void *arg)
{
	struct pollfd p = { .fd = ctl.cmd_fd, .events = POLLIN };

	(void)arg;
	for (;;) {
		if (poll(&p, 1, -1) > 0 && ctl_take(&ctl) != CTL_CMD_NONE)
			ctl_finish(&ctl, -EINVAL, "no VM in the fuzz harness");
	}
	return NULL;
}

static char dir[] = "/tmp/ember-fuzz-api-XXXXXX";

/* Leaves no socket behind (the server thread itself ends with the process). */
static void cleanup(void)
{
	unlink(addr.sun_path);
	if (chdir("/") == 0)
		rmdir(dir);
}

static void setup(void)
{
	struct api_server *server;
	pthread_t t;

	log_init("fuzz", LOG_NONE);
	if (mkdtemp(dir) == NULL || chdir(dir) < 0 || ctl_init(&ctl) < 0)
		abort();
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/api.sock", dir);
	atexit(cleanup);
	metrics_init(&metrics, api_route_names, api_nroutes);
	api_init(&api, &ctl, &metrics, "fuzz");
	if (api_server_create(addr.sun_path, &api, &server) < 0 || api_server_start(server) < 0 ||
	    pthread_create(&t, NULL, no_vm, NULL) != 0)
		abort();
}

/* Sends data, shuts the write side, and returns what came back (malloc'd). */
static char *exchange(const uint8_t *data, size_t size, size_t *got)
{
	size_t cap = 1 << 16, len = 0, off = 0;
	char *buf = malloc(cap + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (buf == NULL || fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		abort();
	while (off < size) {
		ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL);

		if (n <= 0)
			break; /* the server may close early, e.g. on a bad request line */
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t n;

		if (poll(&p, 1, READ_TIMEOUT_MS) <= 0)
			abort(); /* the server must answer or close a finished request */
		if (len == cap) {
			buf = realloc(buf, (cap *= 2) + 1);
			if (buf == NULL)
				abort();
		}
		n = read(fd, buf + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*got = len;
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char probe[] = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	size_t got;
	char *reply;

	pthread_once(&once, setup);
	reply = exchange(data, size, &got);
	if (got > 0 && strncmp(reply, "HTTP/", 5) != 0)
		abort();
	free(reply);
	reply = exchange((const uint8_t *)probe, sizeof(probe) - 1, &got);
	if (strncmp(reply, "HTTP/1.1 200", 12) != 0)
		abort();
	free(reply);
	return 0;
}
