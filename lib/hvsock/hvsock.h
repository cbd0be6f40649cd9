/* hvsock: the host side of Firecracker's hybrid vsock handshake, for programs that connect to a VM's guest ports.
 *
 * A VMM with a hybrid vsock device listens on a Unix socket (its uds_path). A
 * host process connects there, sends "CONNECT <port>\n", and the VMM answers
 * "OK <host port>\n" once the guest accepted; from then on the stream carries
 * the guest connection's bytes. A refused port closes the stream without an
 * answer.
 *
 * Contract:
 * - hvsock_start() opens a non-blocking, close-on-exec Unix stream socket,
 *   connects it to path and queues the request; the caller owns *fd and waits
 *   for it to become readable (an event loop, or poll). It never blocks: a
 *   Unix connect either completes at once or fails (-EAGAIN when the
 *   listener's backlog is full, -ENOENT or -ECONNREFUSED when nobody
 *   listens), and the request fits an empty socket buffer.
 * - hvsock_parse_reply() looks at the bytes read so far. It returns 0 while
 *   the reply line is incomplete, 1 when it is complete (*used = the reply's
 *   length; bytes after it already belong to the guest stream), or an error:
 *   -EPROTO for anything but "OK <decimal u32>\n" within HVSOCK_REPLY_MAX
 *   bytes. End of stream before a reply means the VMM refused the port; that
 *   is the caller's to see (read() returns 0).
 * - hvsock_format_request() writes the request line (for servers and tests).
 * - hvsock_connect() is the blocking form for tools and tests: start, then
 *   wait up to timeout_ms for the reply. -ECONNREFUSED if the VMM closed,
 *   -ETIMEDOUT if it did not answer in time.
 * Nothing here logs or keeps state; any thread. */
#ifndef EMBER_HVSOCK_H
#define EMBER_HVSOCK_H

#include <stddef.h>
#include <stdint.h>

/* "OK 4294967295\n" is 14 bytes; a longer line is not a reply. */
#define HVSOCK_REPLY_MAX 32u
/* "CONNECT 4294967295\n" is 19 bytes, with its NUL 20. */
#define HVSOCK_REQUEST_MAX 24u

int hvsock_format_request(uint32_t port, char *buf, size_t cap, size_t *len);
int hvsock_start(const char *path, uint32_t port, int *fd);
int hvsock_parse_reply(const void *data, size_t len, uint32_t *host_port, size_t *used);
int hvsock_connect(const char *path, uint32_t port, int timeout_ms, int *fd, uint32_t *host_port);

#endif
