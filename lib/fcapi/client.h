/* client: a small blocking client of the Firecracker API (ember-vmm's) over its Unix socket, with libcurl.
 *
 * Contract:
 * - One struct fcapi_client per VMM socket, used by one thread at a time (a
 *   curl easy handle: it keeps the connection open between calls). Every call
 *   blocks for at most the timeout given at fcapi_client_new(), so emberd runs
 *   them on a worker thread, never on its event loop.
 * - fcapi_call() sends METHOD path with a JSON body (NULL: none) and returns
 *   0 on a 2xx status; *reply, when asked for, gets the parsed response body
 *   (NULL when empty) for the caller to cJSON_Delete(). Errors:
 *     -EREMOTEIO  the VMM answered with an error status; err holds its
 *                 {"fault_message"} text (or the status line if there is none)
 *     -ECONNREFUSED  nobody listens on the socket, or there is none
 *     -ETIMEDOUT  no complete answer within the timeout
 *     -EMSGSIZE   a response body over FCAPI_REPLY_MAX
 *     -EBADMSG    a response body that is not JSON
 *     -EIO, -ENOMEM  anything else (err says what)
 *   err is always set on failure: one line, no trailing newline.
 * - The typed calls build their bodies from config.h / schema.h structs with
 *   cJSON, so they send exactly the shapes lib/fcapi parses on the server
 *   side. fcapi_configure() sends a whole struct vm_config (boot-source,
 *   machine-config, each drive, vsock and entropy when enabled) as separate
 *   PUTs, in that order, stopping at the first error. fcapi_snapshot_load()
 *   sends the overrides (vsock_override, drive_overrides) the request holds.
 * - curl_global_init() is done once, thread-safely, by fcapi_client_new(). */
#ifndef EMBER_FCAPI_CLIENT_H
#define EMBER_FCAPI_CLIENT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "lib/fcapi/config.h"
#include "lib/fcapi/schema.h"

#define FCAPI_REPLY_MAX (64u * 1024) /* bytes of a response body */

struct fcapi_client;

int fcapi_client_new(const char *sock_path, long timeout_ms, struct fcapi_client **out);
void fcapi_client_free(struct fcapi_client *c);

int fcapi_call(struct fcapi_client *c, const char *method, const char *path, const cJSON *body,
	       cJSON **reply, char *err, size_t errlen);

int fcapi_configure(struct fcapi_client *c, const struct vm_config *cfg, char *err, size_t errlen);
int fcapi_action(struct fcapi_client *c, enum schema_action action, char *err, size_t errlen);
int fcapi_vm_state(struct fcapi_client *c, enum schema_vm_state state, char *err, size_t errlen);
int fcapi_snapshot_create(struct fcapi_client *c, const struct schema_snapshot_create *req,
			  char *err, size_t errlen);
int fcapi_snapshot_load(struct fcapi_client *c, const struct schema_snapshot_load *req, char *err,
			size_t errlen);
/* GET /: the "state" field ("Not started", "Running", "Paused") into state. */
int fcapi_get_state(struct fcapi_client *c, char *state, size_t cap, char *err, size_t errlen);

#endif
