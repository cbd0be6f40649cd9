/* cmdline: the ember.* keys of the guest kernel command line (see cmdline.h). */
#include "guest-init/cmdline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_PREFIX "ember."

/* Splits off the next word of `*s` into word[wlen], honouring the kernel's
 * double quotes (which may surround a value or a whole word). Returns false
 * at the end of the line. A word longer than the buffer sets *too_long. */
static bool next_word(const char **s, char *word, size_t wlen, bool *too_long)
{
	const char *p = *s;
	size_t n = 0;
	bool quoted = false;

	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	if (*p == '\0')
		return false;
	*too_long = false;
	for (; *p != '\0'; p++) {
		if (*p == '"') {
			quoted = !quoted;
			continue;
		}
		if (!quoted && (*p == ' ' || *p == '\t' || *p == '\n'))
			break;
		if (n + 1 < wlen)
			word[n++] = *p;
		else
			*too_long = true;
	}
	word[n] = '\0';
	*s = p;
	return true;
}

int cmdline_parse(const char *s, struct init_args *out, char *err, size_t errlen)
{
	char word[PATH_MAX + 64];
	bool too_long;

	memset(out, 0, sizeof(*out));
	out->tmp_mib = CMDLINE_TMP_MIB_DEFAULT;
	while (next_word(&s, word, sizeof(word), &too_long)) {
		if (strcmp(word, "--") == 0)
			break; /* the rest is init's argv, not options */
		if (strncmp(word, KEY_PREFIX, strlen(KEY_PREFIX)) != 0)
			continue;
		if (too_long) {
			snprintf(err, errlen, "%.40s...: value too long", word);
			return -EINVAL;
		}
		const char *key = word + strlen(KEY_PREFIX);
		const char *eq = strchr(key, '=');
		const char *val = eq ? eq + 1 : "";
		size_t klen = eq ? (size_t)(eq - key) : strlen(key);

		if (klen == 3 && strncmp(key, "run", 3) == 0) {
			if (val[0] != '/' || strlen(val) >= sizeof(out->run)) {
				snprintf(err, errlen, "ember.run=%.64s: need an absolute path",
					 val);
				return -EINVAL;
			}
			strcpy(out->run, val);
		} else if (klen == 5 && strncmp(key, "probe", 5) == 0) {
			if (strcmp(val, "1") != 0 && strcmp(val, "0") != 0) {
				snprintf(err, errlen, "ember.probe=%.16s: need 0 or 1", val);
				return -EINVAL;
			}
			out->probe = val[0] == '1';
		} else if (klen == 6 && strncmp(key, "lambda", 6) == 0) {
			if (strcmp(val, "1") != 0 && strcmp(val, "0") != 0) {
				snprintf(err, errlen, "ember.lambda=%.16s: need 0 or 1", val);
				return -EINVAL;
			}
			out->lambda = val[0] == '1';
		} else if (klen == 7 && strncmp(key, "tmp_mib", 7) == 0) {
			char *end;
			unsigned long v = strtoul(val, &end, 10);

			if (val[0] < '0' || val[0] > '9' || *end != '\0' || v < 1 ||
			    v > CMDLINE_TMP_MIB_MAX) {
				snprintf(err, errlen, "ember.tmp_mib=%.16s: need 1..%u", val,
					 CMDLINE_TMP_MIB_MAX);
				return -EINVAL;
			}
			out->tmp_mib = (unsigned)v;
		} else {
			snprintf(err, errlen, "unknown option %.64s", word);
			return -EINVAL;
		}
	}
	return 0;
}
