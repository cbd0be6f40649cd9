/* gproto: encoder and decoder of the guest protocol (see gproto.h; the framer is gproto_reader.c).
 *
 * Each message body is described once, by a table of fields; the encoder and
 * the decoder both walk that table, so the two cannot disagree on a layout or
 * a limit. The decoder reads through a bounded cursor that fails when the body
 * runs out, and checks every field before the caller sees any of it. */
#include <errno.h>
#include <string.h>

#include "lib/gproto/gproto.h"
#include "lib/util/le.h"

enum kind { K_U8, K_U32, K_U64, K_STR, K_BYTES, K_FIXED, K_ENV };
enum cls { C_TEXT, C_HDR, C_REQID };

struct field {
	uint8_t kind, cls;
	uint16_t off;	   /* in the message's struct */
	uint32_t min, max; /* value range (u8/u32), or length range (str/bytes) */
};

/* clang-format off */
#define U8(t, f, lo, hi)     { K_U8, 0, offsetof(t, f), lo, hi }
#define U32(t, f, lo, hi)    { K_U32, 0, offsetof(t, f), lo, hi }
#define U64(t, f)            { K_U64, 0, offsetof(t, f), 0, 0 }
#define STR(t, f, c, lo, hi) { K_STR, c, offsetof(t, f), lo, hi }
#define BYTES(t, f, hi)      { K_BYTES, 0, offsetof(t, f), 0, hi }
#define NAME(f)              STR(struct gproto_init, f, C_HDR, 0, GPROTO_NAME_MAX)
/* clang-format on */

static const struct field init_fields[] = {
	NAME(function_name),
	NAME(function_version),
	NAME(handler),
	NAME(runtime),
	NAME(function_arn),
	NAME(region),
	NAME(log_group),
	NAME(log_stream),
	U32(struct gproto_init, memory_mib, 1, UINT32_MAX),
	U32(struct gproto_init, timeout_ms, 1, UINT32_MAX),
	U8(struct gproto_init, log_format, GPROTO_LOG_TEXT, GPROTO_LOG_JSON),
	{ K_ENV, 0, 0, 0, GPROTO_ENV_MAX },
};

static const struct field invoke_fields[] = {
	STR(struct gproto_invoke, request_id, C_REQID, 1, GPROTO_REQUEST_ID_MAX),
	U64(struct gproto_invoke, deadline_ms),
	STR(struct gproto_invoke, invoked_arn, C_HDR, 0, GPROTO_NAME_MAX),
	STR(struct gproto_invoke, trace_id, C_HDR, 0, GPROTO_TRACE_ID_MAX),
	STR(struct gproto_invoke, client_context, C_HDR, 0, GPROTO_CONTEXT_MAX),
	STR(struct gproto_invoke, cognito_identity, C_HDR, 0, GPROTO_CONTEXT_MAX),
	BYTES(struct gproto_invoke, payload, GPROTO_PAYLOAD_MAX),
};

static const struct field result_fields[] = {
	BYTES(struct gproto_result, payload, GPROTO_RESULT_MAX),
};

static const struct field error_fields[] = {
	STR(struct gproto_error, error_type, C_HDR, 0, GPROTO_ERROR_TYPE_MAX),
	BYTES(struct gproto_error, body, GPROTO_RESULT_MAX),
};

static const struct field log_fields[] = {
	U8(struct gproto_log, stream, GPROTO_STDOUT, GPROTO_STDERR),
	BYTES(struct gproto_log, line, GPROTO_LOG_LINE_MAX),
};

static const struct field stats_fields[] = {
	U64(struct gproto_stats, peak_mem_bytes),
};

static const struct field restore_fields[] = {
	{ K_FIXED, 0, offsetof(struct gproto_restore, entropy), 0, GPROTO_ENTROPY_LEN },
	U64(struct gproto_restore, wall_ns),
	STR(struct gproto_restore, instance_id, C_HDR, 0, GPROTO_INSTANCE_ID_MAX),
};

struct msgdesc {
	const char *name;
	unsigned from;
	bool need_req; /* req_id must be nonzero */
	const struct field *fields;
	size_t nfields;
};

