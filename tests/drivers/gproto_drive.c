/* gproto-drive: plays emberd's side of the guest protocol against a VM, for tests and benchmarks.
 *
 * usage: gproto-drive --uds PATH [options]
 *   Connects to the VMM's hybrid vsock socket, sends "CONNECT 1024\n", reads
 *   "OK <n>\n", then: --raw FILE sends FILE's bytes as they are and waits for
 *   the guest to close; --restore ID sends RESTORE (64 bytes from getrandom,
 *   the wall clock, instance id ID) first, as emberd does after a snapshot
 *   load, and waits for READY; otherwise INIT (unless --no-init) and wait for READY
 *   or INIT_ERROR, then --invokes N INVOKEs one after the other, each waited
 *   for (RESULT or ERROR). --bench N does N more invokes and prints p50/p99.
 * Output: every frame received, one JSON object per line on stdout:
 *   {"type":"LOG","req_id":3,"stream":1,"text":"..."}; byte fields are "text"
 *   when valid UTF-8, else "b64" (base64), always with "len". RESULT and ERROR
 *   lines add "rtt_us" (INVOKE sent to frame received); READY after INIT adds
 *   "init_us". Ends with {"type":"DONE"} (exit 0), {"type":"CLOSED"} when the
 *   guest closed the connection (exit 3), or {"type":"TIMEOUT"} (exit 2).
 * INIT: --handler, --runtime, --name, --memory MIB, --env K=V (repeatable),
 *   --fn-timeout MS (the function's timeout, default 3000), --arn ARN (the
 *   function's ARN, also each INVOKE's invoked ARN), --log-group, --log-stream.
 *   Each INVOKE's deadline is the wall clock when it is sent + the function's timeout.
 * Bounds: each wait has a deadline (--timeout S, default 60). */
#include "lib/gproto/gproto.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define ENV_MAX 64

static struct gproto_init init_msg;
static struct gproto_reader rd;
static int sock = -1;
static int timeout_ms = 60000;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static _Noreturn void fail(const char *what)
{
	fprintf(stderr, "gproto-drive: %s\n", what);
	exit(1);
}

static struct gproto_str str(const char *s)
{
	return (struct gproto_str){ s, (uint32_t)strlen(s) };
}

static bool utf8_ok(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = p[i];
		size_t k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if ((c & 0xf0) == 0xe0)
			k = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3;
		else
			return false;
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++)
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
		i += k + 1;
	}
	return true;
}

static void put_bytes(const char *name, const uint8_t *p, size_t n)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	printf(",\"len\":%zu", n);
	if (utf8_ok(p, n)) {
		printf(",\"%s\":\"", name);
		for (size_t i = 0; i < n; i++) {
			if (p[i] == '"' || p[i] == '\\')
				printf("\\%c", p[i]);
			else if (p[i] < 0x20 || p[i] == 0x7f)
				printf("\\u%04x", p[i]);
			else
				putchar(p[i]);
		}
		putchar('"');
		return;
	}
	printf(",\"b64\":\"");
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);

		putchar(b64[v >> 18 & 63]);
		putchar(b64[v >> 12 & 63]);
		putchar(i + 1 < n ? b64[v >> 6 & 63] : '=');
		putchar(i + 2 < n ? b64[v & 63] : '=');
	}
	putchar('"');
}

static void print_msg(const struct gproto_msg *m, long extra_key_us, const char *extra_key)
{
	printf("{\"type\":\"%s\",\"req_id\":%" PRIu64, gproto_type_name(m->type), m->req_id);
	switch (m->type) {
	case GPROTO_RESULT:
		put_bytes("text", m->result.payload.p, m->result.payload.len);
		break;
	case GPROTO_ERROR:
	case GPROTO_INIT_ERROR:
		printf(",\"error_type\":\"%s\"", m->error.error_type.s);
		put_bytes("text", m->error.body.p, m->error.body.len);
		break;
	case GPROTO_LOG:
		printf(",\"stream\":%u", m->log.stream);
		put_bytes("text", m->log.line.p, m->log.line.len);
		break;
	case GPROTO_STATS:
		printf(",\"peak_mem_bytes\":%" PRIu64, m->stats.peak_mem_bytes);
		break;
	default:
		break;
	}
	if (extra_key != NULL)
		printf(",\"%s\":%ld", extra_key, extra_key_us);
	printf("}\n");
}

