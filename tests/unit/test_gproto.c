/* Unit tests for lib/gproto/gproto.c: the guest protocol codec and framer.
 *
 * The fuzz seeds (tests/fuzz/corpus/gproto/: one valid frame of every type, in
 * the harness's input format) must be what the encoder writes today; with
 * GPROTO_WRITE_CORPUS=<dir> set, the test also writes them there. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/gproto/gproto.h"

#define S(lit) ((struct gproto_str){ lit, sizeof(lit) - 1 })
#define ANY    (GPROTO_FROM_HOST | GPROTO_FROM_GUEST)

static uint8_t frame[1 << 16];
static const uint8_t payload[] = "{\"hello\":\"world\"}";

/* A valid sample of each message type. */
static void sample(unsigned type, struct gproto_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->type = (uint8_t)type;
	m->req_id = 0x0102030405060708ull;
	switch (type) {
	case GPROTO_INIT:
		m->init = (struct gproto_init){
			.function_name = S("hello"),
			.function_version = S("$LATEST"),
			.handler = S("index.handler"),
			.runtime = S("python3.12"),
			.function_arn = S("arn:aws:lambda:us-east-1:000000000000:function:hello"),
			.region = S("us-east-1"),
			.log_group = S("/aws/lambda/hello"),
			.log_stream = S("2026/11/27/[$LATEST]0123456789abcdef"),
			.memory_mib = 128,
			.timeout_ms = 3000,
			.log_format = GPROTO_LOG_JSON,
			.env_count = 2,
		};
		m->init.env[0] = (struct gproto_env){ S("GREETING"), S("a=b") };
		m->init.env[1] = (struct gproto_env){ S("EMPTY"), S("") };
		break;
	case GPROTO_INVOKE:
		m->invoke = (struct gproto_invoke){
			.request_id = S("8f5a1c0e-2b7d-4e49-9a53-6c1d2e3f4a5b"),
			.deadline_ms = 1795000000123ull,
			.invoked_arn = S("arn:aws:lambda:us-east-1:000000000000:function:hello"),
			.trace_id =
				S("Root=1-5e1b4151-5ac6c58f5b5dbd6a9ba27d3c;Parent=1;Sampled=0"),
			.client_context = S("{\"custom\":{\"k\":\"v\"}}"),
			.payload = { payload, sizeof(payload) - 1 },
		};
		break;
	case GPROTO_RESULT:
		m->result.payload = (struct gproto_bytes){ payload, sizeof(payload) - 1 };
		break;
	case GPROTO_ERROR:
	case GPROTO_INIT_ERROR:
		m->error.error_type = S("Runtime.ExitError");
		m->error.body =
			(struct gproto_bytes){ (const uint8_t *)"{\"errorType\":\"E\"}", 17 };
		break;
	case GPROTO_LOG:
		m->log.stream = GPROTO_STDERR;
		m->log.line = (struct gproto_bytes){ (const uint8_t *)"a\0line", 6 };
		break;
	case GPROTO_STATS:
		m->stats.peak_mem_bytes = 37748736;
		break;
	case GPROTO_RESTORE:
		for (unsigned i = 0; i < GPROTO_ENTROPY_LEN; i++)
			m->restore.entropy[i] = (uint8_t)(i * 7 + 1);
		m->restore.wall_ns = 1795000000123456789ull;
		m->restore.instance_id = S("i-0123456789abcdef");
		break;
	}
}

static size_t encode_ok(const struct gproto_msg *m, uint8_t *out, size_t cap)
{
	const char *why = NULL;
	size_t n;
	int ret = gproto_encode(m, out, cap, &n, &why);

	if (ret != 0)
		fail_msg("encode %s: %d %s", gproto_type_name(m->type), ret, why ? why : "");
	return n;
}

static int decode(const uint8_t *buf, size_t n, unsigned from, struct gproto_msg *m)
{
	struct gproto_hdr h;
	int ret = gproto_decode_header(buf, n, from, &h, NULL);

	if (ret == 0 && n - GPROTO_HDR_LEN != h.len)
		return -ERANGE; /* the test built an inconsistent frame */
	return ret ? ret : gproto_decode(&h, buf + GPROTO_HDR_LEN, m, NULL);
}

static void assert_str(struct gproto_str a, struct gproto_str b)
{
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.s, b.s ? b.s : "", b.len);
	assert_int_equal(a.s[a.len], 0); /* zero-copy strings are C strings */
}

