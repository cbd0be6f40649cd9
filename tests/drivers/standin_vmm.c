/* standin-vmm: a stand-in for ember-vmm and its guest, for emberd's own benchmark (bench/): no KVM, no guest, instant answers.
 *
 * usage: standin-vmm --api-sock PATH [--id ID] [--config-file FILE | --restore STATE,MEM]
 *                    [--log-level L]
 * It takes the command line emberd gives ember-vmm and behaves, as seen from
 * emberd, like ember-vmm with ember-init in Lambda mode, at once:
 * - the Firecracker API subset emberd uses, on --api-sock (evhttp, bodies
 *   parsed with lib/fcapi): GET /, PATCH /vm (Paused/Resumed), PUT
 *   /snapshot/create (writes a small state file naming the vsock socket, and
 *   a 4 KiB memory file), PUT /snapshot/load (with the API alone: reads that
 *   state file; vsock_override names the socket); anything else is 400 with
 *   a fault_message;
 * - the vsock socket: the config file's uds_path (or the one the state file
 *   names, relative to the working directory as ember-vmm does), the hybrid
 *   handshake ("CONNECT 1024\n" -> "OK <n>\n"), then the guest protocol:
 *   INIT -> READY, RESTORE -> (nothing), INVOKE -> STATS + RESULT echoing
 *   the payload, PING -> PONG. A new connection gets READY at once when the
 *   runtime is initialised, as ember-init does.
 * - the lines emberd waits for: "listening on vsock port 1024" on stdout
 *   after a cold start, "API listening on" on stderr when it waits for a
 *   load, "ready to run" on stderr after a restore.
 * Exits 0 on SIGTERM or SIGINT, removing its sockets. Behaviour tests never
 * use it; the guest side is ember-init's, tested with real guests. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "lib/fcapi/schema.h"
#include "lib/gproto/gproto.h"
#include "lib/util/log.h"
#include "lib/util/uds.h"

#define STATE_MAGIC "standin-vmm state 1\n"
#define MEM_BYTES   4096

static struct {
	struct event_base *base;
	char vsock_path[CONFIG_VSOCK_PATH_MAX + 1];
	char api_path[PATH_MAX];
	bool inited, paused, loaded;
	struct evconnlistener *vsock;
} vm;

struct conn {
	struct bufferevent *bev;
	bool handshaken;
	struct gproto_reader rd;
};

/* ---- the guest side ---- */

static void send_msg(struct conn *c, const struct gproto_msg *m)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct evbuffer_iovec v;
	size_t len = 0;

	if (gproto_encode(m, NULL, 0, &len, NULL) != -EMSGSIZE ||
	    evbuffer_reserve_space(out, (ssize_t)len, &v, 1) < 1 ||
	    gproto_encode(m, v.iov_base, v.iov_len, &len, NULL) < 0)
		return;
	v.iov_len = len;
	evbuffer_commit_space(out, &v, 1);
}

static void send_empty(struct conn *c, uint8_t type, uint64_t req_id)
{
	struct gproto_msg m = { .type = type, .req_id = req_id };

	send_msg(c, &m);
}

static void conn_free(struct conn *c)
{
	bufferevent_free(c->bev);
	gproto_reader_free(&c->rd);
	free(c);
}

static void handle(struct conn *c, const struct gproto_msg *m)
{
	struct gproto_msg out = { .req_id = m->req_id };

	switch (m->type) {
	case GPROTO_INIT:
		vm.inited = true;
		send_empty(c, GPROTO_READY, 0);
		return;
	case GPROTO_INVOKE:
		out.type = GPROTO_STATS;
		out.stats.peak_mem_bytes = 32u << 20;
		send_msg(c, &out);
		out.type = GPROTO_RESULT;
		out.result.payload = m->invoke.payload;
		send_msg(c, &out);
		return;
	case GPROTO_PING:
		send_empty(c, GPROTO_PONG, m->req_id);
		return;
	default: /* RESTORE: nothing to reseed here */
		return;
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct gproto_frame f;
	static struct gproto_msg m;

	if (!c->handshaken) {
		char *line = evbuffer_readln(in, NULL, EVBUFFER_EOL_LF);

		if (line == NULL) {
			if (evbuffer_get_length(in) > 32)
				conn_free(c);
			return;
		}
		if (strcmp(line, "CONNECT 1024") != 0) {
			free(line);
			conn_free(c); /* a VMM closes a refused port */
			return;
		}
		free(line);
		evbuffer_add_printf(bufferevent_get_output(bev), "OK 1073741824\n");
		c->handshaken = true;
		if (vm.inited)
			send_empty(c, GPROTO_READY, 0);
	}
	while (evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		ssize_t n;
		int r;

		evbuffer_peek(in, -1, NULL, &v, 1);
		n = gproto_reader_feed(&c->rd, v.iov_base, v.iov_len);
		if (n < 0) {
			conn_free(c);
			return;
		}
		evbuffer_drain(in, (size_t)n);
		while ((r = gproto_reader_next(&c->rd, &f)) == 1) {
			if (gproto_decode(&f.hdr, f.body, &m, NULL) < 0) {
				conn_free(c);
				return;
			}
			handle(c, &m);
		}
		if (r < 0) {
			conn_free(c);
			return;
		}
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_free(arg);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
		      void *arg)
{
	struct conn *c = calloc(1, sizeof(*c));

	(void)l, (void)sa, (void)len, (void)arg;
	if (c == NULL) {
		close(fd);
		return;
	}
	c->bev = bufferevent_socket_new(vm.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		free(c);
		return;
	}
	gproto_reader_init(&c->rd, GPROTO_FROM_HOST);
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	bufferevent_enable(c->bev, EV_READ);
}

/* ---- the API ---- */

static void reply(struct evhttp_request *req, int status, const char *fault)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	if (fault == NULL) {
		evhttp_send_reply(req, status, "OK", NULL);
		return;
	}
	evbuffer_add_printf(out, "{\"fault_message\":\"%s\"}", fault);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evhttp_send_reply(req, status, "Bad Request", out);
}

static int write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len)
		ret = -EIO;
	close(fd);
	return ret;
}

