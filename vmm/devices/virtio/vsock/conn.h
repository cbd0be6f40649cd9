/* conn: the vsock connection table, the per-connection state machine and flow control.
 *
 * Contract:
 * - At most VSOCK_MAX_CONNS connections, each identified by (host port,
 *   guest port) and backed by one non-blocking host socket in the device's
 *   epoll set (tag VSOCK_TAG_CONN + index). No allocation per packet; a
 *   connection's buffer is allocated once, when first needed.
 * - States: HOST_LINE (a host process connected to U, we read its CONNECT
 *   line; it has VSOCK_LINE_TIMEOUT_MS to send it: hybrid.h), REQUESTED (we sent or will send OP_REQUEST, waiting for the guest's
 *   RESPONSE), ESTABLISHED, DYING (host socket closed, an RST for the guest is
 *   pending; the slot is freed once it is sent).
 * - Host -> guest: bytes are read from the host socket straight into the
 *   guest's RX buffer, never more than the guest's credit
 *   (peer_buf_alloc - (tx_cnt - peer_fwd_cnt)) nor VSOCK_MAX_PKT. With no
 *   credit or no RX buffer we stop polling the socket (backpressure on the
 *   host peer); nothing is buffered on this path.
 * - Guest -> host: we advertise buf_alloc = VSOCK_BUF_ALLOC and fwd_cnt =
 *   payload bytes written to the host socket. What the socket does not take
 *   at once waits in the connection's ring (VSOCK_RING bytes, which also fits
 *   the "OK <port>\n" line). A guest that honours the credit we gave it
 *   never has more than VSOCK_BUF_ALLOC payload bytes unforwarded; one whose
 *   packet would go beyond that gets its connection reset (RST), so the
 *   ring can never overflow. When
 *   the guest's view of our free space runs low and fwd_cnt moved, a
 *   CREDIT_UPDATE is queued; CREDIT_REQUEST always gets one.
 * - Guest misbehaviour on a connection (RW before RESPONSE, duplicate REQUEST,
 *   RESPONSE out of place, data after SHUTDOWN(SEND), credit overrun) has one
 *   outcome: RST to the guest, close the host socket. A packet for no
 *   connection gets an RST (unless it is an RST); these replies wait in a
 *   bounded queue, and the device stops consuming TX while it is full.
 * - An RX buffer with room for a header only carries control packets; data
 *   waits for a bigger one.
 * - A host peer that disappears (EOF, error, HUP) -> RST to the guest, after
 *   the bytes it wrote before have been delivered (as credit allows). A guest
 *   RST -> the host socket is closed. SHUTDOWN from the guest with both flags
 *   -> the ring is flushed, then RST and close; SEND only -> shutdown(SHUT_WR)
 *   once flushed; RCV only -> we stop reading the host socket.
 * - Threads: one, the device's (callers hold the device lock). */
#ifndef EMBER_VSOCK_CONN_H
#define EMBER_VSOCK_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "vmm/devices/virtio/queue.h"
#include "vmm/devices/virtio/vsock/packet.h"
#include "vmm/stats.h"

#define VSOCK_MAX_CONNS	 256u
#define VSOCK_BUF_ALLOC	 (64u * 1024u) /* our buf_alloc per connection */
#define VSOCK_LINE_MAX	 32u	       /* "CONNECT 4294967295\n" is 19 */
#define VSOCK_RING	 (VSOCK_BUF_ALLOC + VSOCK_LINE_MAX)
#define VSOCK_CREDIT_LOW (VSOCK_BUF_ALLOC / 2) /* send CREDIT_UPDATE below this */
#define VSOCK_RST_QUEUE	 64u
#define VSOCK_PORT_FIRST (1u << 30) /* host-side ports for host-initiated connections */

/* epoll data.u64 in the device's epoll set: the low 32 bits are a tag; for a
 * connection the high 32 bits are its generation, so an event that was
 * already queued for a slot's previous occupant is recognised and ignored. */
#define VSOCK_TAG_WAKE	 0u
#define VSOCK_TAG_LISTEN 1u
#define VSOCK_TAG_TIMER	 2u /* the CONNECT-line deadline (hybrid.h) */
#define VSOCK_TAG_CONN	 3u