static void assert_bytes(struct gproto_bytes a, struct gproto_bytes b)
{
	assert_int_equal(a.len, b.len);
	if (b.len)
		assert_memory_equal(a.p, b.p, b.len);
}

static void test_round_trip(void **state)
{
	static struct gproto_msg m, d;
	(void)state;

	for (unsigned t = 1; t <= GPROTO_TYPE_LAST; t++) {
		size_t n;

		sample(t, &m);
		n = encode_ok(&m, frame, sizeof(frame));
		assert_int_equal(decode(frame, n, ANY, &d), 0);
		assert_int_equal(d.type, t);
		assert_int_equal(d.req_id, m.req_id);
		switch (t) {
		case GPROTO_INIT:
			assert_str(d.init.function_name, m.init.function_name);
			assert_str(d.init.function_version, m.init.function_version);
			assert_str(d.init.handler, m.init.handler);
			assert_str(d.init.runtime, m.init.runtime);
			assert_str(d.init.function_arn, m.init.function_arn);
			assert_str(d.init.region, m.init.region);
			assert_str(d.init.log_group, m.init.log_group);
			assert_str(d.init.log_stream, m.init.log_stream);
			assert_int_equal(d.init.memory_mib, 128);
			assert_int_equal(d.init.timeout_ms, 3000);
			assert_int_equal(d.init.log_format, GPROTO_LOG_JSON);
			assert_int_equal(d.init.env_count, 2);
			for (unsigned i = 0; i < 2; i++) {
				assert_str(d.init.env[i].key, m.init.env[i].key);
				assert_str(d.init.env[i].value, m.init.env[i].value);
			}
			break;
		case GPROTO_INVOKE:
			assert_str(d.invoke.request_id, m.invoke.request_id);
			assert_int_equal(d.invoke.deadline_ms, m.invoke.deadline_ms);
			assert_str(d.invoke.invoked_arn, m.invoke.invoked_arn);
			assert_str(d.invoke.trace_id, m.invoke.trace_id);
			assert_str(d.invoke.client_context, m.invoke.client_context);
			assert_str(d.invoke.cognito_identity, m.invoke.cognito_identity);
			assert_bytes(d.invoke.payload, m.invoke.payload);
			break;
		case GPROTO_RESULT:
			assert_bytes(d.result.payload, m.result.payload);
			break;
		case GPROTO_ERROR:
		case GPROTO_INIT_ERROR:
			assert_str(d.error.error_type, m.error.error_type);
			assert_bytes(d.error.body, m.error.body);
			break;
		case GPROTO_LOG:
			assert_int_equal(d.log.stream, GPROTO_STDERR);
			assert_bytes(d.log.line, m.log.line);
			break;
		case GPROTO_STATS:
			assert_int_equal(d.stats.peak_mem_bytes, m.stats.peak_mem_bytes);
			break;
		case GPROTO_RESTORE:
			assert_memory_equal(d.restore.entropy, m.restore.entropy,
					    GPROTO_ENTROPY_LEN);
			assert_int_equal(d.restore.wall_ns, m.restore.wall_ns);
			assert_str(d.restore.instance_id, m.restore.instance_id);
			break;
		}
		/* The header's fields sit where gproto.h says, little-endian. */
		assert_memory_equal(frame, "EMGP\x01", 5);
		assert_int_equal(frame[5], t);
		assert_int_equal(frame[8] | frame[9] << 8 | frame[10] << 16, n - GPROTO_HDR_LEN);
		assert_int_equal(frame[12], 0x08);
		assert_int_equal(frame[19], 0x01);
	}
}

static void set_len(uint8_t *f, uint32_t len)
{
	for (unsigned i = 0; i < 4; i++)
		f[8 + i] = (uint8_t)(len >> (8 * i));
}

