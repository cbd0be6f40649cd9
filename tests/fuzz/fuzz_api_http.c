/* fuzz_api_http: libFuzzer harness for the API's HTTP request path (vmm/api/server.c, routes.c).
 *
 * Input: one control byte, then raw bytes for up to FUZZ_CONNS connections,
 * separated by CONN_SEP (evhttp answers one request of a connection whose
 * client has shut its write side, so a sequence of requests needs a
 * connection each; CONN_SEP holds NUL bytes, which no valid request has).
 * - Control byte & 3 is the state the VMM is in when the bytes arrive:
 *   0 not started (fresh config), 1 running, 2 paused, 3 stopped. States 1-3
 *   come with the config a client would have built first (a kernel, drive
 *   "rootfs"), so the post-boot routes (PATCH /vm, PATCH /drives/{id},
 *   PUT /snapshot/create) are parsed past their state checks.
 * - Everything is fresh per input, so a crash reproduces from its input
 *   alone: the real server (evhttp on its own thread, the route table, the
 *   schemas, the control mailbox, metrics) on a Unix socket in a scratch
 *   directory emptied first, and a stand-in for the main thread that serves
 *   the VM commands the way vmm/lifecycle.c does, without a VM: it accepts
 *   them and moves the state (start -> Running, pause -> Paused, ...); a
 *   snapshot load fails, and then ends the VM, when its state file does not
 *   exist (as the real load does).
 * Each connection's bytes are written, the write side is shut, and
 * everything the server answers is read until it closes. Whatever the bytes,
 * the server must not crash, must answer with nothing or with HTTP
 * responses, and must still serve (a GET / afterwards gets 200). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/api/api.h"
#include "vmm/api/server.h"
#include "lib/util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define READ_TIMEOUT_MS 5000
#define FUZZ_CONNS	16
#define CONN_SEP	"\n\0\0\n"
#define CONN_SEP_LEN	4
/* How long a failed snapshot load waits for its reply to leave (the VMM: 5 s). */
#define LAST_REPLY_MS 1000

static char dir[] = "/tmp/ember-fuzz-api-XXXXXX";
static struct sockaddr_un addr = { .sun_family = AF_UNIX };

/* One input's world. */
struct world {
	struct ctl ctl;
	struct metrics metrics;
	struct api api;
	struct api_server *server;
	pthread_t main_thread;
	int stop_fd;
};

/* One command, answered as vmm/lifecycle.c would (its state rules, no VM). */
static void serve(struct ctl *ctl)
{
	enum ctl_state st = ctl_get_state(ctl);
	const struct ctl_args *a = &ctl->args;
	enum ctl_cmd cmd = ctl_take(ctl);

	switch (cmd) {
	case CTL_CMD_NONE:
		return;
	case CTL_CMD_START:
		if (st != CTL_NOT_STARTED) {
			ctl_finish(ctl, -EINVAL, "InstanceStart: the microVM is already running");
			return;
		}
		ctl_set_state(ctl, CTL_RUNNING);
		break;
	case CTL_CMD_SNAPSHOT_LOAD:
		if (st != CTL_NOT_STARTED || access(a->path, R_OK) < 0) {
			/* A failed load ends the process: let the reply out, then stop. */
			ctl_finish(ctl, -EINVAL, "loading the snapshot failed");
			ctl_wait_reply_sent(ctl, LAST_REPLY_MS);
			ctl_close(ctl);
			return;
		}
		ctl_set_state(ctl, a->resume ? CTL_RUNNING : CTL_PAUSED);
		break;
	case CTL_CMD_PAUSE:
	case CTL_CMD_RESUME:
	case CTL_CMD_CTRL_ALT_DEL:
	case CTL_CMD_FLUSH_METRICS:
	case CTL_CMD_SNAPSHOT_CREATE:
	case CTL_CMD_UPDATE_DRIVE:
		if (st == CTL_NOT_STARTED) {
			ctl_finish(ctl, -EINVAL, "the microVM is not running");
			return;
		}
		if (cmd == CTL_CMD_PAUSE)
			ctl_set_state(ctl, CTL_PAUSED);
		else if (cmd == CTL_CMD_RESUME)
			ctl_set_state(ctl, CTL_RUNNING);
		break;
	}
	ctl_finish(ctl, 0, NULL);
}