#define H    GPROTO_FROM_HOST
#define G    GPROTO_FROM_GUEST
#define F(a) a, sizeof(a) / sizeof(a[0])
static const struct msgdesc msgs[GPROTO_TYPE_LAST + 1] = {
	[GPROTO_INIT] = { "INIT", H, false, F(init_fields) },
	[GPROTO_READY] = { "READY", G, false, NULL, 0 },
	[GPROTO_INVOKE] = { "INVOKE", H, true, F(invoke_fields) },
	[GPROTO_RESULT] = { "RESULT", G, true, F(result_fields) },
	[GPROTO_ERROR] = { "ERROR", G, true, F(error_fields) },
	[GPROTO_LOG] = { "LOG", G, false, F(log_fields) },
	[GPROTO_INIT_ERROR] = { "INIT_ERROR", G, false, F(error_fields) },
	[GPROTO_STATS] = { "STATS", G, true, F(stats_fields) },
	[GPROTO_RESTORE] = { "RESTORE", H, false, F(restore_fields) },
	[GPROTO_PING] = { "PING", H | G, false, NULL, 0 },
	[GPROTO_PONG] = { "PONG", H | G, false, NULL, 0 },
};

static const struct msgdesc *desc(unsigned type)
{
	return type >= 1 && type <= GPROTO_TYPE_LAST ? &msgs[type] : NULL;
}

const char *gproto_type_name(unsigned type)
{
	return desc(type) ? desc(type)->name : "?";
}

unsigned gproto_type_senders(unsigned type)
{
	return desc(type) ? desc(type)->from : 0;
}

static size_t field_max(const struct field *f)
{
	switch (f->kind) {
	case K_U8:
		return 1;
	case K_U32:
		return 4;
	case K_U64:
		return 8;
	case K_STR:
		return 4 + (size_t)f->max + 1;
	case K_BYTES:
		return 4 + (size_t)f->max;
	case K_FIXED:
		return f->max;
	default: /* K_ENV: count, then per variable two str overheads, then the bytes */
		return 4 + (size_t)GPROTO_ENV_MAX * 2 * 5 + GPROTO_ENV_BYTES_MAX;
	}
}

size_t gproto_body_max(unsigned type)
{
	const struct msgdesc *d = desc(type);
	size_t n = 0;

	for (size_t i = 0; d && i < d->nfields; i++)
		n += field_max(&d->fields[i]);
	return n;
}

size_t gproto_frame_max(unsigned from)
{
	size_t max = 0;

	for (unsigned t = 1; t <= GPROTO_TYPE_LAST; t++)
		if ((msgs[t].from & from) && gproto_body_max(t) > max)
			max = gproto_body_max(t);
	return GPROTO_HDR_LEN + max;
}

static int fail(const char **why, const char *msg, int err)
{
	if (why)
		*why = msg;
	return err;
}

int gproto_decode_header(const uint8_t *buf, size_t len, unsigned from, struct gproto_hdr *h,
			 const char **why)
{
	const struct msgdesc *d;

	if (buf == NULL || len < GPROTO_HDR_LEN)
		return fail(why, "short header", -EINVAL);
	if (le_get(buf, 4) != GPROTO_MAGIC)
		return fail(why, "bad magic", -EPROTO);
	if (buf[4] != GPROTO_VERSION)
		return fail(why, "unsupported protocol version", -EPROTONOSUPPORT);
	d = desc(buf[5]);
	if (d == NULL)
		return fail(why, "unknown message type", -EPROTO);
	if (!(d->from & from))
		return fail(why, "message type not allowed from this peer", -EPROTO);
	if (le_get(buf + 6, 2) != 0)
		return fail(why, "nonzero reserved flags", -EPROTO);
	h->type = buf[5];
	h->len = (uint32_t)le_get(buf + 8, 4);
	h->req_id = le_get(buf + 12, 8);
	if (h->len > gproto_body_max(h->type))
		return fail(why, "body length over the limit for its type", -EMSGSIZE);
	if (d->need_req && h->req_id == 0)
		return fail(why, "request id 0 on a per-invocation message", -EPROTO);
	return 0;
}

/* Checks the bytes of a str (not its length) against its class. */
static int check_chars(const char *s, uint32_t n, unsigned cls, bool key, const char **why)
{
	for (uint32_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == 0)
			return fail(why, "NUL inside a string", -EPROTO);
		if (key && c == '=')
			return fail(why, "'=' in an environment variable name", -EPROTO);
		if (cls != C_TEXT && ((c < 0x20 && c != '\t') || c == 0x7f))
			return fail(why, "control character in a string", -EPROTO);
		if (cls == C_REQID && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
					(c >= 'A' && c <= 'Z') || c == '-' || c == '_' || c == '.'))
			return fail(why, "bad character in request id", -EPROTO);
	}
	return 0;
}

/* Bounded reader cursor: every take fails once the body runs out. */
struct cur {
	const uint8_t *p;
	size_t len, off;
};

static const uint8_t *take(struct cur *c, size_t n)
{
	const uint8_t *p = c->p + c->off;

	if (n > c->len - c->off)
		return NULL;
	c->off += n;
	return p;
}

