/* spec: CreateFunction / UpdateFunction* bodies against Lambda's rules (see spec.h). */
#include "api/lambda/spec.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/lambda/names.h"

#define IP LEXC_INVALID_PARAMETER

/* Keys Lambda sets itself and refuses from users. */
static const char *const reserved_keys[] = {
	"_HANDLER",
	"_X_AMZN_TRACE_ID",
	"AWS_DEFAULT_REGION",
	"AWS_REGION",
	"AWS_EXECUTION_ENV",
	"AWS_LAMBDA_FUNCTION_NAME",
	"AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
	"AWS_LAMBDA_FUNCTION_VERSION",
	"AWS_LAMBDA_INITIALIZATION_TYPE",
	"AWS_LAMBDA_LOG_GROUP_NAME",
	"AWS_LAMBDA_LOG_STREAM_NAME",
	"AWS_ACCESS_KEY",
	"AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN",
	"AWS_LAMBDA_RUNTIME_API",
	"LAMBDA_TASK_ROOT",
	"LAMBDA_RUNTIME_DIR",
};

int spec_parse(const char *body, size_t len, cJSON **out, struct lerror *err)
{
	const char *end = NULL;
	cJSON *j;

	if (body == NULL || len == 0)
		return lerror_set(err, LEXC_INVALID_REQUEST_CONTENT,
				  "Could not parse request body into json: the body is empty");
	if (strlen(body) != len)
		return lerror_set(err, LEXC_INVALID_REQUEST_CONTENT,
				  "Could not parse request body into json: a NUL byte at %zu",
				  strlen(body));
	j = cJSON_ParseWithOpts(body, &end, 1);
	if (j == NULL) {
		size_t at = end != NULL && end >= body ? (size_t)(end - body) : 0;

		return lerror_set(err, LEXC_INVALID_REQUEST_CONTENT,
				  "Could not parse request body into json: unexpected input at "
				  "byte %zu",
				  at);
	}
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return lerror_set(err, LEXC_INVALID_REQUEST_CONTENT,
				  "Could not parse request body into json: not a JSON object");
	}
	*out = j;
	return 0;
}

static int get_string(const cJSON *body, const char *key, size_t max, const char **out,
		      struct lerror *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return lerror_set(err, IP, "%s must be a string", key);
	if (strlen(v->valuestring) > max)
		return lerror_set(err, IP,
				  "1 validation error detected: Value at '%s' failed to satisfy "
				  "constraint: Member must have length less than or equal to %zu",
				  key, max);
	*out = v->valuestring;
	return 0;
}

/* An integer field in [min, max]; *present false if absent. */
static int get_int(const cJSON *body, const char *key, const char *model, long min, long max,
		   long *out, bool *present, struct lerror *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
	double d;

	*present = false;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v))
		return lerror_set(err, IP, "%s must be an integer", key);
	d = v->valuedouble;
	if (d != floor(d) || d < -1e15 || d > 1e15)
		return lerror_set(err, IP, "%s must be an integer", key);
	if (d < (double)min || d > (double)max)
		return lerror_set(err, IP,
				  "1 validation error detected: Value '%.0f' at '%s' failed to "
				  "satisfy constraint: Member must have value %s %ld",
				  d, model,
				  d < (double)min ? "greater than or equal to"
						  : "less than or equal to",
				  d < (double)min ? min : max);
	*out = (long)d;
	*present = true;
	return 0;
}

static int get_bool(const cJSON *body, const char *key, bool *out, struct lerror *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);

	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsBool(v))
		return lerror_set(err, IP, "%s must be true or false", key);
	*out = cJSON_IsTrue(v);
	return 0;
}

static bool env_key_ok(const char *k)
{
	if (!((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= 'A' && k[0] <= 'Z')) || k[1] == '\0')
		return false;
	for (const char *p = k + 1; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	}
	return true;
}