static void test_every_truncation_rejected(void **state)
{
	static uint8_t cut[sizeof(frame)];
	static struct gproto_msg m, d;
	(void)state;

	for (unsigned t = 1; t <= GPROTO_TYPE_LAST; t++) {
		struct gproto_reader r;
		struct gproto_frame f;
		size_t n;

		sample(t, &m);
		n = encode_ok(&m, frame, sizeof(frame));
		for (size_t k = 0; k < n; k++) {
			struct gproto_hdr h;

			memcpy(cut, frame, k);
			if (k < GPROTO_HDR_LEN) {
				assert_int_equal(gproto_decode_header(cut, k, ANY, &h, NULL),
						 -EINVAL);
			} else {
				/* A self-consistent frame whose body is a strict prefix. */
				set_len(cut, (uint32_t)(k - GPROTO_HDR_LEN));
				assert_true(decode(cut, k, ANY, &d) < 0);
			}
			/* The framer waits for the rest and yields nothing. */
			gproto_reader_init(&r, ANY);
			assert_int_equal(gproto_reader_feed(&r, frame, k), k);
			assert_int_equal(gproto_reader_next(&r, &f), 0);
			assert_int_equal(gproto_reader_pending(&r), k > 0);
			gproto_reader_free(&r);
		}
	}
}

static void test_header_rejects(void **state)
{
	static struct gproto_msg m;
	struct gproto_hdr h;
	const char *why = NULL;
	size_t n;
	(void)state;

	sample(GPROTO_READY, &m);
	n = encode_ok(&m, frame, sizeof(frame));
	assert_int_equal(n, GPROTO_HDR_LEN);
	assert_int_equal(gproto_decode_header(frame, n, GPROTO_FROM_GUEST, &h, NULL), 0);
	/* Direction: READY comes from the guest only. */
	assert_int_equal(gproto_decode_header(frame, n, GPROTO_FROM_HOST, &h, &why), -EPROTO);
	assert_non_null(why);
	frame[0] ^= 1;
	assert_int_equal(gproto_decode_header(frame, n, ANY, &h, &why), -EPROTO);
	assert_string_equal(why, "bad magic");
	frame[0] ^= 1;
	frame[4] = 2;
	assert_int_equal(gproto_decode_header(frame, n, ANY, &h, NULL), -EPROTONOSUPPORT);
	frame[4] = GPROTO_VERSION;
	for (unsigned t = 0; t < 256; t += t == 0 ? GPROTO_TYPE_LAST + 1 : 1) {
		frame[5] = (uint8_t)t;
		assert_int_equal(gproto_decode_header(frame, n, ANY, &h, NULL), -EPROTO);
	}
	frame[5] = GPROTO_READY;
	frame[7] = 0x80;
	assert_int_equal(gproto_decode_header(frame, n, ANY, &h, NULL), -EPROTO);
	frame[7] = 0;

	/* Oversize lengths fail from the header alone, before any body exists. */
	for (unsigned t = 1; t <= GPROTO_TYPE_LAST; t++) {
		frame[5] = (uint8_t)t;
		set_len(frame, (uint32_t)gproto_body_max(t) + 1);
		assert_int_equal(gproto_decode_header(frame, n, ANY, &h, NULL), -EMSGSIZE);
		set_len(frame, UINT32_MAX);
		assert_int_equal(gproto_decode_header(frame, n, ANY, &h, NULL), -EMSGSIZE);
	}
	assert_int_equal(gproto_body_max(GPROTO_PING), 0);
	assert_true(gproto_frame_max(GPROTO_FROM_HOST) < 7u << 20);
	assert_true(gproto_frame_max(GPROTO_FROM_GUEST) < 7u << 20);

	/* Per-invocation messages need a request id. */
	sample(GPROTO_RESULT, &m);
	n = encode_ok(&m, frame, sizeof(frame));
	memset(frame + 12, 0, 8);
	assert_int_equal(gproto_decode_header(frame, n, ANY, &h, NULL), -EPROTO);
	m.req_id = 0;
	assert_int_equal(gproto_encode(&m, frame, sizeof(frame), &n, NULL), -EINVAL);
}

/* Encodes m, overwrites the first `find` in the frame with `repl`, and expects
 * the decoder's `err`. Literals may hold NULs, hence the macro. */
#define expect_decode(m, find, repl, err)                                                          \
	expect_decode_(m, find, sizeof(find) - 1, repl, sizeof(repl) - 1, err)

static void expect_decode_(struct gproto_msg *m, const char *find, size_t flen, const char *repl,
			   size_t rlen, int err)
{
	static struct gproto_msg d;
	size_t n = encode_ok(m, frame, sizeof(frame));
	uint8_t *at = memmem(frame, n, find, flen);

	assert_non_null(at);
	memcpy(at, repl, rlen);
	assert_int_equal(decode(frame, n, ANY, &d), err);
}