static int take_str(struct cur *c, uint32_t lo, uint32_t hi, unsigned cls, bool key,
		    struct gproto_str *s, const char **why)
{
	const uint8_t *p = take(c, 4);
	const uint8_t *b;
	uint32_t n;

	if (p == NULL)
		return fail(why, "body ends inside a string length", -EPROTO);
	n = (uint32_t)le_get(p, 4);
	if (n > hi)
		return fail(why, "string over its limit", -EMSGSIZE);
	if (n < lo)
		return fail(why, "empty string", -EPROTO);
	b = take(c, (size_t)n + 1);
	if (b == NULL)
		return fail(why, "body ends inside a string", -EPROTO);
	if (b[n] != 0)
		return fail(why, "string not NUL-terminated", -EPROTO);
	s->s = (const char *)b;
	s->len = n;
	return check_chars(s->s, n, cls, key, why);
}

static int take_env(struct cur *c, struct gproto_init *in, const char **why)
{
	const uint8_t *p = take(c, 4);
	size_t total = 0;
	int ret;

	if (p == NULL)
		return fail(why, "body ends inside the env count", -EPROTO);
	in->env_count = (uint32_t)le_get(p, 4);
	if (in->env_count > GPROTO_ENV_MAX)
		return fail(why, "too many environment variables", -EMSGSIZE);
	for (uint32_t i = 0; i < in->env_count; i++) {
		struct gproto_env *e = &in->env[i];

		ret = take_str(c, 1, GPROTO_ENV_KEY_MAX, C_TEXT, true, &e->key, why);
		if (ret == 0)
			ret = take_str(c, 0, GPROTO_ENV_VALUE_MAX, C_TEXT, false, &e->value, why);
		if (ret < 0)
			return ret;
		total += (size_t)e->key.len + e->value.len;
		if (total > GPROTO_ENV_BYTES_MAX)
			return fail(why, "environment over its total size", -EMSGSIZE);
	}
	return 0;
}

static int take_field(struct cur *c, const struct field *f, uint8_t *base, const char **why)
{
	static const unsigned width[] = { [K_U8] = 1, [K_U32] = 4, [K_U64] = 8 };
	struct gproto_bytes *b = (struct gproto_bytes *)(base + f->off);
	const uint8_t *p;
	uint64_t v;

	switch (f->kind) {
	case K_STR:
		return take_str(c, f->min, f->max, f->cls, false,
				(struct gproto_str *)(base + f->off), why);
	case K_ENV:
		return take_env(c, (struct gproto_init *)base, why);
	case K_FIXED:
		if ((p = take(c, f->max)) == NULL)
			return fail(why, "body ends inside a fixed field", -EPROTO);
		memcpy(base + f->off, p, f->max);
		return 0;
	case K_BYTES:
		if ((p = take(c, 4)) == NULL)
			return fail(why, "body ends inside a payload length", -EPROTO);
		b->len = (uint32_t)le_get(p, 4);
		if (b->len > f->max)
			return fail(why, "payload over its limit", -EMSGSIZE);
		if ((b->p = take(c, b->len)) == NULL)
			return fail(why, "body ends inside a payload", -EPROTO);
		return 0;
	}
	if ((p = take(c, width[f->kind])) == NULL)
		return fail(why, "body ends inside an integer", -EPROTO);
	v = le_get(p, width[f->kind]);
	if (f->kind != K_U64 && (v < f->min || v > f->max))
		return fail(why, "integer field out of range", -EPROTO);
	if (f->kind == K_U8)
		*(base + f->off) = (uint8_t)v;
	else if (f->kind == K_U32)
		*(uint32_t *)(base + f->off) = (uint32_t)v;
	else
		*(uint64_t *)(base + f->off) = v;
	return 0;
}

int gproto_decode(const struct gproto_hdr *h, const uint8_t *body, struct gproto_msg *m,
		  const char **why)
{
	const struct msgdesc *d = desc(h->type);
	struct cur c = { body, h->len, 0 };
	int ret;

	if (d == NULL || h->len > gproto_body_max(h->type) || (body == NULL && h->len) ||
	    (d->need_req && h->req_id == 0))
		return fail(why, "frame header not validated", -EINVAL);
	m->type = h->type;
	m->req_id = h->req_id;
	for (size_t i = 0; i < d->nfields; i++)
		if ((ret = take_field(&c, &d->fields[i], (uint8_t *)&m->init, why)) < 0)
			return ret;
	if (c.off != c.len)
		return fail(why, "trailing bytes after the body", -EPROTO);
	return 0;
}

/* Encoder: a writer that counts what it cannot store, so that one pass both
 * sizes and writes the frame. */
