/* gproto: the guest protocol between emberd (host) and ember-init (guest PID 1).
 *
 * Transport. The host connects to the VM's hybrid vsock Unix socket, sends
 * "CONNECT 1024\n" (GPROTO_PORT), and gets "OK <n>\n"; from then on both sides
 * exchange frames on that stream. ember-init listens on vsock port 1024 and
 * serves one connection at a time. Connections do not survive a snapshot
 * restore: the host simply connects again and sends RESTORE.
 *
 * Frame. A fixed 20-byte header, then `length` body bytes. Every integer, in
 * the header and in bodies, is little-endian and written byte by byte (never a
 * struct memcpy):
 *
 *   off  size  field
 *     0     4  magic    GPROTO_MAGIC, the bytes "EMGP"
 *     4     1  version  GPROTO_VERSION; any other version is refused
 *     5     1  type     enum gproto_type
 *     6     2  flags    reserved, must be 0
 *     8     4  length   body length, at most gproto_body_max(type)
 *    12     8  req_id   invocation number chosen by the host (0 = none)
 *
 * Request ids. Lambda request ids are UUID strings; the string travels once,
 * in the INVOKE body. The header carries a u64 the host picks per invocation
 * (nonzero, unique on the connection, e.g. a counter). The guest echoes it in
 * every RESULT, ERROR, STATS and LOG frame of that invocation. PONG echoes the
 * req_id of its PING. Other frames may carry any value; it is not checked.
 *
 * Body fields, in the order listed per message below:
 *   u8/u32/u64  little-endian integer
 *   str         u32 n, n bytes, one 0 byte. n <= the field's limit; the n
 *               bytes contain no NUL, and the 0 byte must be there. Decoded
 *               strings therefore point into the receive buffer and are
 *               NUL-terminated C strings (zero-copy).
 *   hdrstr      a str that also contains no control byte (< 0x20 except tab,
 *               or 0x7f): it may end up in an HTTP header or an env var.
 *   bytes       u32 n, n bytes, no terminator (payloads, log lines).
 *   fixed[N]    exactly N bytes.
 * A body must be consumed exactly: missing or trailing bytes are an error.
 *
 * Messages (H = host sends, G = guest sends):
 *   INIT        H  hdrstr function_name, function_version, handler, runtime,
 *                  function_arn, region, log_group, log_stream (each <= GPROTO_NAME_MAX);
 *                  u32 memory_mib (>= 1); u32 timeout_ms (>= 1);
 *                  u8 log_format (enum gproto_log_format);
 *                  u32 env_count (<= GPROTO_ENV_MAX), then env_count times
 *                  str key (1..GPROTO_ENV_KEY_MAX, no '=') and str value
 *                  (<= GPROTO_ENV_VALUE_MAX); all keys and values together
 *                  <= GPROTO_ENV_BYTES_MAX. The guest derives the Lambda
 *                  variables from the named fields (_HANDLER, AWS_REGION and
 *                  AWS_DEFAULT_REGION, AWS_LAMBDA_FUNCTION_NAME/_VERSION/
 *                  _MEMORY_SIZE, AWS_LAMBDA_LOG_GROUP_NAME/_STREAM_NAME,
 *                  AWS_EXECUTION_ENV=AWS_Lambda_<runtime>); env carries the
 *                  user's variables and any credentials.
 *   READY       G  empty: the runtime waits in /runtime/invocation/next.
 *   INVOKE      H  req_id != 0. hdrstr request_id (1..GPROTO_REQUEST_ID_MAX,
 *                  only [A-Za-z0-9._-]); u64 deadline_ms (ms since the epoch);
 *                  hdrstr invoked_arn (<= GPROTO_NAME_MAX); hdrstr trace_id
 *                  (<= GPROTO_TRACE_ID_MAX); hdrstr client_context and hdrstr
 *                  cognito_identity (<= GPROTO_CONTEXT_MAX; empty = absent;
 *                  JSON on one line, as they become Runtime API headers);
 *                  bytes payload (<= GPROTO_PAYLOAD_MAX).
 *   RESULT      G  req_id != 0. bytes payload (<= GPROTO_RESULT_MAX).
 *   ERROR       G  req_id != 0. hdrstr error_type (<= GPROTO_ERROR_TYPE_MAX,
 *                  empty = the runtime sent none); bytes body (the error JSON,
 *                  <= GPROTO_RESULT_MAX).
 *   INIT_ERROR  G  same body as ERROR: /runtime/init/error, or the runtime died
 *                  before READY.
 *   LOG         G  u8 stream (enum gproto_stream); bytes line (<=
 *                  GPROTO_LOG_LINE_MAX, without its newline). req_id = the
 *                  invocation, or 0 outside any invocation (init).
 *   STATS       G  req_id != 0. u64 peak_mem_bytes: peak memory in use during
 *                  the invocation, read in the guest. Sent before RESULT/ERROR.
 *   RESTORE     H  fixed[GPROTO_ENTROPY_LEN] entropy; u64 wall_ns (ns since
 *                  the epoch); hdrstr instance_id (<= GPROTO_INSTANCE_ID_MAX).
 *   PING, PONG  H,G  empty. Either side may ping; the other answers PONG.
 *
 * Errors. Every function returns 0 (or a count, where said) or a negative
 * errno: -EPROTO for a malformed frame (bad magic, flags, type not sent by that
 * peer, body not matching its layout), -EPROTONOSUPPORT for another version,
 * -EMSGSIZE for a length or field over its limit, -EINVAL for a bad argument
 * or an invalid message given to the encoder. Functions that take
 * `const char **why` set it, on failure, to a static string naming what was
 * wrong (for a log line; may be NULL). A receiver that gets any error closes
 * the connection: there is no resynchronisation inside a stream. Nothing here
 * logs, allocates (except the reader), or keeps global state; all functions
 * are safe from any thread on distinct objects. */