static void test_env_validation(void **state)
{
	static struct gproto_msg m;
	static char big[GPROTO_ENV_VALUE_MAX + 1];
	size_t n;
	(void)state;

	sample(GPROTO_INIT, &m);
	m.init.env[0].key = S("BAD=KEY");
	assert_int_equal(gproto_encode(&m, frame, sizeof(frame), &n, NULL), -EINVAL);
	m.init.env[0].key = (struct gproto_str){ "A\0B", 3 };
	assert_int_equal(gproto_encode(&m, frame, sizeof(frame), &n, NULL), -EINVAL);
	m.init.env[0].key = S("");
	assert_int_equal(gproto_encode(&m, frame, sizeof(frame), &n, NULL), -EINVAL);
	m.init.env[0].key = S("K");
	m.init.env[0].value = (struct gproto_str){ "v\0w", 3 };
	assert_int_equal(gproto_encode(&m, frame, sizeof(frame), &n, NULL), -EINVAL);
	m.init.env_count = GPROTO_ENV_MAX + 1;
	assert_int_equal(gproto_encode(&m, NULL, 0, &n, NULL), -EMSGSIZE);
	/* Two values of 64 KiB each: each fits, together they do not. */
	memset(big, 'x', GPROTO_ENV_VALUE_MAX);
	sample(GPROTO_INIT, &m);
	m.init.env[0].value = (struct gproto_str){ big, GPROTO_ENV_VALUE_MAX - 20 };
	m.init.env[1].value = (struct gproto_str){ big, 100 };
	assert_int_equal(gproto_encode(&m, NULL, 0, &n, NULL), -EMSGSIZE);

	/* The decoder applies the same rules to what arrives. */
	sample(GPROTO_INIT, &m);
	expect_decode(&m, "GREETING", "GREE=ING", -EPROTO);
	expect_decode(&m, "GREETING", "GREE\0ING", -EPROTO);
	expect_decode(&m, "a=b", "a\0b", -EPROTO);
	expect_decode(&m, "\x05\0\0\0EMPTY", "\0\0\0\0", -EPROTO);	/* an empty key */
	expect_decode(&m, "\x02\0\0\0\x08", "\x01\x01\0\0", -EMSGSIZE); /* 257 variables */
}

static void test_field_validation(void **state)
{
	static struct gproto_msg m;
	size_t n;
	(void)state;

	sample(GPROTO_INVOKE, &m);
	m.invoke.trace_id = S("Root=1\r\nX-Evil: 1");
	assert_int_equal(gproto_encode(&m, frame, sizeof(frame), &n, NULL), -EINVAL);
	m.invoke.trace_id = S("");
	m.invoke.request_id = S("../../x y");
	assert_int_equal(gproto_encode(&m, frame, sizeof(frame), &n, NULL), -EINVAL);
	m.invoke.request_id = S("");
	assert_int_equal(gproto_encode(&m, frame, sizeof(frame), &n, NULL), -EINVAL);
	sample(GPROTO_INVOKE, &m);
	expect_decode(&m, "Sampled", "Sampl\n\r", -EPROTO);
	expect_decode(&m, "8f5a1c0e", "8f5a/c0e", -EPROTO);
	expect_decode(&m, "hello\0", "hello!", -EPROTO); /* missing terminator */
	sample(GPROTO_LOG, &m);
	m.log.stream = 3;
	assert_int_equal(gproto_encode(&m, frame, sizeof(frame), &n, NULL), -EINVAL);
	sample(GPROTO_LOG, &m);
	expect_decode(&m, "\x02\x06", "\x00\x06", -EPROTO);
	sample(GPROTO_INIT, &m);
	m.init.memory_mib = 0;
	assert_int_equal(gproto_encode(&m, frame, sizeof(frame), &n, NULL), -EINVAL);

	/* A valid body plus one byte is not valid. */
	sample(GPROTO_RESULT, &m);
	n = encode_ok(&m, frame, sizeof(frame));
	frame[n] = 0;
	set_len(frame, (uint32_t)(n + 1 - GPROTO_HDR_LEN));
	assert_int_equal(decode(frame, n + 1, ANY, &m), -EPROTO);
	/* Sizing call: cap 0 reports the size. */
	sample(GPROTO_STATS, &m);
	assert_int_equal(gproto_encode(&m, NULL, 0, &n, NULL), -EMSGSIZE);
	assert_int_equal(n, GPROTO_HDR_LEN + 8);
}

