/* server: the API's HTTP/1.1 server on a Unix socket (libevent's evhttp) and its thread.
 *
 * Contract:
 * - api_server_create() claims the socket path (a stale socket is replaced,
 *   a live one or another file is an error: uds.h), listens on it and sets
 *   up evhttp. The API's limits are a request line and headers of
 *   API_MAX_HEADER_BYTES in all, at most API_MAX_HEADERS headers, and a body
 *   of API_MAX_BODY bytes; a request over them gets 400 with a JSON
 *   fault_message (api_refuse()), like every other error. libevent 2.1's
 *   evhttp has no hook for its own refusals, which are HTML pages, so its
 *   limits are set to the ceilings below, above ours: a body between
 *   API_MAX_BODY and API_BODY_CEILING is read, then refused by us. What
 *   evhttp still refuses itself, with its HTML: a body over the ceiling
 *   (413, from the Content-Length alone), headers over theirs (400), and
 *   requests that are not HTTP at all (a malformed request line or header,
 *   an unknown method token (501), an Expect other than 100-continue).
 *   A connection has API_TIMEOUT_SECONDS to send its request. Every method
 *   evhttp knows reaches api_handle() (which refuses the ones it does not
 *   serve with 400).
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
/* evhttp's own limits: they bound the memory one request can take. */
#define API_BODY_CEILING    (1u << 20)
#define API_HEADER_CEILING  (64u << 10)
#define API_TIMEOUT_SECONDS 10
#define API_BACKLOG	    64

struct api_server;

int api_server_create(const char *path, struct api *api, struct api_server **out);
int api_server_start(struct api_server *s);
void api_server_destroy(struct api_server *s);

#endif