static int set_env(const cJSON *envobj, struct fn *f, struct lerror *err)
{
	const cJSON *vars, *it;
	char *measured;
	size_t bytes;

	if (!cJSON_IsObject(envobj))
		return lerror_set(err, IP, "Environment must be an object");
	vars = cJSON_GetObjectItemCaseSensitive(envobj, "Variables");
	fn_clear_env(f);
	if (vars == NULL || cJSON_IsNull(vars))
		return 0;
	if (!cJSON_IsObject(vars))
		return lerror_set(err, IP, "Environment.Variables must be an object");
	measured = cJSON_PrintUnformatted(vars);
	if (measured == NULL)
		return lerror_set(err, LEXC_SERVICE, "out of memory");
	bytes = strlen(measured);
	if (bytes > FN_ENV_BYTES) {
		lerror_set(err, IP,
			   "Lambda was unable to configure your environment variables because the "
			   "environment variables you have provided exceeded the 4KB limit. String "
			   "measured: %.300s...",
			   measured);
		free(measured);
		return -EINVAL;
	}
	free(measured);
	cJSON_ArrayForEach(it, vars)
	{
		if (!cJSON_IsString(it))
			return lerror_set(err, IP, "Environment variable %.64s must be a string",
					  it->string);
		if (!env_key_ok(it->string))
			return lerror_set(
				err, IP,
				"1 validation error detected: Value at "
				"'environment.variables' failed to satisfy constraint: Map "
				"keys must satisfy constraint: [Member must satisfy regular "
				"expression pattern: [a-zA-Z]([a-zA-Z0-9_])+] (key '%.64s')",
				it->string);
		for (size_t i = 0; i < sizeof(reserved_keys) / sizeof(reserved_keys[0]); i++) {
			if (strcmp(it->string, reserved_keys[i]) == 0)
				return lerror_set(
					err, IP,
					"Lambda was unable to configure your environment variables "
					"because the environment variables you have provided "
					"contains reserved keys that are currently not supported "
					"for modification. Reserved keys used in this request: %s",
					it->string);
		}
		if (f->env_count >= FN_ENV_MAX)
			return lerror_set(err, IP, "At most %d environment variables", FN_ENV_MAX);
		if (fn_add_env(f, it->string, it->valuestring) < 0)
			return lerror_set(err, LEXC_SERVICE, "out of memory");
	}
	return 0;
}

static int check_runtime(const char *runtime, const struct runtimes *rt, struct lerror *err)
{
	char names[1024];

	if (runtimes_image(rt, runtime) != NULL)
		return 0;
	runtimes_names(rt, names, sizeof(names));
	return lerror_set(err, IP,
			  "Value %.64s at 'runtime' failed to satisfy constraint: Member must "
			  "satisfy enum value set: [%s] or be a valid ARN",
			  runtime, names);
}

static int check_handler(const char *h, struct lerror *err)
{
	if (h[0] == '\0' || strpbrk(h, " \t\r\n\v\f") != NULL)
		return lerror_set(err, IP,
				  "1 validation error detected: Value '%.128s' at 'handler' failed "
				  "to satisfy constraint: Member must satisfy regular expression "
				  "pattern: [^\\s]+",
				  h);
	return 0;
}

/* The fields CreateFunction and UpdateFunctionConfiguration share. */
static int common_fields(const cJSON *body, const struct runtimes *rt, struct fn *f,
			 struct lerror *err)
{
	const char *runtime, *handler, *role, *desc;
	const cJSON *env, *eph;
	long num;
	bool present;
	int ret;

	if ((ret = get_string(body, "Runtime", FN_RUNTIME_MAX + 64, &runtime, err)) < 0 ||
	    (ret = get_string(body, "Handler", FN_HANDLER_MAX, &handler, err)) < 0 ||
	    (ret = get_string(body, "Role", FN_ROLE_MAX, &role, err)) < 0 ||
	    (ret = get_string(body, "Description", FN_DESC_MAX, &desc, err)) < 0)
		return ret;
	if (runtime != NULL) {
		ret = check_runtime(runtime, rt, err);
		if (ret < 0)
			return ret;
		snprintf(f->runtime, sizeof(f->runtime), "%s", runtime);
	}
	if (handler != NULL) {
		ret = check_handler(handler, err);
		if (ret < 0)
			return ret;
		snprintf(f->handler, sizeof(f->handler), "%s", handler);
	}
	if (role != NULL) {
		if (role[0] == '\0')
			return lerror_set(err, IP, "Role must not be empty");
		snprintf(f->role, sizeof(f->role), "%s", role);
	}
	if (desc != NULL)
		snprintf(f->description, sizeof(f->description), "%s", desc);
	ret = get_int(body, "MemorySize", "memorySize", FN_MEMORY_MIN, FN_MEMORY_MAX, &num,
		      &present, err);
	if (ret < 0)
		return ret;
	if (present)
		f->memory_mib = (uint32_t)num;
	ret = get_int(body, "Timeout", "timeout", FN_TIMEOUT_MIN, FN_TIMEOUT_MAX, &num, &present,
		      err);
	if (ret < 0)
		return ret;
	if (present)
		f->timeout_s = (uint32_t)num;
	env = cJSON_GetObjectItemCaseSensitive(body, "Environment");
	if (env != NULL && !cJSON_IsNull(env)) {
		ret = set_env(env, f, err);
		if (ret < 0)
			return ret;
	}
	eph = cJSON_GetObjectItemCaseSensitive(body, "EphemeralStorage");
	if (eph != NULL && !cJSON_IsNull(eph)) {
		ret = get_int(eph, "Size", "ephemeralStorage.size", SPEC_EPHEMERAL_MIB,
			      SPEC_EPHEMERAL_MIB, &num, &present, err);
		if (ret < 0)
			return ret;
	}
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(body, "Layers")) > 0)
		return lerror_set(err, IP, "Layers are not supported by ember");
	return 0;
}