/* Payload of `max` bytes passes both ways; max + 1 fails both ways. */
static void check_max(unsigned type, uint32_t max)
{
	static struct gproto_msg m, d;
	uint8_t *pl = calloc(1, (size_t)max + 1);
	uint8_t *buf = malloc((size_t)max + 4096);
	struct gproto_bytes *b = type == GPROTO_INVOKE ? &m.invoke.payload : &m.result.payload;
	size_t n, off;

	assert_non_null(pl);
	assert_non_null(buf);
	sample(type, &m);
	*b = (struct gproto_bytes){ pl, max };
	n = encode_ok(&m, buf, (size_t)max + 4096);
	assert_int_equal(decode(buf, n, GPROTO_FROM_HOST | GPROTO_FROM_GUEST, &d), 0);
	assert_int_equal(type == GPROTO_INVOKE ? d.invoke.payload.len : d.result.payload.len, max);
	b->len = max + 1;
	assert_int_equal(gproto_encode(&m, buf, (size_t)max + 4096, &n, NULL), -EMSGSIZE);
	/* Forge it: the payload length field sits just before the payload bytes. */
	b->len = max;
	n = encode_ok(&m, buf, (size_t)max + 4096);
	off = n - max - 4;
	buf[off] = (uint8_t)(max + 1);
	buf[off + 1] = (uint8_t)((max + 1) >> 8);
	buf[off + 2] = (uint8_t)((max + 1) >> 16);
	buf[n] = 0;
	set_len(buf, (uint32_t)(n + 1 - GPROTO_HDR_LEN));
	assert_int_equal(decode(buf, n + 1, GPROTO_FROM_HOST | GPROTO_FROM_GUEST, &d), -EMSGSIZE);
	free(pl);
	free(buf);
}

static void test_max_payload(void **state)
{
	(void)state;
	check_max(GPROTO_INVOKE, GPROTO_PAYLOAD_MAX);
	check_max(GPROTO_RESULT, GPROTO_RESULT_MAX);
}

/* Every guest-sent type, back to back; returns the stream's length. */
static size_t guest_stream(uint8_t *out, size_t cap, size_t *count)
{
	static struct gproto_msg m;
	size_t len = 0;

	*count = 0;
	for (unsigned t = 1; t <= GPROTO_TYPE_LAST; t++) {
		if (!(gproto_type_senders(t) & GPROTO_FROM_GUEST))
			continue;
		sample(t, &m);
		len += encode_ok(&m, out + len, cap - len);
		(*count)++;
	}
	return len;
}

static void drain(struct gproto_reader *r, size_t *got)
{
	static struct gproto_msg d;
	struct gproto_frame f;
	int ret;

	while ((ret = gproto_reader_next(r, &f)) == 1) {
		assert_int_equal(gproto_decode(&f.hdr, f.body, &d, NULL), 0);
		(*got)++;
	}
	assert_int_equal(ret, 0);
}

static void test_framer(void **state)
{
	static uint8_t stream[8192];
	struct gproto_reader r;
	size_t count, got = 0, len = guest_stream(stream, sizeof(stream), &count);
	int sv[2];
	(void)state;

	/* Byte by byte. */
	gproto_reader_init(&r, GPROTO_FROM_GUEST);
	for (size_t i = 0; i < len; i++) {
		assert_int_equal(gproto_reader_feed(&r, stream + i, 1), 1);
		drain(&r, &got);
	}
	assert_int_equal(got, count);
	assert_false(gproto_reader_pending(&r));
	gproto_reader_free(&r);

	/* Several frames in one read(2), from a socket. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(write(sv[0], stream, len), len);
	gproto_reader_init(&r, GPROTO_FROM_GUEST);
	got = 0;
	assert_int_equal(gproto_reader_read(&r, sv[1]), len);
	drain(&r, &got);
	assert_int_equal(got, count);
	assert_int_equal(gproto_reader_read(&r, sv[1]), -EAGAIN);
	close(sv[0]);
	assert_int_equal(gproto_reader_read(&r, sv[1]), 0);
	close(sv[1]);

	/* A host-only type from the guest is an error, and it sticks. */
	{
		static struct gproto_msg m;
		struct gproto_frame f;
		size_t n;

		sample(GPROTO_INVOKE, &m);
		n = encode_ok(&m, stream, sizeof(stream));
		assert_int_equal(gproto_reader_feed(&r, stream, n), n);
		assert_int_equal(gproto_reader_next(&r, &f), -EPROTO);
		assert_non_null(r.why);
		assert_int_equal(gproto_reader_next(&r, &f), -EPROTO);
		assert_int_equal(gproto_reader_feed(&r, stream, 1), -EPROTO);
	}
	gproto_reader_free(&r);
}

