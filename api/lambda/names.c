/* names: percent-decoding and Lambda's function-name pattern (see names.h). */
#include "api/lambda/names.h"

#include <errno.h>
#include <string.h>

#define MAX_PARTS 8 /* arn:aws:lambda:region:account:function:name:qualifier */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int names_percent_decode(const char *in, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -EINVAL;
			hi = hexval(in[i + 1]);
			lo = hexval(in[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (char)(hi * 16 + lo);
			if (c == '\0' || c == '/')
				return -EINVAL;
			i += 2;
		} else if (c == '\0') {
			return -EINVAL;
		}
		if (o + 1 >= cap)
			return -EINVAL;
		out[o++] = c;
	}
	if (cap == 0)
		return -EINVAL;
	out[o] = '\0';
	return 0;
}

static bool word(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

bool names_qualifier_valid(const char *q)
{
	return strcmp(q, FN_LATEST) == 0 || word(q, NAMES_QUALIFIER_MAX);
}

static bool digits12(const char *s)
{
	if (strlen(s) != 12)
		return false;
	for (int i = 0; i < 12; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

static bool partition(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || strncmp(s, "aws", 3) != 0)
		return false;
	for (size_t i = 3; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '-'))
			return false;
	}
	return true;
}

static bool region(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	}
	return true;
}

static int invalid(const char *s, struct lerror *err)
{
	return lerror_set(err, LEXC_VALIDATION,
			  "1 validation error detected: Value '%.256s' at 'functionName' failed to "
			  "satisfy constraint: Member must satisfy regular expression pattern: "
			  "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?"
			  "(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
			  s);
}

int names_parse(const char *s, struct fname *out, struct lerror *err)
{
	char buf[NAMES_INPUT_MAX + 1];
	char *parts[MAX_PARTS];
	unsigned n = 0, i = 0;
	const char *name, *qual = NULL;
	char *p;

	memset(out, 0, sizeof(*out));
	if (strlen(s) > NAMES_INPUT_MAX)
		return invalid(s, err);
	memcpy(buf, s, strlen(s) + 1);
	p = buf;
	for (;;) {
		if (n == MAX_PARTS)
			return invalid(s, err);
		parts[n++] = p;
		p = strchr(p, ':');
		if (p == NULL)
			break;
		*p++ = '\0';
	}
	if (strcmp(parts[0], "arn") == 0) {
		/* arn : aws : lambda : region : account : function : name [: qualifier] */
		if (n < 7 || !partition(parts[1]) || strcmp(parts[2], "lambda") != 0 ||
		    !region(parts[3]) || !digits12(parts[4]) || strcmp(parts[5], "function") != 0)
			return invalid(s, err);
		i = 6;
	} else if (n >= 3 && digits12(parts[0]) && strcmp(parts[1], "function") == 0) {
		i = 2;
	} else if (n >= 2 && strcmp(parts[0], "function") == 0) {
		i = 1;
	}
	if (n - i < 1 || n - i > 2)
		return invalid(s, err);
	name = parts[i];
	if (n - i == 2)
		qual = parts[i + 1];
	if (!fn_name_valid(name) || (qual != NULL && !names_qualifier_valid(qual)))
		return invalid(s, err);
	memcpy(out->name, name, strlen(name) + 1);
	if (qual != NULL)
		memcpy(out->qualifier, qual, strlen(qual) + 1);
	return 0;
}
