/* names: function names as clients write them in paths and bodies: bare, partial ARN or full ARN, with an optional qualifier.
 *
 * Contract:
 * - names_percent_decode() decodes one path segment ("%3A" -> ':'); a bad
 *   escape, an encoded NUL or '/', or a result of cap bytes or more is -EINVAL.
 * - names_parse() accepts Lambda's pattern
 *   (arn:aws[a-zA-Z-]*:lambda:<region>:)?(<12 digits>:)?(function:)?<name>(:<qualifier>)?
 *   where name is [a-zA-Z0-9-_]{1,64} and qualifier is "$LATEST" or
 *   [a-zA-Z0-9-_]{1,128}. Region and account are not compared with
 *   emberd's own: one host is one account. Anything else is -EINVAL with a
 *   ValidationException message in err.
 * Thread: any. */
#ifndef EMBER_API_NAMES_H
#define EMBER_API_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "api/lambda/errors.h"
#include "api/store/fn.h"

#define NAMES_INPUT_MAX	    256 /* a decoded function name (ARNs included) */
#define NAMES_QUALIFIER_MAX 128

struct fname {
	char name[FN_NAME_MAX + 1];
	char qualifier[NAMES_QUALIFIER_MAX + 1]; /* "" if none */
};

int names_percent_decode(const char *in, size_t len, char *out, size_t cap);
int names_parse(const char *s, struct fname *out, struct lerror *err);
/* "$LATEST" or [a-zA-Z0-9-_]{1,128}. */
bool names_qualifier_valid(const char *q);

#endif
