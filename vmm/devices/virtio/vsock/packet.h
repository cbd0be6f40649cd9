/* packet: the virtio-vsock packet header (virtio 1.2 §5.10.6): decode, encode and the checks.
 *
 * Contract:
 * - A guest packet is one TX chain: a 44-byte little-endian header, then
 *   `len` payload bytes, all in the chain's readable part. The header is
 *   copied out of guest memory once (vq_chain_read) and decoded field by
 *   field; nothing is read from the guest twice.
 * - vsock_pkt_parse() checks, in this order, and each violation has one
 *   outcome:
 *     readable part < 44 bytes           -> VSOCK_PKT_DROP (no addresses to answer)
 *     src_cid != the guest's CID          -> VSOCK_PKT_DROP (spoofed; never answered)
 *     op unknown (0 or > 7)               -> VSOCK_PKT_DROP
 *     len > VSOCK_MAX_PKT                 -> VSOCK_PKT_DROP
 *     len > readable payload              -> VSOCK_PKT_DROP
 *     type != STREAM                      -> VSOCK_PKT_RST (5.10.6.3: unsupported type)
 *     dst_cid != VSOCK_HOST_CID           -> VSOCK_PKT_RST (nobody else is reachable)
 *   except that an RST is never answered with an RST (it is dropped), so two
 *   peers cannot loop. The caller logs drops rate-limited and pushes the
 *   chain back; RST outcomes become a reply from the host to the packet's
 *   source port.
 * - Pure functions, any thread. */
#ifndef EMBER_VSOCK_PACKET_H
#define EMBER_VSOCK_PACKET_H

#include <stdint.h>

#include "vmm/devices/virtio/queue.h"

#define VSOCK_HDR_SIZE 44u
#define VSOCK_HOST_CID 2u /* 5.10.4: well-known CID of the host */
/* Largest payload ember accepts or sends in one packet (Linux uses 64 KiB too). */
#define VSOCK_MAX_PKT (64u * 1024u)

/* 5.10.6 type */
#define VSOCK_TYPE_STREAM 1u
/* 5.10.6 op */
#define VSOCK_OP_INVALID	0u
#define VSOCK_OP_REQUEST	1u
#define VSOCK_OP_RESPONSE	2u
#define VSOCK_OP_RST		3u
#define VSOCK_OP_SHUTDOWN	4u
#define VSOCK_OP_RW		5u
#define VSOCK_OP_CREDIT_UPDATE	6u
#define VSOCK_OP_CREDIT_REQUEST 7u
#define VSOCK_OP_MAX		7u
/* 5.10.6.5 SHUTDOWN flags */
#define VSOCK_SHUTDOWN_RCV  1u /* the sender will receive no more */
#define VSOCK_SHUTDOWN_SEND 2u /* the sender will send no more */
/* 5.10.6.6 event queue: struct virtio_vsock_event { le32 id; } */
#define VSOCK_EVENT_TRANSPORT_RESET 0u
#define VSOCK_EVENT_SIZE	    4u

struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags;
	uint32_t buf_alloc, fwd_cnt;
};

enum vsock_pkt_verdict {
	VSOCK_PKT_OK = 0,
	VSOCK_PKT_DROP,
	VSOCK_PKT_RST,
};

void vsock_hdr_decode(const uint8_t b[VSOCK_HDR_SIZE], struct vsock_hdr *h);
void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t b[VSOCK_HDR_SIZE]);

/* Copies the header out of chain c once and checks it (see above). *h is
 * filled whenever the readable part holds a whole header. `why` (optional)
 * gets a static string naming the violated rule. */
enum vsock_pkt_verdict vsock_pkt_parse(const struct vq_chain *c, uint64_t guest_cid,
				       struct vsock_hdr *h, const char **why);

#endif
