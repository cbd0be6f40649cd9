/* Unit tests for vmm/devices/virtio/vsock/packet.c: header decode/encode and each malformed form. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/devices/virtio/vsock/packet.h"
#include "lib/util/log.h"
#include "tests/unit/struct_eq.h"

#define CID 3u

static uint8_t buf[VSOCK_HDR_SIZE + 256];
static struct vq_chain chain;

/* A chain of one readable segment over buf[0..len), or split in two at `split`. */
static const struct vq_chain *mk(size_t len, size_t split)
{
	memset(&chain, 0, sizeof(chain));
	if (split > 0 && split < len) {
		chain.seg[0] = (struct vq_seg){ .host = buf, .len = (uint32_t)split };
		chain.seg[1] =
			(struct vq_seg){ .host = buf + split, .len = (uint32_t)(len - split) };
		chain.nread = 2;
	} else {
		chain.seg[0] = (struct vq_seg){ .host = buf, .len = (uint32_t)len };
		chain.nread = 1;
	}
	chain.read_len = (uint32_t)len;
	return &chain;
}

static struct vsock_hdr good(uint32_t len)
{
	return (struct vsock_hdr){ .src_cid = CID,
				   .dst_cid = VSOCK_HOST_CID,
				   .src_port = 1234,
				   .dst_port = 1024,
				   .len = len,
				   .type = VSOCK_TYPE_STREAM,
				   .op = VSOCK_OP_RW,
				   .flags = 0,
				   .buf_alloc = 65536,
				   .fwd_cnt = 77 };
}

static enum vsock_pkt_verdict parse(const struct vsock_hdr *in, size_t chain_len,
				    struct vsock_hdr *out)
{
	vsock_hdr_encode(in, buf);
	return vsock_pkt_parse(mk(chain_len, 0), CID, out, NULL);
}

static void test_layout_is_little_endian(void **state)
{
	struct vsock_hdr h = { .src_cid = 0x0102030405060708ull,
			       .dst_cid = 2,
			       .src_port = 0xaabbccdd,
			       .dst_port = 5,
			       .len = 0x11223344,
			       .type = 1,
			       .op = 0x0506,
			       .flags = 3,
			       .buf_alloc = 0x99,
			       .fwd_cnt = 0xdeadbeef };
	struct vsock_hdr back;
	uint8_t raw[VSOCK_HDR_SIZE];

	(void)state;
	vsock_hdr_encode(&h, raw);
	assert_int_equal(raw[0], 0x08);
	assert_int_equal(raw[7], 0x01);
	assert_int_equal(raw[8], 2);
	assert_int_equal(raw[16], 0xdd);
	assert_int_equal(raw[24], 0x44);
	assert_int_equal(raw[28], 1);
	assert_int_equal(raw[30], 0x06);
	assert_int_equal(raw[31], 0x05);
	assert_int_equal(raw[32], 3);
	assert_int_equal(raw[36], 0x99);
	assert_int_equal(raw[43], 0xde);
	vsock_hdr_decode(raw, &back);
	assert_fields_equal(eq_vsock_hdr, &h, &back);
}

static void test_valid_headers(void **state)
{
	struct vsock_hdr h = good(0), out;

	(void)state;
	for (uint16_t op = VSOCK_OP_REQUEST; op <= VSOCK_OP_MAX; op++) {
		h.op = op;
		assert_int_equal(parse(&h, VSOCK_HDR_SIZE, &out), VSOCK_PKT_OK);
		assert_int_equal(out.op, op);
		assert_int_equal(out.src_port, 1234);
		assert_int_equal(out.fwd_cnt, 77);
	}
	/* RW with payload, the header split across two segments. */
	h = good(100);
	vsock_hdr_encode(&h, buf);
	assert_int_equal(vsock_pkt_parse(mk(VSOCK_HDR_SIZE + 100, 10), CID, &out, NULL),
			 VSOCK_PKT_OK);
	assert_int_equal(out.len, 100);
	/* Extra bytes after the payload are allowed. */
	assert_int_equal(parse(&h, VSOCK_HDR_SIZE + 200, &out), VSOCK_PKT_OK);
}

static void test_short_header(void **state)
{
	struct vsock_hdr h = good(0), out;
	const char *why = NULL;

	(void)state;
	vsock_hdr_encode(&h, buf);
	assert_int_equal(vsock_pkt_parse(mk(VSOCK_HDR_SIZE - 1, 0), CID, &out, &why),
			 VSOCK_PKT_DROP);
	assert_string_equal(why, "short header");
	memset(&chain, 0, sizeof(chain)); /* no readable part at all */
	assert_int_equal(vsock_pkt_parse(&chain, CID, &out, NULL), VSOCK_PKT_DROP);
}