enum vsock_conn_state {
	VSOCK_CONN_FREE = 0,
	VSOCK_CONN_HOST_LINE,
	VSOCK_CONN_REQUESTED,
	VSOCK_CONN_ESTABLISHED,
	VSOCK_CONN_DYING,
};

/* control packets waiting for an RX buffer */
#define VSOCK_PEND_REQUEST  1u
#define VSOCK_PEND_RESPONSE 2u
#define VSOCK_PEND_RST	    4u
#define VSOCK_PEND_CREDIT   8u

struct vsock_conn {
	enum vsock_conn_state state;
	int fd;
	uint32_t gen; /* epoll generation, see VSOCK_TAG_CONN */
	uint32_t host_port, guest_port;
	unsigned pending;
	uint32_t events; /* epoll interest now */
	bool readable;	 /* epoll said IN; we read until EAGAIN */
	bool hup;	 /* removed from epoll after HUP/ERR */
	bool close_after_flush, shut_wr_after_flush;
	uint32_t guest_shut; /* VSOCK_SHUTDOWN_* the guest sent */
	/* host -> guest credit */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	/* guest -> host */
	uint32_t rx_cnt, fwd_cnt, sent_fwd_cnt;
	uint8_t *ring;
	uint32_t ring_head, ring_len, ring_ctl; /* ctl: leading bytes that are not payload */
	char line[VSOCK_LINE_MAX];
	uint32_t line_len;
	uint64_t line_deadline_ns; /* HOST_LINE: closed if no line by then (CLOCK_MONOTONIC) */
};

struct vsock_conns {
	struct vsock_stats stats;
	uint64_t guest_cid;
	int epfd;
	int timerfd; /* fires at the earliest HOST_LINE deadline; -1: none */
	bool timer_armed;
	uint32_t line_timeout_ms; /* VSOCK_LINE_TIMEOUT_MS; tests lower it */
	char uds_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint32_t next_port, gen;
	unsigned nconns, rr;
	struct vsock_conn c[VSOCK_MAX_CONNS];
	struct {
		uint32_t host_port, guest_port;
	} rst[VSOCK_RST_QUEUE];
	unsigned nrst;
};

/* timerfd: a CLOCK_MONOTONIC timerfd already in epfd (tag VSOCK_TAG_TIMER),
 * or -1 (no CONNECT-line deadline). */
void vsock_conns_init(struct vsock_conns *t, uint64_t guest_cid, int epfd, int timerfd,
		      const char *uds_path);
/* Closes every host socket and forgets every connection (device reset,
 * transport reset). No RST is sent: the guest forgets them too. */
void vsock_conns_clear(struct vsock_conns *t);

/* A free slot with fd registered in epoll (IN), or NULL if full / epoll fails
 * (the caller still owns fd then). */
struct vsock_conn *vsock_conn_alloc(struct vsock_conns *t, int fd, enum vsock_conn_state st);
void vsock_conn_free(struct vsock_conns *t, struct vsock_conn *c);
/* Close the host side; RST the guest if it knows the connection. */
void vsock_conn_reset(struct vsock_conns *t, struct vsock_conn *c);
/* Recompute the epoll interest. */
void vsock_conn_arm(struct vsock_conns *t, struct vsock_conn *c);

/* A checked guest packet (vsock_pkt_parse said OK); payload from chain c. */
void vsock_conn_guest_pkt(struct vsock_conns *t, const struct vsock_hdr *h,
			  const struct vq_chain *c);
/* Queue an RST answering h; false if the queue is full (reply dropped). */
bool vsock_conns_queue_rst(struct vsock_conns *t, const struct vsock_hdr *h);
bool vsock_conns_rst_full(const struct vsock_conns *t);
/* An epoll event for connection c. */
void vsock_conn_host_event(struct vsock_conns *t, struct vsock_conn *c, uint32_t events);
/* Writes the next packet for the guest into RX chain c (write_len >= header):
 * returns true and *written, or false if nothing is ready. */
bool vsock_conns_fill_rx(struct vsock_conns *t, const struct vq_chain *c, uint32_t *written);

#endif
