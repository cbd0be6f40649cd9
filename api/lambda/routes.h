/* routes: the table of Lambda API (and ember) routes: method, path pattern, body limit, handler.
 *
 * Contract:
 * - routes_match() finds the route for a method and a raw (still
 *   percent-encoded) path. Patterns are '/'-separated segments; "{name}"
 *   matches one non-empty segment, returned in *seg and *seg_len (the function
 *   name, to be decoded and parsed by the caller). A trailing '/' is
 *   ignored (botocore 1.29 sends "GET /2015-03-31/functions/"). The
 *   different date prefixes are Lambda's own (the concurrency and account
 *   calls have their own).
 * - NULL if nothing matches; *path_known then says whether the path exists
 *   for another method.
 * - Every route carries the largest body it takes (body_max) and the
 *   operation's name for messages.
 * Thread: any (a const table). */
#ifndef EMBER_API_ROUTES_H
#define EMBER_API_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/http.h>

struct lreq;

#define ROUTE_CODE_BODY_MAX  70167211u /* Lambda's CreateFunction request limit */
#define ROUTE_SMALL_BODY_MAX 262144u   /* every call without code or payload */

struct route {
	enum evhttp_cmd_type method;
	const char *pattern;
	const char *op;
	size_t body_max;
	void (*fn)(struct lreq *r);
};

const struct route *routes_match(enum evhttp_cmd_type method, const char *path, const char **seg,
				 size_t *seg_len, bool *path_known);
/* The largest body_max in the table (the server's global bound). */
size_t routes_body_max(void);

#endif