static void snapshot_create(struct evhttp_request *req, const char *body)
{
	static const uint8_t mem[MEM_BYTES];
	struct schema_snapshot_create c;
	char err[SCHEMA_ERR_LEN], state[512];
	int n;

	if (schema_snapshot_create_put(body, &c, err, sizeof(err)) < 0) {
		reply(req, 400, err);
		return;
	}
	if (!vm.paused) {
		reply(req, 400, "the microVM must be paused first");
		return;
	}
	n = snprintf(state, sizeof(state), "%s%s\n", STATE_MAGIC, vm.vsock_path);
	if (write_file(c.snapshot_path, state, (size_t)n) < 0 ||
	    write_file(c.mem_file_path, mem, sizeof(mem)) < 0) {
		reply(req, 400, "cannot write the snapshot files");
		return;
	}
	reply(req, 204, NULL);
}

static int read_state(const char *state);
static int start_vsock(void);

/* With the API alone: the state file this stand-in wrote, the socket the
 * loader names (or the one the file names). */
static void snapshot_load(struct evhttp_request *req, const char *body)
{
	struct schema_snapshot_load *ld = calloc(1, sizeof(*ld));
	char err[SCHEMA_ERR_LEN];
	int ret;

	if (ld == NULL) {
		reply(req, 400, "out of memory");
		return;
	}
	if (vm.loaded || vm.vsock != NULL) {
		reply(req, 400, "a VM is already running");
	} else if (schema_snapshot_load_put(body, ld, err, sizeof(err)) < 0) {
		reply(req, 400, err);
	} else if ((ret = read_state(ld->snapshot_path)) < 0) {
		reply(req, 400, strerror(-ret));
	} else {
		if (ld->overrides.vsock)
			snprintf(vm.vsock_path, sizeof(vm.vsock_path), "%s",
				 ld->overrides.vsock_uds_path);
		if (start_vsock() < 0) {
			reply(req, 400, "cannot listen on the vsock socket");
		} else {
			vm.loaded = true;
			reply(req, 204, NULL);
			fprintf(stderr,
				"standin-vmm: debug: ready to run 1 us after start: snapshot\n");
		}
	}
	free(ld);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	size_t len = evbuffer_get_length(in);
	char *body = calloc(1, len + 1);
	char err[SCHEMA_ERR_LEN];
	enum schema_vm_state st;

	(void)arg;
	if (body == NULL || path == NULL) {
		reply(req, 400, "out of memory");
		free(body);
		return;
	}
	evbuffer_copyout(in, body, len);
	if (cmd == EVHTTP_REQ_GET && strcmp(path, "/") == 0) {
		struct evbuffer *out = evhttp_request_get_output_buffer(req);

		evbuffer_add_printf(out,
				    "{\"id\":\"standin\",\"state\":\"%s\",\"vmm_version\":\"0\","
				    "\"app_name\":\"standin-vmm\"}",
				    vm.paused ? "Paused" : "Running");
		evhttp_send_reply(req, 200, "OK", out);
	} else if (cmd == EVHTTP_REQ_PATCH && strcmp(path, "/vm") == 0) {
		if (schema_vm_patch(body, &st, err, sizeof(err)) < 0) {
			reply(req, 400, err);
		} else {
			vm.paused = st == SCHEMA_VM_PAUSED;
			reply(req, 204, NULL);
		}
	} else if (cmd == EVHTTP_REQ_PUT && strcmp(path, "/snapshot/create") == 0) {
		snapshot_create(req, body);
	} else if (cmd == EVHTTP_REQ_PUT && strcmp(path, "/snapshot/load") == 0) {
		snapshot_load(req, body);
	} else {
		reply(req, 400, "not supported by standin-vmm");
	}
	free(body);
}

