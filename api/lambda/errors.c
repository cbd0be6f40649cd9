/* errors: the table of Lambda exceptions (see errors.h). */
#include "api/lambda/errors.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

static const struct {
	const char *name;
	int status;
	bool capital; /* "Message" */
	bool service;
} table[LEXC_COUNT] = {
	[LEXC_NONE] = { "ServiceException", 500, true, true },
	[LEXC_RESOURCE_NOT_FOUND] = { "ResourceNotFoundException", 404, true, false },
	[LEXC_RESOURCE_CONFLICT] = { "ResourceConflictException", 409, false, false },
	[LEXC_INVALID_PARAMETER] = { "InvalidParameterValueException", 400, false, false },
	[LEXC_VALIDATION] = { "ValidationException", 400, false, false },
	[LEXC_INVALID_REQUEST_CONTENT] = { "InvalidRequestContentException", 400, false, false },
	[LEXC_TOO_LARGE] = { "RequestEntityTooLargeException", 413, false, false },
	[LEXC_PRECONDITION_FAILED] = { "PreconditionFailedException", 412, false, false },
	[LEXC_TOO_MANY_REQUESTS] = { "TooManyRequestsException", 429, false, false },
	[LEXC_UNKNOWN_OPERATION] = { "UnknownOperationException", 404, false, false },
	[LEXC_SERVICE] = { "ServiceException", 500, true, true },
};

static unsigned idx(enum lexc e)
{
	return (unsigned)e < LEXC_COUNT ? (unsigned)e : LEXC_SERVICE;
}

int lexc_status(enum lexc e)
{
	return table[idx(e)].status;
}

const char *lexc_name(enum lexc e)
{
	return table[idx(e)].name;
}

bool lexc_capital_message(enum lexc e)
{
	return table[idx(e)].capital;
}

bool lexc_is_service(enum lexc e)
{
	return table[idx(e)].service;
}

int lerror_set(struct lerror *err, enum lexc e, const char *fmt, ...)
{
	va_list ap;

	err->exc = e;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}