/* The main thread's part, until stop_fd is written. */
static void *main_thread(void *arg)
{
	struct world *w = arg;
	struct pollfd p[2] = { { .fd = w->ctl.cmd_fd, .events = POLLIN },
			       { .fd = w->stop_fd, .events = POLLIN } };

	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			abort();
		if (p[1].revents)
			return NULL;
		if (p[0].revents)
			serve(&w->ctl);
	}
}

static void write_file(const char *name)
{
	int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, "x", 1) != 1)
		abort();
	close(fd);
}

/* Removes what an input created in the scratch directory (the cwd): files
 * only, since no route makes a directory. */
static void scratch_empty(void)
{
	DIR *d = opendir(".");
	struct dirent *e;

	if (d == NULL)
		abort();
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlink(e->d_name);
	closedir(d);
}

/* Empties the scratch directory and puts back the files the primed config names. */
static void scratch_reset(void)
{
	scratch_empty();
	write_file("vmlinux");
	write_file("rootfs.img");
}

/* The config a client builds before InstanceStart. */
static void prime(struct world *w, unsigned state)
{
	struct vm_config *cfg = &w->ctl.cfg;

	if (state == 0)
		return;
	snprintf(cfg->boot_source.kernel_image_path, sizeof(cfg->boot_source.kernel_image_path),
		 "%s/vmlinux", dir);
	snprintf(cfg->drives[0].drive_id, sizeof(cfg->drives[0].drive_id), "rootfs");
	snprintf(cfg->drives[0].path_on_host, sizeof(cfg->drives[0].path_on_host), "%s/rootfs.img",
		 dir);
	cfg->drives[0].is_root_device = true;
	cfg->ndrives = 1;
	w->api.configured = true;
	if (state == 3)
		ctl_close(&w->ctl);
	else
		ctl_set_state(&w->ctl, state == 1 ? CTL_RUNNING : CTL_PAUSED);
}

static void world_start(struct world *w, unsigned state)
{
	scratch_reset();
	memset(w, 0, sizeof(*w));
	w->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (w->stop_fd < 0 || ctl_init(&w->ctl) < 0)
		abort();
	metrics_init(&w->metrics, api_route_names, api_nroutes);
	api_init(&w->api, &w->ctl, &w->metrics, "fuzz");
	prime(w, state);
	if (pthread_create(&w->main_thread, NULL, main_thread, w) != 0 ||
	    api_server_create(addr.sun_path, &w->api, &w->server) < 0 ||
	    api_server_start(w->server) < 0)
		abort();
}

static void world_stop(struct world *w)
{
	uint64_t one = 1;

	api_server_destroy(w->server);
	if (write(w->stop_fd, &one, sizeof(one)) != sizeof(one) ||
	    pthread_join(w->main_thread, NULL) != 0)
		abort();
	close(w->stop_fd);
	api_destroy(&w->api);
	metrics_destroy(&w->metrics);
	ctl_destroy(&w->ctl);
	/* PUT /logger changes the process's logging. */
	log_set_output(-1, false, false);
	log_set_level(LOG_NONE);
}

/* Leaves no scratch directory behind. */
static void cleanup(void)
{
	scratch_empty();
	if (chdir("/") == 0)
		rmdir(dir);
}

static void setup(void)
{
	log_init("fuzz", LOG_NONE);
	if (mkdtemp(dir) == NULL || chdir(dir) < 0)
		abort();
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/api.sock", dir);
	atexit(cleanup);
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
	static struct world w; /* struct ctl holds a whole config: not on the stack */
	size_t got;
	char *reply;

	if (size < 1)
		return 0;
	pthread_once(&once, setup);
	world_start(&w, data[0] & 3);
	data++, size--;
	for (unsigned i = 0; i < FUZZ_CONNS && (i == 0 || size > 0); i++) {
		const uint8_t *sep = memmem(data, size, CONN_SEP, CONN_SEP_LEN);
		size_t len = sep != NULL ? (size_t)(sep - data) : size;

		reply = exchange(data, len, &got);
		if (got > 0 && strncmp(reply, "HTTP/", 5) != 0)
			abort();
		free(reply);
		data += len, size -= len;
		if (sep != NULL)
			data += CONN_SEP_LEN, size -= CONN_SEP_LEN;
	}
	reply = exchange((const uint8_t *)probe, sizeof(probe) - 1, &got);
	if (strncmp(reply, "HTTP/1.1 200", 12) != 0)
		abort();
	free(reply);
	world_stop(&w);
	return 0;
}