static void send_frame(const struct gproto_msg *m)
{
	size_t len = 0;
	const char *why = NULL;
	uint8_t *buf;

	if (gproto_encode(m, NULL, 0, &len, &why) != -EMSGSIZE)
		fail(why ? why : "encode");
	buf = malloc(len);
	if (buf == NULL || gproto_encode(m, buf, len, &len, &why) < 0)
		fail(why ? why : "encode");
	for (size_t off = 0; off < len;) {
		ssize_t n = write(sock, buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail("write to the guest failed");
		off += (size_t)n;
	}
	free(buf);
}

/* Waits for one frame; prints it unless quiet. Exits on timeout or close. */
static void recv_msg(struct gproto_msg *m)
{
	static struct gproto_frame f;
	uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000u;
	const char *why = NULL;

	for (;;) {
		int r = gproto_reader_next(&rd, &f);

		if (r < 0)
			fail(rd.why ? rd.why : "bad frame from the guest");
		if (r == 1) {
			if (gproto_decode(&f.hdr, f.body, m, &why) < 0)
				fail(why ? why : "bad frame body from the guest");
			return;
		}
		uint64_t t = now_us();
		struct pollfd p = { .fd = sock, .events = POLLIN };

		if (t >= deadline || poll(&p, 1, (int)((deadline - t) / 1000u) + 1) == 0) {
			printf("{\"type\":\"TIMEOUT\"}\n");
			exit(2);
		}
		ssize_t n = gproto_reader_read(&rd, sock);

		if (n == 0 || (n < 0 && n != -EAGAIN && n != -EINTR)) {
			printf("{\"type\":\"CLOSED\"}\n");
			exit(3);
		}
	}
}

static void connect_vsock(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char line[64];
	size_t n = 0;

	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || strlen(path) >= sizeof(a.sun_path))
		fail("socket");
	strcpy(a.sun_path, path);
	if (connect(sock, (struct sockaddr *)&a, sizeof(a)) < 0)
		fail("connect to the vsock socket failed");
	dprintf(sock, "CONNECT %u\n", GPROTO_PORT);
	while (n + 1 < sizeof(line)) {
		struct pollfd p = { .fd = sock, .events = POLLIN };

		if (poll(&p, 1, timeout_ms) != 1 || read(sock, line + n, 1) != 1)
			fail("no OK from the vsock socket");
		if (line[n++] == '\n')
			break;
	}
	line[n] = '\0';
	if (strncmp(line, "OK ", 3) != 0)
		fail("vsock CONNECT refused");
	gproto_reader_init(&rd, GPROTO_FROM_GUEST);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = malloc(GPROTO_PAYLOAD_MAX + 1);

	if (f == NULL || buf == NULL)
		fail("cannot read a file argument");
	*len = fread(buf, 1, GPROTO_PAYLOAD_MAX + 1, f);
	fclose(f);
	return buf;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* One INVOKE and everything up to its RESULT or ERROR; returns the round trip. */
static uint64_t invoke(uint64_t id, struct gproto_invoke *inv, bool quiet)
{
	static struct gproto_msg m;
	struct gproto_msg out = { .type = GPROTO_INVOKE, .req_id = id };
	char rid[40];
	uint64_t t0;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	inv->deadline_ms =
		(uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u + init_msg.timeout_ms;
	snprintf(rid, sizeof(rid), "8f5c2a4e-0000-4000-8000-%012" PRIx64, id);
	inv->request_id = str(rid);
	out.invoke = *inv;
	t0 = now_us();
	send_frame(&out);
	for (;;) {
		recv_msg(&m);
		uint64_t rtt = now_us() - t0;
		bool end = (m.type == GPROTO_RESULT || m.type == GPROTO_ERROR) && m.req_id == id;

		if (!quiet)
			print_msg(&m, (long)rtt, end ? "rtt_us" : NULL);
		if (end)
			return rtt;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "uds", 1, 0, 'u' },
		{ "handler", 1, 0, 'h' },
		{ "runtime", 1, 0, 'r' },
		{ "env", 1, 0, 'e' },
		{ "memory", 1, 0, 'm' },
		{ "payload", 1, 0, 'p' },
		{ "payload-file", 1, 0, 'P' },
		{ "invokes", 1, 0, 'n' },
		{ "bench", 1, 0, 'b' },
		{ "no-init", 0, 0, 'N' },
		{ "raw", 1, 0, 'R' },
		{ "timeout", 1, 0, 't' },
		{ "client-context", 1, 0, 'c' },
		{ "cognito", 1, 0, 'g' },
		{ "trace-id", 1, 0, 'T' },
		{ "ping", 0, 0, 'i' },
		{ "name", 1, 0, 'f' },
		{ "restore", 1, 0, 'X' },
		{ "fn-timeout", 1, 0, 'F' },
		{ "arn", 1, 0, 'a' },
		{ "log-group", 1, 0, 'G' },
		{ "log-stream", 1, 0, 'S' },
		{ 0, 0, 0, 0 },
	};
	static struct gproto_msg m;
	struct gproto_invoke inv = { .invoked_arn = str(""),
				     .trace_id = str(""),
				     .client_context = str(""),
				     .cognito_identity = str("") };
	const char *uds = NULL, *raw = NULL, *payload = "{}", *payload_file = NULL;
	const char *restore_id = NULL;
	char *env_kv[ENV_MAX];
	unsigned n_env = 0, invokes = 0, bench = 0;
	bool do_init = true, ping = false;
	int c;

	init_msg = (struct gproto_init){
		.function_name = str("fn"),
		.function_version = str("$LATEST"),
		.function_arn = str(""),
		.log_group = str(""),
		.log_stream = str(""),
		.handler = str("handler"),
		.runtime = str("provided.al2023"),
		.region = str("us-east-1"),
		.memory_mib = 128,
		.timeout_ms = 3000,
	};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			uds = optarg;
			break;
		case 'h':
			init_msg.handler = str(optarg);
			break;
		case 'r':
			init_msg.runtime = str(optarg);
			break;
		case 'f':
			init_msg.function_name = str(optarg);
			break;
		case 'F':
			init_msg.timeout_ms = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'a':
			init_msg.function_arn = str(optarg);
			inv.invoked_arn = str(optarg);
			break;
		case 'G':
			init_msg.log_group = str(optarg);
			break;
		case 'S':
			init_msg.log_stream = str(optarg);
			break;
		case 'm':
			init_msg.memory_mib = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'e':
			if (n_env == ENV_MAX || strchr(optarg, '=') == NULL)
				fail("--env KEY=VALUE, at most 64");
			env_kv[n_env++] = optarg;
			break;
		case 'p':
			payload = optarg;
			break;
		case 'P':
			payload_file = optarg;
			break;
		case 'n':
			invokes = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'b':
			bench = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'N':
			do_init = false;
			break;
		case 'R':
			raw = optarg;
			break;
		case 't':
			timeout_ms = (int)strtoul(optarg, NULL, 10) * 1000;
			break;
		case 'c':
			inv.client_context = str(optarg);
			break;
		case 'g':
			inv.cognito_identity = str(optarg);
			break;
		case 'T':
			inv.trace_id = str(optarg);
			break;
		case 'i':
			ping = true;
			break;
		case 'X':
			restore_id = optarg;
			break;
		default:
			fail("bad arguments (see the comment at the top of gproto_drive.c)");
		}
	}
	if (uds == NULL)
		fail("--uds PATH is required");
	setvbuf(stdout, NULL, _IOLBF, 0);
	connect_vsock(uds);
	if (raw != NULL) {
		size_t len;
		uint8_t *buf = read_file(raw, &len);

		if (write(sock, buf, len) != (ssize_t)len)
			fail("raw write");
		for (;;) {
			recv_msg(&m);
			print_msg(&m, 0, NULL);
		}
	}
	if (restore_id != NULL) {
		struct gproto_msg r = { .type = GPROTO_RESTORE };
		struct timespec ts;

		if (getrandom(r.restore.entropy, sizeof(r.restore.entropy), 0) !=
		    (ssize_t)sizeof(r.restore.entropy))
			fail("getrandom");
		clock_gettime(CLOCK_REALTIME, &ts);
		r.restore.wall_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		r.restore.instance_id = str(restore_id);
		send_frame(&r);
		do {
			recv_msg(&m);
			print_msg(&m, 0, NULL);
		} while (m.type != GPROTO_READY);
	}
	if (ping) {
		struct gproto_msg p = { .type = GPROTO_PING, .req_id = 77 };

		send_frame(&p);
		do {
			recv_msg(&m);
			print_msg(&m, 0, NULL);
		} while (m.type != GPROTO_PONG);
	}
	if (do_init) {
		struct gproto_msg i = { .type = GPROTO_INIT };
		uint64_t t0;

		for (unsigned k = 0; k < n_env; k++) {
			char *eq = strchr(env_kv[k], '=');

			init_msg.env[k].key =
				(struct gproto_str){ env_kv[k], (uint32_t)(eq - env_kv[k]) };
			init_msg.env[k].value = str(eq + 1);
		}
		init_msg.env_count = n_env;
		i.init = init_msg;
		t0 = now_us();
		send_frame(&i);
		do {
			recv_msg(&m);
			print_msg(&m, (long)(now_us() - t0),
				  m.type == GPROTO_READY ? "init_us" : NULL);
		} while (m.type != GPROTO_READY && m.type != GPROTO_INIT_ERROR);
	}
	if (payload_file != NULL) {
		size_t len;

		inv.payload.p = read_file(payload_file, &len);
		inv.payload.len = (uint32_t)len;
	} else {
		inv.payload = (struct gproto_bytes){ (const uint8_t *)payload,
						     (uint32_t)strlen(payload) };
	}
	for (unsigned k = 0; k < invokes; k++)
		invoke(k + 1, &inv, false);
	if (bench > 0) {
		uint64_t *rtt = calloc(bench, sizeof(*rtt));

		if (rtt == NULL)
			fail("out of memory");
		for (unsigned k = 0; k < bench; k++)
			rtt[k] = invoke(1000000u + k, &inv, true);
		qsort(rtt, bench, sizeof(*rtt), cmp_u64);
		printf("{\"type\":\"BENCH\",\"n\":%u,\"p50_us\":%" PRIu64 ",\"p99_us\":%" PRIu64
		       ",\"max_us\":%" PRIu64 "}\n",
		       bench, rtt[bench / 2],
		       rtt[(bench * 99) / 100 < bench ? (bench * 99) / 100 : bench - 1],
		       rtt[bench - 1]);
	}
	printf("{\"type\":\"DONE\"}\n");
	return 0;
}