static void test_len_beyond_payload(void **state)
{
	struct vsock_hdr h = good(101), out;

	(void)state;
	assert_int_equal(parse(&h, VSOCK_HDR_SIZE + 100, &out), VSOCK_PKT_DROP);
	h.len = UINT32_MAX;
	assert_int_equal(parse(&h, VSOCK_HDR_SIZE + 100, &out), VSOCK_PKT_DROP);
}

static void test_len_over_max(void **state)
{
	struct vsock_hdr h = good(VSOCK_MAX_PKT + 1), out;
	const char *why = NULL;

	(void)state;
	vsock_hdr_encode(&h, buf);
	memset(&chain, 0, sizeof(chain));
	chain.seg[0] = (struct vq_seg){ .host = buf, .len = VSOCK_HDR_SIZE };
	chain.nread = 1;
	chain.read_len = VSOCK_HDR_SIZE + VSOCK_MAX_PKT + 10; /* claims enough payload */
	assert_int_equal(vsock_pkt_parse(&chain, CID, &out, &why), VSOCK_PKT_DROP);
	assert_string_equal(why, "len over the host maximum");
}

static void test_bad_type(void **state)
{
	struct vsock_hdr h = good(0), out;

	(void)state;
	h.type = 2; /* SEQPACKET: not offered */
	assert_int_equal(parse(&h, VSOCK_HDR_SIZE, &out), VSOCK_PKT_RST);
	h.type = 0;
	assert_int_equal(parse(&h, VSOCK_HDR_SIZE, &out), VSOCK_PKT_RST);
	h.op = VSOCK_OP_RST; /* never answer an RST */
	assert_int_equal(parse(&h, VSOCK_HDR_SIZE, &out), VSOCK_PKT_DROP);
}

static void test_unknown_op(void **state)
{
	struct vsock_hdr h = good(0), out;

	(void)state;
	h.op = VSOCK_OP_INVALID;
	assert_int_equal(parse(&h, VSOCK_HDR_SIZE, &out), VSOCK_PKT_DROP);
	h.op = VSOCK_OP_MAX + 1;
	assert_int_equal(parse(&h, VSOCK_HDR_SIZE, &out), VSOCK_PKT_DROP);
	h.op = 0xffff;
	assert_int_equal(parse(&h, VSOCK_HDR_SIZE, &out), VSOCK_PKT_DROP);
}

static void test_wrong_src_cid(void **state)
{
	struct vsock_hdr h = good(0), out;

	(void)state;
	h.src_cid = CID + 1;
	assert_int_equal(parse(&h, VSOCK_HDR_SIZE, &out), VSOCK_PKT_DROP);
	h.src_cid = VSOCK_HOST_CID; /* spoofing the host */
	assert_int_equal(parse(&h, VSOCK_HDR_SIZE, &out), VSOCK_PKT_DROP);
	h.src_cid = CID | (1ull << 32); /* high bits count */
	assert_int_equal(parse(&h, VSOCK_HDR_SIZE, &out), VSOCK_PKT_DROP);
}

static void test_wrong_dst_cid(void **state)
{
	struct vsock_hdr h = good(0), out;

	(void)state;
	h.dst_cid = CID; /* loopback to itself */
	assert_int_equal(parse(&h, VSOCK_HDR_SIZE, &out), VSOCK_PKT_RST);
	assert_int_equal(out.src_port, 1234); /* the reply goes back to this port */
	h.dst_cid = 1;
	assert_int_equal(parse(&h, VSOCK_HDR_SIZE, &out), VSOCK_PKT_RST);
	h.dst_cid = 9;
	h.op = VSOCK_OP_RST;
	assert_int_equal(parse(&h, VSOCK_HDR_SIZE, &out), VSOCK_PKT_DROP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_is_little_endian),
		cmocka_unit_test(test_valid_headers),
		cmocka_unit_test(test_short_header),
		cmocka_unit_test(test_len_beyond_payload),
		cmocka_unit_test(test_len_over_max),
		cmocka_unit_test(test_bad_type),
		cmocka_unit_test(test_unknown_op),
		cmocka_unit_test(test_wrong_src_cid),
		cmocka_unit_test(test_wrong_dst_cid),
	};

	log_set_level(LOG_NONE);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