#ifndef EMBER_GPROTO_H
#define EMBER_GPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define GPROTO_PORT    1024u
#define GPROTO_MAGIC   0x50474d45u /* "EMGP" read as a little-endian u32 */
#define GPROTO_VERSION 1u
#define GPROTO_HDR_LEN 20u

/* Field limits (bytes, strings without their terminator). */
#define GPROTO_NAME_MAX	       512u		 /* names, ARNs, handler, region, log group */
#define GPROTO_ENV_MAX	       256u		 /* environment variables per INIT */
#define GPROTO_ENV_KEY_MAX     256u		 /* one key */
#define GPROTO_ENV_VALUE_MAX   65536u		 /* one value */
#define GPROTO_ENV_BYTES_MAX   65536u		 /* all keys + values (Lambda allows 4 KB) */
#define GPROTO_REQUEST_ID_MAX  64u		 /* a UUID is 36 */
#define GPROTO_TRACE_ID_MAX    1024u		 /* X-Amzn-Trace-Id */
#define GPROTO_CONTEXT_MAX     8192u		 /* client context (3583 B base64), cognito */
#define GPROTO_PAYLOAD_MAX     6291456u		 /* Lambda's sync request limit */
#define GPROTO_RESULT_MAX      (6291456u + 100u) /* Lambda's runtime response limit */
#define GPROTO_ERROR_TYPE_MAX  1024u
#define GPROTO_LOG_LINE_MAX    262144u /* a CloudWatch event */
#define GPROTO_ENTROPY_LEN     64u
#define GPROTO_INSTANCE_ID_MAX 128u

enum gproto_type {
	GPROTO_INIT = 1,
	GPROTO_READY,
	GPROTO_INVOKE,
	GPROTO_RESULT,
	GPROTO_ERROR,
	GPROTO_LOG,
	GPROTO_INIT_ERROR,
	GPROTO_STATS,
	GPROTO_RESTORE,
	GPROTO_PING,
	GPROTO_PONG,
};
#define GPROTO_TYPE_LAST GPROTO_PONG

/* Who sent a frame; a mask, so that PING/PONG can be from both. */
#define GPROTO_FROM_HOST  1u
#define GPROTO_FROM_GUEST 2u

enum gproto_log_format { GPROTO_LOG_TEXT = 0, GPROTO_LOG_JSON = 1 };
enum gproto_stream { GPROTO_STDOUT = 1, GPROTO_STDERR = 2 };

/* A decoded str: s points into the frame and is NUL-terminated (s[len] == 0).
 * For encoding, s needs no terminator; s may be NULL when len is 0. */
struct gproto_str {
	const char *s;
	uint32_t len;
};

struct gproto_bytes {
	const uint8_t *p;
	uint32_t len;
};

struct gproto_env {
	struct gproto_str key, value;
};

struct gproto_init {
	struct gproto_str function_name, function_version, handler, runtime;
	struct gproto_str function_arn, region, log_group, log_stream;
	uint32_t memory_mib;
	uint32_t timeout_ms;
	uint8_t log_format;
	uint32_t env_count;
	struct gproto_env env[GPROTO_ENV_MAX];
};