static int architectures(const cJSON *body, struct lerror *err)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(body, "Architectures"), *it;

	if (a == NULL || cJSON_IsNull(a))
		return 0;
	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 1)
		return lerror_set(err, IP, "Architectures must be a list of one architecture");
	it = cJSON_GetArrayItem(a, 0);
	if (!cJSON_IsString(it) || strcmp(it->valuestring, "x86_64") != 0)
		return lerror_set(err, IP,
				  "Unsupported architecture %.32s: this host runs x86_64 functions",
				  cJSON_IsString(it) ? it->valuestring : "?");
	return 0;
}

static int zip_field(const cJSON *code, const char *where, struct spec_code *out,
		     struct lerror *err)
{
	const cJSON *zip = cJSON_GetObjectItemCaseSensitive(code, "ZipFile");

	if (cJSON_GetObjectItemCaseSensitive(code, "S3Bucket") != NULL ||
	    cJSON_GetObjectItemCaseSensitive(code, "S3Key") != NULL ||
	    cJSON_GetObjectItemCaseSensitive(code, "ImageUri") != NULL)
		return lerror_set(err, IP,
				  "ember takes function code as %sZipFile only (no S3, no images)",
				  where);
	if (!cJSON_IsString(zip))
		return lerror_set(err, IP, "%sZipFile is required (the zip, base64-encoded)",
				  where);
	out->zip_b64 = zip->valuestring;
	out->zip_b64_len = strlen(zip->valuestring);
	return 0;
}

int spec_create(const cJSON *body, const struct runtimes *rt, struct fn *f, struct spec_code *code,
		struct lerror *err)
{
	const char *name, *ptype;
	const cJSON *c;
	struct fname fname;
	int ret;

	memset(code, 0, sizeof(*code));
	f->memory_mib = SPEC_DEFAULT_MEMORY;
	f->timeout_s = SPEC_DEFAULT_TIMEOUT;
	if ((ret = get_string(body, "FunctionName", NAMES_INPUT_MAX, &name, err)) < 0)
		return ret;
	if (name == NULL)
		return lerror_set(err, IP, "FunctionName is required");
	ret = names_parse(name, &fname, err);
	if (ret < 0)
		return ret;
	if (fname.qualifier[0] != '\0')
		return lerror_set(err, IP, "FunctionName must not have a qualifier: %.140s", name);
	snprintf(f->name, sizeof(f->name), "%s", fname.name);
	if ((ret = get_string(body, "PackageType", 16, &ptype, err)) < 0)
		return ret;
	if (ptype != NULL && strcmp(ptype, "Zip") != 0)
		return lerror_set(err, IP,
				  "PackageType %s is not supported: ember runs Zip functions",
				  ptype);
	ret = common_fields(body, rt, f, err);
	if (ret < 0)
		return ret;
	if (f->role[0] == '\0')
		return lerror_set(err, IP, "Role is required");
	if (f->runtime[0] == '\0')
		return lerror_set(err, IP, "Runtime is required for .zip file based functions");
	if (f->handler[0] == '\0')
		return lerror_set(err, IP, "Handler is required for .zip file based functions");
	ret = architectures(body, err);
	if (ret < 0)
		return ret;
	c = cJSON_GetObjectItemCaseSensitive(body, "Code");
	if (!cJSON_IsObject(c))
		return lerror_set(err, IP, "Code is required (Code.ZipFile)");
	ret = zip_field(c, "Code.", code, err);
	if (ret < 0)
		return ret;
	return get_bool(body, "Publish", &code->publish, err);
}

int spec_update_config(const cJSON *body, const struct runtimes *rt, struct fn *f,
		       const char **revision_id, struct lerror *err)
{
	int ret = get_string(body, "RevisionId", FN_REVISION_MAX, revision_id, err);

	if (ret < 0)
		return ret;
	return common_fields(body, rt, f, err);
}

int spec_update_code(const cJSON *body, struct spec_code *code, struct lerror *err)
{
	int ret;

	memset(code, 0, sizeof(*code));
	if ((ret = get_string(body, "RevisionId", FN_REVISION_MAX, &code->revision_id, err)) < 0 ||
	    (ret = get_bool(body, "Publish", &code->publish, err)) < 0 ||
	    (ret = get_bool(body, "DryRun", &code->dry_run, err)) < 0 ||
	    (ret = architectures(body, err)) < 0)
		return ret;
	return zip_field(body, "", code, err);
}
