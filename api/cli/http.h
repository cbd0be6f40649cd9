/* http: the ember CLI's one HTTP call to emberd (libcurl), over the Unix socket or TCP.
 *
 * Contract:
 * - cli_conn_init() picks the endpoint: an http(s) URL (--endpoint or
 *   EMBER_ENDPOINT), else the Unix socket $EMBER_HOME/ember.sock (home
 *   default /var/lib/ember).
 * - cli_request() sends one request (method, path with its query, optional
 *   body and extra "Name: value" headers) and returns 0 with the status,
 *   the body (NUL-terminated, at most CLI_BODY_MAX bytes) and the headers
 *   emberd's callers need; or a negative errno with a message on stderr
 *   (no connection, a body too large). Errors from the API are not errors
 *   here: the caller reads status and x-amzn-ErrorType.
 * - cli_escape() percent-encodes one path segment (a function name).
 * - cli_api_error() prints "ember: <ErrorType>: <message>" for an error
 *   response and returns 1 (the exit code).
 * Thread: main. */
#ifndef EMBER_CLI_HTTP_H
#define EMBER_CLI_HTTP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define CLI_BODY_MAX	 (80u << 20)
#define CLI_HEADER_MAX	 8192
#define CLI_DEFAULT_HOME "/var/lib/ember"

struct cli_conn {
	char endpoint[1024]; /* "http://host:port", or "" for the socket */
	char socket[PATH_MAX];
	bool json; /* --json: machine-readable output */
};

struct cli_resp {
	long status;
	char *body;
	size_t len;
	char error_type[128];
	char function_error[64];
	char log_result[CLI_HEADER_MAX];
	char executed_version[32];
	char log_offset[32];
	char log_inode[32];
	char start_phases[160]; /* X-Ember-Start-Phases (api/pool/phases.h) */
};

int cli_conn_init(struct cli_conn *c, const char *endpoint, const char *home);
int cli_request(const struct cli_conn *c, const char *method, const char *path, const char *body,
		size_t body_len, const char *const *headers, struct cli_resp *out);
void cli_resp_free(struct cli_resp *r);
char *cli_escape(const char *segment);
int cli_api_error(const struct cli_resp *r);

#endif
