/* fuzz_lambda_request: libFuzzer harness for what a Lambda API client controls: function names in paths and the JSON bodies of CreateFunction / UpdateFunction*.
 *
 * Covers api/lambda/names.c (names_percent_decode, names_parse), spec.c
 * (spec_parse, spec_create, spec_update_config, spec_update_code) and
 * store/fn.c (fn_check, fn_add_env, fn_clear_env). Input: any bytes; the
 * whole input is a path segment and, cut at ROUTE_SMALL_BODY_MAX, a body.
 * Whatever it says: no crash or leak; every refusal is -EINVAL with a known
 * exception and a message; an accepted CreateFunction passes fn_check. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/lambda/names.h"
#include "api/lambda/routes.h"
#include "api/lambda/spec.h"
#include "lib/util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ret, const struct lerror *err)
{
	if (ret == 0)
		return;
	if (ret != -EINVAL || err->exc <= LEXC_NONE || err->exc >= LEXC_COUNT ||
	    err->msg[0] == '\0')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct runtimes rt;
	char decoded[NAMES_INPUT_MAX + 1], errbuf[64];
	size_t len = size > ROUTE_SMALL_BODY_MAX ? ROUTE_SMALL_BODY_MAX : size;
	struct spec_code code;
	struct lerror err;
	struct fname fname;
	const char *rev;
	struct fn *f;
	cJSON *body = NULL;
	char *text;

	log_set_level(LOG_NONE);
	if (rt.count == 0) {
		strcpy(rt.e[0].name, "python3.12");
		strcpy(rt.e[0].image, "/rt/python.erofs");
		rt.count = 1;
	}
	/* The {name} segment of a path. */
	if (names_percent_decode((const char *)data, size, decoded, sizeof(decoded)) == 0) {
		memset(&err, 0, sizeof(err));
		check(names_parse(decoded, &fname, &err), &err);
	}
	/* A body, NUL-terminated as the server hands it over. */
	text = malloc(len + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, len);
	text[len] = '\0';
	memset(&err, 0, sizeof(err));
	if (spec_parse(text, len, &body, &err) < 0) {
		check(-EINVAL, &err);
		free(text);
		return 0;
	}
	f = fn_new();
	if (f != NULL) {
		memset(&err, 0, sizeof(err));
		if (spec_create(body, &rt, f, &code, &err) == 0) {
			/* What the store adds before its own fn_check. */
			strcpy(f->version, FN_LATEST);
			if (fn_check(f, errbuf, sizeof(errbuf)) < 0 || code.zip_b64 == NULL)
				abort();
		} else {
			check(-EINVAL, &err);
		}
		memset(&err, 0, sizeof(err));
		check(spec_update_config(body, &rt, f, &rev, &err), &err);
		fn_unref(f);
	}
	memset(&err, 0, sizeof(err));
	check(spec_update_code(body, &code, &err), &err);
	cJSON_Delete(body);
	free(text);
	return 0;
}
