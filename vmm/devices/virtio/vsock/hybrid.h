/* hybrid: Firecracker's hybrid vsock host side: the Unix socket U, CONNECT lines, and U_P.
 *
 * Contract:
 * - vsock_hybrid_listen() binds and listens on U (non-blocking). An existing
 *   file at U is an error (-EADDRINUSE): the builder decides about stale ones.
 * - Host -> guest: each accepted connection is a HOST_LINE connection. Its
 *   first line must be "CONNECT <port>\n", port decimal, 1..10 digits,
 *   <= 0xffffffff, nothing else, within VSOCK_LINE_MAX bytes. A bad line,
 *   an over-long line or EOF before '\n' closes the socket (host input:
 *   rate-limited log). A good line picks a fresh host port (from
 *   VSOCK_PORT_FIRST, skipping ports in use) and queues OP_REQUEST; the
 *   guest's RESPONSE makes conn.c write "OK <host port>\n"; its RST closes
 *   the socket. Bytes after the line stay in the socket until established.
 * - A host connection that has not sent its whole line VSOCK_LINE_TIMEOUT_MS
 *   after it was accepted is closed (rate-limited log): an idle or slow
 *   client cannot hold a table slot. One timerfd per device (in its epoll
 *   set, tag VSOCK_TAG_TIMER) is armed at the earliest pending deadline;
 *   each HOST_LINE connection carries its own. vsock_hybrid_expire() runs
 *   when it fires.
 * - Guest -> host: a REQUEST to (CID 2, port P) connects, non-blocking, to
 *   "U_P". Success -> OP_RESPONSE; any failure (no listener, backlog full,
 *   path too long, table full) -> OP_RST.
 * - Threads: the device's. */
#ifndef EMBER_VSOCK_HYBRID_H
#define EMBER_VSOCK_HYBRID_H

#include "vmm/devices/virtio/vsock/conn.h"

/* 0 and *fd, or -errno (-ENAMETOOLONG, -EADDRINUSE, ...). */
int vsock_hybrid_listen(const char *path, int *fd);
/* Accept pending host connections (at most VSOCK_ACCEPT_BURST per call). */
void vsock_hybrid_accept(struct vsock_conns *t, int lfd);
/* Read the CONNECT line of a HOST_LINE connection. */
void vsock_hybrid_line(struct vsock_conns *t, struct vsock_conn *c);
/* The CONNECT-line timer fired: close the connections past their deadline
 * and arm the timer for the next one. */
void vsock_hybrid_expire(struct vsock_conns *t);
/* A guest REQUEST for which no connection exists. */
void vsock_hybrid_guest_connect(struct vsock_conns *t, const struct vsock_hdr *h);

#define VSOCK_ACCEPT_BURST 16u
/* How long a host client has, from its connect() being accepted, to send
 * "CONNECT <port>\n". A client sends it at once; 10 s leaves room for a
 * loaded or emulated host. */
#define VSOCK_LINE_TIMEOUT_MS 10000u
#define VSOCK_BACKLOG	      128

#endif
