/* spec: the request bodies of CreateFunction, UpdateFunctionConfiguration and UpdateFunctionCode, checked against Lambda's rules.
 *
 * Contract:
 * - spec_parse() parses a JSON body (an object; at most len bytes; a
 *   body with a NUL inside is refused) or answers
 *   InvalidRequestContentException "Could not parse request body into json".
 * - spec_create() fills f's name, runtime, handler, role, description,
 *   memory (default 128), timeout (default 3) and environment from a
 *   CreateFunction body, and points *zip_b64 at Code.ZipFile inside body
 *   (valid while body lives). Required: FunctionName, Role, Code.ZipFile,
 *   Runtime, Handler. Checked: types; FunctionName's pattern (no
 *   qualifier); Runtime in runtimes.json; Handler [^\s]{1,128}; Role
 *   1..512; Description 0..256; MemorySize 128..10240; Timeout 1..900;
 *   Environment.Variables: at most FN_ENV_MAX string values, keys
 *   [a-zA-Z][a-zA-Z0-9_]+ and none of Lambda's reserved ones, the whole
 *   JSON at most 4 KiB; PackageType Zip; Architectures ["x86_64"]; no
 *   Layers; EphemeralStorage.Size 512; Code from S3 or an image is refused.
 *   Other fields are accepted and ignored.
 * - spec_update_config() applies the fields present (same rules) to f, a
 *   copy of $LATEST; Environment replaces all variables.
 * - spec_update_code() reads ZipFile (required), Publish, DryRun, RevisionId.
 * - Every refusal is -EINVAL with Lambda's exception and message in err
 *   (InvalidParameterValueException, or ValidationException for names).
 * Thread: any (runtimes is read-only). */
#ifndef EMBER_API_SPEC_H
#define EMBER_API_SPEC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/lambda/errors.h"
#include "api/store/fn.h"
#include "api/store/runtimes.h"

#define SPEC_DEFAULT_MEMORY  128
#define SPEC_DEFAULT_TIMEOUT 3
#define SPEC_EPHEMERAL_MIB   512

struct spec_code {
	const char *zip_b64; /* inside the parsed body */
	size_t zip_b64_len;
	bool publish, dry_run;
	const char *revision_id; /* NULL if not given */
};

int spec_parse(const char *body, size_t len, cJSON **out, struct lerror *err);
int spec_create(const cJSON *body, const struct runtimes *rt, struct fn *f, struct spec_code *code,
		struct lerror *err);
int spec_update_config(const cJSON *body, const struct runtimes *rt, struct fn *f,
		       const char **revision_id, struct lerror *err);
int spec_update_code(const cJSON *body, struct spec_code *code, struct lerror *err);

#endif
