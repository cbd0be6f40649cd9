/* fuzz_init_env: libFuzzer harness for ember-init's command line and environment builder.
 *
 * Input: a guest kernel command line, a NUL byte, then the body of an INIT
 * frame (the host's words; without the NUL, the whole input is both).
 * 1. cmdline_parse() on the line: it succeeds or refuses with a message; on
 *    success ember.run is empty or an absolute path, tmp_mib is in range.
 * 2. The body goes through gproto_decode() as ember-init's link does; an
 *    INIT that decodes goes to world_env_build(), whose envp must hold only
 *    KEY=VALUE strings, the derived variables once each and with ember-init's
 *    values (a user's entry never overrides a reserved key), and every user
 *    entry whose key is not reserved.
 * Whatever the bytes, nothing may crash, read out of bounds or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest-init/cmdline.h"
#include "guest-init/world.h"
#include "lib/gproto/gproto.h"
#include "lib/util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gproto_msg msg;

static void check_cmdline(const uint8_t *data, size_t n)
{
	char *line = malloc(n + 1), err[128];
	struct init_args args;

	if (line == NULL)
		return;
	memcpy(line, data, n);
	line[n] = '\0';
	err[0] = '\0';
	if (cmdline_parse(line, &args, err, sizeof(err)) == 0) {
		if (args.run[0] != '\0' && args.run[0] != '/')
			__builtin_trap();
		if (args.tmp_mib < 1 || args.tmp_mib > CMDLINE_TMP_MIB_MAX)
			__builtin_trap();
	} else if (err[0] == '\0') {
		__builtin_trap(); /* a refusal always says why */
	}
	free(line);
}

/* The value of `key` in envp, and how many entries have that key. */
static const char *lookup(char **envp, const char *key, unsigned *count)
{
	size_t kl = strlen(key);
	const char *v = NULL;

	*count = 0;
	for (char **e = envp; *e != NULL; e++)
		if (strncmp(*e, key, kl) == 0 && (*e)[kl] == '=') {
			v = *e + kl + 1;
			(*count)++;
		}
	return v;
}

static void check_env(const struct gproto_init *in)
{
	char **envp;
	unsigned count;
	const char *v;

	if (world_env_build(in, &envp) < 0)
		return;
	for (char **e = envp; *e != NULL; e++)
		if (strchr(*e, '=') == NULL || **e == '=')
			__builtin_trap();
	v = lookup(envp, "AWS_LAMBDA_RUNTIME_API", &count);
	if (count != 1 || strcmp(v, WORLD_RUNTIME_API) != 0)
		__builtin_trap();
	v = lookup(envp, "_HANDLER", &count);
	if (count != 1 || strcmp(v, in->handler.s) != 0)
		__builtin_trap();
	v = lookup(envp, "LAMBDA_TASK_ROOT", &count);
	if (count != 1 || strcmp(v, WORLD_TASK_ROOT) != 0)
		__builtin_trap();
	for (uint32_t i = 0; i < in->env_count; i++) {
		const char *key = in->env[i].key.s;

		if (world_env_reserved(key))
			continue;
		v = lookup(envp, key, &count);
		if (count < 1)
			__builtin_trap(); /* a user's variable went missing */
	}
	free(envp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t line_len = nul != NULL ? (size_t)(nul - data) : size;
	const uint8_t *body = nul != NULL ? nul + 1 : data;
	size_t body_len = nul != NULL ? size - line_len - 1 : size;
	struct gproto_hdr h = { .type = GPROTO_INIT, .len = (uint32_t)body_len, .req_id = 0 };
	uint8_t *copy;

	log_set_level(LOG_NONE);
	check_cmdline(data, line_len);
	if (body_len > gproto_body_max(GPROTO_INIT))
		return 0;
	/* An exact-size copy, so that a read past the body is caught. */
	copy = malloc(body_len ? body_len : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, body, body_len);
	if (gproto_decode(&h, copy, &msg, NULL) == 0)
		check_env(&msg.init);
	free(copy);
	return 0;
}
