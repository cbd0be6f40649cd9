/* errors: Lambda's exceptions, built in one place: x-amzn-ErrorType header, HTTP status and JSON body.
 *
 * Contract:
 * - enum lexc names every exception emberd answers with; lexc_status() and
 *   lexc_name() give its HTTP status and wire name (the table in errors.c).
 * - struct lerror carries an exception and its message from code that has
 *   no request (validation, workers) to the one that replies.
 * - lreq_error() (req.h) answers a request with one: header
 *   x-amzn-ErrorType: <name>, Content-Type: application/json, body
 *   {"Type": "User"|"Service", "message"|"Message": <msg>} (the key real
 *   AWS uses for that exception; both SDKs read either), plus "Reason" for
 *   TooManyRequestsException.
 * Thread: any (pure tables). */
#ifndef EMBER_API_ERRORS_H
#define EMBER_API_ERRORS_H

#include <stdbool.h>

#define LERROR_MSG_LEN 768

enum lexc {
	LEXC_NONE,
	LEXC_RESOURCE_NOT_FOUND,      /* 404 */
	LEXC_RESOURCE_CONFLICT,	      /* 409 */
	LEXC_INVALID_PARAMETER,	      /* 400 */
	LEXC_VALIDATION,	      /* 400: a model constraint (name pattern) */
	LEXC_INVALID_REQUEST_CONTENT, /* 400: an Invoke payload that is not JSON */
	LEXC_TOO_LARGE,		      /* 413 RequestEntityTooLargeException */
	LEXC_PRECONDITION_FAILED,     /* 412: RevisionId mismatch */
	LEXC_TOO_MANY_REQUESTS,	      /* 429 */
	LEXC_UNKNOWN_OPERATION,	      /* 404: no such route */
	LEXC_SERVICE,		      /* 500 ServiceException */
	LEXC_COUNT,
};

struct lerror {
	enum lexc exc;
	char msg[LERROR_MSG_LEN];
};

int lexc_status(enum lexc e);
const char *lexc_name(enum lexc e);
/* True where real AWS spells the body key "Message" (else "message"). */
bool lexc_capital_message(enum lexc e);
/* True for the service's own faults ("Type": "Service"). */
bool lexc_is_service(enum lexc e);

/* Fills err; returns -EINVAL, so a validator can `return lerror_set(...)`. */
int lerror_set(struct lerror *err, enum lexc e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