static void test_framer_big_frame(void **state)
{
	static struct gproto_msg m, d;
	size_t cap = GPROTO_RESULT_MAX + 64, n, off = 0;
	uint8_t *buf = malloc(cap), *pl = malloc(GPROTO_RESULT_MAX);
	struct gproto_reader r;
	struct gproto_frame f;
	(void)state;

	assert_non_null(buf);
	assert_non_null(pl);
	memset(pl, 'r', GPROTO_RESULT_MAX);
	sample(GPROTO_RESULT, &m);
	m.result.payload = (struct gproto_bytes){ pl, GPROTO_RESULT_MAX };
	n = encode_ok(&m, buf, cap);
	gproto_reader_init(&r, GPROTO_FROM_GUEST);
	while (off < n) {
		ssize_t k = gproto_reader_feed(&r, buf + off, n - off < 1000 ? n - off : 1000);

		assert_true(k > 0);
		off += (size_t)k;
	}
	assert_int_equal(gproto_reader_next(&r, &f), 1);
	assert_int_equal(gproto_decode(&f.hdr, f.body, &d, NULL), 0);
	assert_int_equal(d.result.payload.len, GPROTO_RESULT_MAX);
	assert_true(r.cap <= gproto_frame_max(GPROTO_FROM_GUEST));
	/* The next frame lets the buffer fall back to its small size. */
	sample(GPROTO_READY, &m);
	n = encode_ok(&m, buf, cap);
	assert_int_equal(gproto_reader_feed(&r, buf, n), n);
	assert_true(r.cap < 1u << 20);
	gproto_reader_free(&r);
	free(buf);
	free(pl);
}

/* One seed of tests/fuzz/corpus/gproto: it must be the committed file, byte
 * for byte (a protocol change makes the committed seeds stale: regenerate
 * them with GPROTO_WRITE_CORPUS=DIR, which also writes each seed into DIR). */
static void check_seed(const char *name, const uint8_t *seed, size_t len)
{
	const char *dir = getenv("GPROTO_WRITE_CORPUS");
	char path[PATH_MAX];
	uint8_t *have = malloc(len + 1);
	FILE *fp;

	assert_non_null(have);
	if (dir != NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		fp = fopen(path, "wb");
		assert_non_null(fp);
		assert_int_equal(fwrite(seed, 1, len, fp), len);
		fclose(fp);
	}
	snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/gproto/%s", EMBER_SRC_DIR, name);
	fp = fopen(path, "rb");
	if (fp == NULL)
		fail_msg("%s: missing: regenerate the seeds with GPROTO_WRITE_CORPUS=DIR", path);
	if (fread(have, 1, len + 1, fp) != len || memcmp(have, seed, len) != 0)
		fail_msg("%s: stale: regenerate the seeds with GPROTO_WRITE_CORPUS=DIR", path);
	fclose(fp);
	free(have);
}

/* Seeds for the fuzzer: one control byte (see fuzz_gproto.c), then frames. */
static void test_fuzz_seeds_are_current(void **state)
{
	static struct gproto_msg m;
	static uint8_t seed[sizeof(frame) + 1];
	char name[64];

	(void)state;
	for (unsigned t = 1; t <= GPROTO_TYPE_LAST; t++) {
		sample(t, &m);
		seed[0] = 0x03 | 0x10; /* both directions, 5-byte chunks */
		size_t n = encode_ok(&m, seed + 1, sizeof(seed) - 1);
		snprintf(name, sizeof(name), "%02u-%s", t, gproto_type_name(t));
		check_seed(name, seed, n + 1);
	}
	seed[0] = GPROTO_FROM_GUEST; /* one-byte chunks */
	size_t count, n = guest_stream(seed + 1, sizeof(seed) - 1, &count);
	check_seed("00-guest-stream", seed, n + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_every_truncation_rejected),
		cmocka_unit_test(test_header_rejects),
		cmocka_unit_test(test_env_validation),
		cmocka_unit_test(test_field_validation),
		cmocka_unit_test(test_max_payload),
		cmocka_unit_test(test_framer),
		cmocka_unit_test(test_framer_big_frame),
		cmocka_unit_test(test_fuzz_seeds_are_current),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