/* ---- setup ---- */

static int read_restore(const char *spec)
{
	char state[PATH_MAX];
	const char *comma = strchr(spec, ',');
	size_t n = comma ? (size_t)(comma - spec) : 0;

	if (n == 0 || n >= sizeof(state))
		return -EINVAL;
	memcpy(state, spec, n);
	state[n] = '\0';
	return read_state(state);
}

static int read_state(const char *state)
{
	char buf[512];
	FILE *f;
	size_t got;

	f = fopen(state, "r");
	if (f == NULL)
		return -errno;
	got = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[got] = '\0';
	if (strncmp(buf, STATE_MAGIC, strlen(STATE_MAGIC)) != 0)
		return -EINVAL;
	snprintf(vm.vsock_path, sizeof(vm.vsock_path), "%.*s",
		 (int)strcspn(buf + strlen(STATE_MAGIC), "\n"), buf + strlen(STATE_MAGIC));
	vm.inited = true; /* the snapshot was taken after READY */
	return 0;
}

static int start_vsock(void)
{
	int fd;

	if (uds_listen(vm.vsock_path, "vsock socket", 64, &fd) < 0)
		return -EIO;
	vm.vsock = evconnlistener_new(vm.base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	return vm.vsock != NULL ? 0 : -ENOMEM;
}

static int read_config(const char *path)
{
	static struct vm_config cfg;
	static char json[SCHEMA_BODY_MAX + 1];
	char err[SCHEMA_ERR_LEN];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return -errno;
	n = fread(json, 1, SCHEMA_BODY_MAX, f);
	fclose(f);
	json[n] = '\0';
	if (schema_parse_config_file(json, &cfg, err, sizeof(err)) < 0) {
		log_err("--config-file %s: %s", path, err);
		return -EINVAL;
	}
	if (!cfg.vsock.enabled)
		return -EINVAL;
	snprintf(vm.vsock_path, sizeof(vm.vsock_path), "%s", cfg.vsock.uds_path);
	return 0;
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	event_base_loopbreak(vm.base);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "api-sock", 1, 0, 'a' },	 { "id", 1, 0, 'i' },
		{ "config-file", 1, 0, 'c' },	 { "restore", 1, 0, 'r' },
		{ "log-level", 1, 0, 'l' },	 { "drive-override", 1, 0, 'o' },
		{ "vsock-override", 1, 0, 'o' }, { 0, 0, 0, 0 },
	};
	const char *config = NULL, *restore = NULL;
	struct evhttp *http;
	struct event *sigterm, *sigint;
	int c, fd, ret;

	log_init("standin-vmm", LOG_INFO);
	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			snprintf(vm.api_path, sizeof(vm.api_path), "%s", optarg);
			break;
		case 'c':
			config = optarg;
			break;
		case 'r':
			restore = optarg;
			break;
		case 'i':
		case 'l':
		case 'o': /* ember-vmm's restore overrides: the stand-in opens no drive */
			break;
		default:
			return 2;
		}
	}
	if (vm.api_path[0] == '\0' || (config != NULL && restore != NULL)) {
		log_err("usage: standin-vmm --api-sock PATH [--config-file F | --restore S,M]");
		return 2;
	}
	ret = restore != NULL ? read_restore(restore) : config != NULL ? read_config(config) : 0;
	if (ret < 0) {
		log_err("%s: %s", restore ? "--restore" : "--config-file", strerror(-ret));
		return 1;
	}
	vm.base = event_base_new();
	http = vm.base ? evhttp_new(vm.base) : NULL;
	if (http == NULL || uds_listen(vm.api_path, "API socket", 64, &fd) < 0 ||
	    evhttp_accept_socket(http, fd) < 0)
		return 1;
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(http, on_request, NULL);
	if ((config != NULL || restore != NULL) && start_vsock() < 0)
		return 1;
	sigterm = evsignal_new(vm.base, SIGTERM, on_stop, NULL);
	sigint = evsignal_new(vm.base, SIGINT, on_stop, NULL);
	if (sigterm == NULL || sigint == NULL || event_add(sigterm, NULL) < 0 ||
	    event_add(sigint, NULL) < 0)
		return 1;
	if (config == NULL && restore == NULL) {
		fprintf(stderr, "standin-vmm: info: API listening on %s\n", vm.api_path);
	} else if (restore != NULL) {
		fprintf(stderr, "standin-vmm: debug: ready to run 1 us after start: snapshot\n");
	} else {
		printf("ember-init: lambda: listening on vsock port 1024\n");
		fflush(stdout);
	}
	event_base_dispatch(vm.base);
	if (vm.vsock != NULL) {
		unlink(vm.vsock_path);
		evconnlistener_free(vm.vsock);
	}
	unlink(vm.api_path);
	evhttp_free(http);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(vm.base);
	return 0;
}