struct wr {
	uint8_t *p;
	size_t cap, len;
};

static void put(struct wr *w, const void *src, size_t n)
{
	if (n && w->len <= w->cap && n <= w->cap - w->len)
		memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void put_int(struct wr *w, uint64_t v, unsigned n)
{
	uint8_t b[8];

	le_put(b, v, n);
	put(w, b, n);
}

/* The decoder's errors mean "invalid message" to an encoder's caller. */
static int bad(int ret)
{
	return ret == -EMSGSIZE ? ret : -EINVAL;
}

static int put_str(struct wr *w, const struct gproto_str *s, uint32_t lo, uint32_t hi, unsigned cls,
		   bool key, const char **why)
{
	int ret;

	if (s->len > hi)
		return fail(why, "string over its limit", -EMSGSIZE);
	if (s->len < lo || (s->s == NULL && s->len))
		return fail(why, "empty string", -EINVAL);
	if ((ret = check_chars(s->s, s->len, cls, key, why)) < 0)
		return bad(ret);
	put_int(w, s->len, 4);
	put(w, s->s, s->len);
	put_int(w, 0, 1);
	return 0;
}

static int put_env(struct wr *w, const struct gproto_init *in, const char **why)
{
	size_t total = 0;
	int ret;

	if (in->env_count > GPROTO_ENV_MAX)
		return fail(why, "too many environment variables", -EMSGSIZE);
	put_int(w, in->env_count, 4);
	for (uint32_t i = 0; i < in->env_count; i++) {
		const struct gproto_env *e = &in->env[i];

		ret = put_str(w, &e->key, 1, GPROTO_ENV_KEY_MAX, C_TEXT, true, why);
		if (ret == 0)
			ret = put_str(w, &e->value, 0, GPROTO_ENV_VALUE_MAX, C_TEXT, false, why);
		if (ret < 0)
			return ret;
		total += (size_t)e->key.len + e->value.len;
		if (total > GPROTO_ENV_BYTES_MAX)
			return fail(why, "environment over its total size", -EMSGSIZE);
	}
	return 0;
}

static int put_field(struct wr *w, const struct field *f, const uint8_t *base, const char **why)
{
	const struct gproto_bytes *b = (const struct gproto_bytes *)(base + f->off);
	uint64_t v;

	switch (f->kind) {
	case K_STR:
		return put_str(w, (const struct gproto_str *)(base + f->off), f->min, f->max,
			       f->cls, false, why);
	case K_ENV:
		return put_env(w, (const struct gproto_init *)base, why);
	case K_FIXED:
		put(w, base + f->off, f->max);
		return 0;
	case K_BYTES:
		if (b->len > f->max)
			return fail(why, "payload over its limit", -EMSGSIZE);
		if (b->p == NULL && b->len)
			return fail(why, "payload pointer is NULL", -EINVAL);
		put_int(w, b->len, 4);
		put(w, b->p, b->len);
		return 0;
	case K_U8:
		v = base[f->off];
		break;
	case K_U32:
		v = *(const uint32_t *)(base + f->off);
		break;
	default:
		put_int(w, *(const uint64_t *)(base + f->off), 8);
		return 0;
	}
	if (v < f->min || v > f->max)
		return fail(why, "integer field out of range", -EINVAL);
	put_int(w, v, f->kind == K_U8 ? 1 : 4);
	return 0;
}

int gproto_encode(const struct gproto_msg *m, uint8_t *out, size_t cap, size_t *len,
		  const char **why)
{
	const struct msgdesc *d = desc(m->type);
	struct wr w = { out, out ? cap : 0, GPROTO_HDR_LEN };
	uint8_t hdr[GPROTO_HDR_LEN];
	int ret;

	*len = 0;
	if (d == NULL)
		return fail(why, "unknown message type", -EINVAL);
	if (d->need_req && m->req_id == 0)
		return fail(why, "request id 0 on a per-invocation message", -EINVAL);
	for (size_t i = 0; i < d->nfields; i++)
		if ((ret = put_field(&w, &d->fields[i], (const uint8_t *)&m->init, why)) < 0)
			return ret;
	le_put(hdr, GPROTO_MAGIC, 4);
	hdr[4] = GPROTO_VERSION;
	hdr[5] = m->type;
	le_put(hdr + 6, 0, 2);
	le_put(hdr + 8, w.len - GPROTO_HDR_LEN, 4);
	le_put(hdr + 12, m->req_id, 8);
	*len = w.len;
	if (w.len > w.cap)
		return fail(why, "output buffer too small", -EMSGSIZE);
	memcpy(out, hdr, GPROTO_HDR_LEN);
	return 0;
}
