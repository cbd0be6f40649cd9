/* link: ember-init's side of the host link, the guest protocol (gproto.h) over vsock.
 *
 * Contract:
 * - link_start() listens on vsock port GPROTO_PORT (VMADDR_CID_ANY) in the
 *   given event loop. Host connections are served one at a time; a new one
 *   replaces the current one (so a host that reconnects, e.g. after a
 *   snapshot restore, always gets in). A malformed frame, or a frame a guest
 *   never accepts, is logged (rate-limited) and closes that connection only;
 *   the listening socket stays.
 * - Which frame does what: INIT, INVOKE and RESTORE go to the owner's ops
 *   (once decoded and checked by gproto); PING is answered with PONG here;
 *   PONG is ignored. ops->connected is called for each new connection.
 * - Sending: link_send*() queue a frame for the current connection and write
 *   what the socket takes; without a connection they drop the frame (LOG
 *   lines go to the console instead, see link_send_log). Frames queued for a
 *   connection that closes are dropped. A frame that does not encode (a bug:
 *   every caller builds valid frames) is logged and dropped.
 * - Back-pressure: when more than LINK_OUT_HIGH bytes are queued, ops->pressure
 *   is called with true (stop producing: the owner stops reading the
 *   bootstrap's output); below LINK_OUT_LOW (or when the connection goes),
 *   with false. It is called on every flush; the owner makes it idempotent.
 * - The link owns its sockets, events, reader and queue; the owner owns the
 *   struct link and gives it to every function. Event loop thread only. */
#ifndef EMBER_LINK_H
#define EMBER_LINK_H

#include "lib/gproto/gproto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Small, so that a function flooding its output feels it soon (its writes
 * block): emberd reads each instance's log lines within a budget
 * (api/pool/conn.c), and a 32 MiB queue, as it was, took minutes to drain
 * at that rate, past the invocation's timeout, and held a quarter of a
 * 128 MB function's memory. A RESULT is queued whatever its size. */
#define LINK_OUT_HIGH (1u << 20)
#define LINK_OUT_LOW  (256u << 10)
/* Listen backlog on the vsock port: a host reconnects, it does not crowd. */
#define LINK_BACKLOG 4

struct event_base;
struct event;
struct evbuffer;

/* What the host asks for. Decoded pointers are valid during the call only. */
struct link_ops {
	void (*init)(void *ctx, const struct gproto_init *in);
	void (*invoke)(void *ctx, uint64_t req_id, const struct gproto_invoke *in);
	void (*restore)(void *ctx, const struct gproto_restore *r);
	void (*connected)(void *ctx);
	void (*pressure)(void *ctx, bool high);
};

struct link {
	struct event_base *base;
	const struct link_ops *ops;
	void *ctx;
	int lfd, cfd; /* listener, current host connection (-1: none) */
	struct event *accept_ev, *read_ev, *write_ev;
	struct gproto_reader rd;
	struct evbuffer *out;
	struct gproto_msg *msg; /* the decoded frame: large (INIT's env table) */
};

/* Listens; returns 0 or -errno (the link is then unusable). */
int link_start(struct link *k, struct event_base *base, const struct link_ops *ops, void *ctx);
bool link_connected(const struct link *k);
void link_send(struct link *k, const struct gproto_msg *m);
/* READY, PONG: frames without a body. */
void link_send_empty(struct link *k, uint8_t type, uint64_t req_id);
/* ERROR or INIT_ERROR with the runtime's own error type and body. */
void link_send_error(struct link *k, uint8_t type, uint64_t req_id, const char *etype,
		     const uint8_t *body, size_t len);
/* ERROR or INIT_ERROR of ember-init's making, in Lambda's
 * {"errorType","errorMessage"} shape; `text` must need no JSON escaping
 * (ASCII without '"', '\\' or control bytes; checked, else replaced). */
void link_send_error_json(struct link *k, uint8_t type, uint64_t req_id, const char *etype,
			  const char *text);
/* A line of the function's output: LOG with req_id (0 outside any
 * invocation), or, with no host connected, a console line. */
void link_send_log(struct link *k, uint64_t req_id, uint8_t stream, const uint8_t *line,
		   size_t len);

#endif
