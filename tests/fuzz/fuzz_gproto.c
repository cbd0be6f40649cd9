/* fuzz_gproto: libFuzzer harness for the guest protocol (lib/gproto*.c).
 *
 * Input: one control byte, then a byte stream as it would arrive on the vsock
 * connection. Control bits 0-1 pick the reader's peer mask (0 = both peers),
 * bits 2-7 the chunk size - 1 in which the stream is fed to the framer.
 *
 * 1. The framer takes the stream chunk by chunk and every frame it yields goes
 *    to gproto_decode(). A frame that decodes must encode back to exactly the
 *    same bytes (the encoder and decoder agree on every layout and limit).
 * 2. Every decoder also runs on the raw stream as a body, whatever the header
 *    would have said, so body validation sees arbitrary bytes for each type.
 * Whatever the bytes, nothing may crash, read out of bounds or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/gproto/gproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gproto_msg msg;

static void check_round_trip(const struct gproto_frame *f)
{
	size_t n = GPROTO_HDR_LEN + (size_t)f->hdr.len, len;
	uint8_t *out;

	if (gproto_decode(&f->hdr, f->body, &msg, NULL) < 0)
		return;
	out = malloc(n);
	if (out == NULL)
		return;
	if (gproto_encode(&msg, out, n, &len, NULL) != 0 || len != n ||
	    memcmp(out, f->body - GPROTO_HDR_LEN, n) != 0)
		__builtin_trap();
	free(out);
}

static void run_framer(unsigned from, size_t chunk, const uint8_t *p, size_t size)
{
	struct gproto_reader r;
	struct gproto_frame f;
	size_t off = 0;
	int ret = 0;

	gproto_reader_init(&r, from);
	while (off < size && ret >= 0) {
		size_t n = size - off < chunk ? size - off : chunk;
		ssize_t k = gproto_reader_feed(&r, p + off, n);

		if (k < 0)
			break;
		if (k == 0)
			__builtin_trap(); /* once drained, the framer always has room */
		off += (size_t)k;
		while ((ret = gproto_reader_next(&r, &f)) == 1) {
			if (!(gproto_type_senders(f.hdr.type) & from))
				__builtin_trap();
			check_round_trip(&f);
		}
		if (ret < 0 && r.why == NULL)
			__builtin_trap(); /* every error says why */
	}
	gproto_reader_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned from;
	size_t chunk;

	if (size < 1)
		return 0;
	from = data[0] & 3u ? data[0] & 3u : GPROTO_FROM_HOST | GPROTO_FROM_GUEST;
	chunk = (size_t)(data[0] >> 2) + 1;
	data++;
	size--;
	run_framer(from, chunk, data, size);

	for (unsigned t = 1; t <= GPROTO_TYPE_LAST; t++) {
		size_t max = gproto_body_max(t);
		struct gproto_hdr h = { (uint8_t)t, (uint32_t)(size < max ? size : max), 1 };
		/* An exact-size copy, so ASan sees a read one byte past the body. */
		uint8_t *body = malloc(h.len ? h.len : 1);

		if (body == NULL)
			return 0;
		memcpy(body, data, h.len);
		gproto_decode(&h, body, &msg, NULL);
		free(body);
	}
	return 0;
}
