/* packet: virtio-vsock header decode/encode, and the one place a guest header is checked. */
#include "vmm/devices/virtio/vsock/packet.h"

#include <string.h>

#include "lib/util/le.h"

/* 5.10.6: le64 src_cid; le64 dst_cid; le32 src_port; le32 dst_port; le32 len;
 * le16 type; le16 op; le32 flags; le32 buf_alloc; le32 fwd_cnt. Packed, 44 bytes. */
void vsock_hdr_decode(const uint8_t b[VSOCK_HDR_SIZE], struct vsock_hdr *h)
{
	h->src_cid = le_get(b + 0, 8);
	h->dst_cid = le_get(b + 8, 8);
	h->src_port = (uint32_t)le_get(b + 16, 4);
	h->dst_port = (uint32_t)le_get(b + 20, 4);
	h->len = (uint32_t)le_get(b + 24, 4);
	h->type = (uint16_t)le_get(b + 28, 2);
	h->op = (uint16_t)le_get(b + 30, 2);
	h->flags = (uint32_t)le_get(b + 32, 4);
	h->buf_alloc = (uint32_t)le_get(b + 36, 4);
	h->fwd_cnt = (uint32_t)le_get(b + 40, 4);
}

void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t b[VSOCK_HDR_SIZE])
{
	le_put(b + 0, h->src_cid, 8);
	le_put(b + 8, h->dst_cid, 8);
	le_put(b + 16, h->src_port, 4);
	le_put(b + 20, h->dst_port, 4);
	le_put(b + 24, h->len, 4);
	le_put(b + 28, h->type, 2);
	le_put(b + 30, h->op, 2);
	le_put(b + 32, h->flags, 4);
	le_put(b + 36, h->buf_alloc, 4);
	le_put(b + 40, h->fwd_cnt, 4);
}

enum vsock_pkt_verdict vsock_pkt_parse(const struct vq_chain *c, uint64_t guest_cid,
				       struct vsock_hdr *h, const char **why)
{
	uint8_t raw[VSOCK_HDR_SIZE];
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	memset(h, 0, sizeof(*h));
	/* Copy once; the guest may rewrite the buffer while we look at it. */
	if (vq_chain_read(c, 0, raw, sizeof(raw)) != sizeof(raw)) {
		*why = "short header";
		return VSOCK_PKT_DROP;
	}
	vsock_hdr_decode(raw, h);
	if (h->src_cid != guest_cid) {
		*why = "src_cid is not the guest's";
		return VSOCK_PKT_DROP;
	}
	if (h->op == VSOCK_OP_INVALID || h->op > VSOCK_OP_MAX) {
		*why = "unknown op";
		return VSOCK_PKT_DROP;
	}
	if (h->len > VSOCK_MAX_PKT) {
		*why = "len over the host maximum";
		return VSOCK_PKT_DROP;
	}
	if (h->len > c->read_len - VSOCK_HDR_SIZE) {
		*why = "len beyond the payload";
		return VSOCK_PKT_DROP;
	}
	if (h->type != VSOCK_TYPE_STREAM) {
		*why = "type is not STREAM";
		return h->op == VSOCK_OP_RST ? VSOCK_PKT_DROP : VSOCK_PKT_RST;
	}
	if (h->dst_cid != VSOCK_HOST_CID) {
		*why = "dst_cid is not the host";
		return h->op == VSOCK_OP_RST ? VSOCK_PKT_DROP : VSOCK_PKT_RST;
	}
	*why = NULL;
	return VSOCK_PKT_OK;
}
