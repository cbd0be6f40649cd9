/* server: the API's HTTP/1.1 server on a Unix socket (libevent's evhttp) and its thread.
 *
 * Contract:
 * - api_server_create() claims the socket path (a stale socket is replaced,
 *   a live one or another file is an error: uds.h), listens on it and sets
 *   up evhttp with hard bounds: headers API_MAX_HEADER_BYTES in all and at
 *   most API_MAX_HEADERS of them, a body of API_MAX_BODY bytes (a larger
 *   Content-Length is refused from the header alone with 413), and
 *   API_TIMEOUT_SECONDS for a connection to send its request. Every method
 *   reaches api_handle() (which refuses the ones it does not serve with
 *   400), so HTTP errors look like Firecracker's.
 * - api_server_start() runs the server on its own thread. The thread
 *   inherits the caller's signal mask, so block the process's signals
 *   first. evhttp never blocks on one client, so a slow or stalled client
 *   delays no other client and never the vCPUs or device I/O; a request
 *   that acts on the VM waits only for the main thread's answer.
 *   The thread also flushes metrics every METRICS_PERIOD_SECONDS.
 * - api_server_destroy() stops and joins the thread (from any other
 *   thread), closes everything and unlinks the socket.
 * Errors: negative errno, logged here. */
#ifndef EMBER_API_SERVER_H
#define EMBER_API_SERVER_H

#include "vmm/api/api.h"

#define API_MAX_BODY	     51200 /* Firecracker's default payload limit */
#define API_MAX_HEADER_BYTES 8192
#define API_MAX_HEADERS	     32
#define API_TIMEOUT_SECONDS  10
#define API_BACKLOG	     64

struct api_server;

int api_server_create(const char *path, struct api *api, struct api_server **out);
int api_server_start(struct api_server *s);
void api_server_destroy(struct api_server *s);

#endif