struct gproto_invoke {
	struct gproto_str request_id;
	uint64_t deadline_ms;
	struct gproto_str invoked_arn, trace_id, client_context, cognito_identity;
	struct gproto_bytes payload;
};

struct gproto_result {
	struct gproto_bytes payload;
};

/* ERROR and INIT_ERROR. */
struct gproto_error {
	struct gproto_str error_type;
	struct gproto_bytes body;
};

struct gproto_log {
	uint8_t stream;
	struct gproto_bytes line;
};

struct gproto_stats {
	uint64_t peak_mem_bytes;
};

struct gproto_restore {
	uint8_t entropy[GPROTO_ENTROPY_LEN];
	uint64_t wall_ns;
	struct gproto_str instance_id;
};

/* One message. Only the member matching `type` is meaningful; READY, PING and
 * PONG have no body. Decoded pointers stay valid while the frame's buffer does. */
struct gproto_msg {
	uint8_t type; /* enum gproto_type */
	uint64_t req_id;
	union {
		struct gproto_init init;
		struct gproto_invoke invoke;
		struct gproto_result result;
		struct gproto_error error;
		struct gproto_log log;
		struct gproto_stats stats;
		struct gproto_restore restore;
	};
};

struct gproto_hdr {
	uint8_t type;
	uint32_t len;
	uint64_t req_id;
};

/* "INVOKE", ..., or "?" for an unknown type. */
const char *gproto_type_name(unsigned type);
/* GPROTO_FROM_* mask of who may send `type`; 0 for an unknown type. */
unsigned gproto_type_senders(unsigned type);
/* Largest body `type` can have (0 for unknown types and empty messages). */
size_t gproto_body_max(unsigned type);
/* Largest frame (header + body) any type in the `from` mask can have. */
size_t gproto_frame_max(unsigned from);

/* Validates the GPROTO_HDR_LEN bytes at buf (len must be at least that):
 * magic, version, a known type that a sender in `from` may send, zero flags,
 * and length <= gproto_body_max(type). Call it before reading the body. */
int gproto_decode_header(const uint8_t *buf, size_t len, unsigned from, struct gproto_hdr *h,
			 const char **why);

/* Validates the body of a frame whose header passed gproto_decode_header()
 * (body holds h->len bytes) completely, and fills *m with pointers into body. */
int gproto_decode(const struct gproto_hdr *h, const uint8_t *body, struct gproto_msg *m,
		  const char **why);

/* Checks *m against the same rules as the decoder, then writes the frame to
 * out. *len is set to the frame's size whenever *m is valid, also when cap is
 * too small (then -EMSGSIZE): call with cap 0 to size a buffer. */
int gproto_encode(const struct gproto_msg *m, uint8_t *out, size_t cap, size_t *len,
		  const char **why);

/* The framer (gproto_reader.c): accumulates stream bytes in a buffer that grows to fit the frame
 * being received (never beyond gproto_frame_max(from)) and shrinks back after
 * a large one, and yields complete frames whose header it has validated.
 * One reader per connection, used by one thread. An error is sticky: every
 * later call returns it, and the caller should close the connection. */
struct gproto_reader {
	unsigned from;
	uint8_t *buf;
	size_t cap, start, end;
	int err;
	const char *why;
};

/* A frame returned by gproto_reader_next(): body stays valid until the next
 * gproto_reader_feed(), _read() or _free() (later _next() calls keep it). */
struct gproto_frame {
	struct gproto_hdr hdr;
	const uint8_t *body;
};

/* `from`: GPROTO_FROM_HOST in the guest, GPROTO_FROM_GUEST on the host. */
void gproto_reader_init(struct gproto_reader *r, unsigned from);
void gproto_reader_free(struct gproto_reader *r);
/* Appends up to n bytes; returns how many it took (fewer when the buffer
 * holds complete frames: call gproto_reader_next() first), or -errno. */
ssize_t gproto_reader_feed(struct gproto_reader *r, const void *data, size_t n);
/* One read(2) from fd (typically non-blocking) into the buffer. Returns the
 * number of bytes read, 0 at end of stream, -EAGAIN, or another -errno. */
ssize_t gproto_reader_read(struct gproto_reader *r, int fd);
/* 1 and *f set if a complete frame is buffered, 0 if more bytes are needed,
 * or -errno if the stream is malformed (r->why says why). Only the header is
 * validated here: pass the frame to gproto_decode(). */
int gproto_reader_next(struct gproto_reader *r, struct gproto_frame *f);
/* True if bytes of an incomplete frame are buffered (EOF now = truncation). */
bool gproto_reader_pending(const struct gproto_reader *r);

#endif
