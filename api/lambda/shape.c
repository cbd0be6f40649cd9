/* shape: Lambda response shapes built with cJSON (see shape.h). */
#include "api/lambda/shape.h"

#include <stdio.h>
#include <string.h>

/* cJSON_Add* return NULL on failure; one flag collects them all. */
struct b {
	bool ok;
};

static cJSON *obj(struct b *b, cJSON *parent, const char *key)
{
	cJSON *o = cJSON_AddObjectToObject(parent, key);

	b->ok = b->ok && o != NULL;
	return o != NULL ? o : parent; /* keep adding to something valid */
}

static void str(struct b *b, cJSON *o, const char *key, const char *v)
{
	b->ok = b->ok && cJSON_AddStringToObject(o, key, v) != NULL;
}

static void num(struct b *b, cJSON *o, const char *key, double v)
{
	b->ok = b->ok && cJSON_AddNumberToObject(o, key, v) != NULL;
}

static cJSON *done(struct b *b, cJSON *o)
{
	if (!b->ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *shape_config(const struct fn *f, bool qualify_latest)
{
	struct b b = { .ok = true };
	cJSON *o = cJSON_CreateObject(), *sub, *arr;
	char arn[FN_ARN_MAX + FN_VERSION_MAX + 2], group[FN_NAME_MAX + 16];

	if (o == NULL)
		return NULL;
	if (strcmp(f->version, FN_LATEST) != 0 || qualify_latest)
		snprintf(arn, sizeof(arn), "%s:%s", f->arn, f->version);
	else
		snprintf(arn, sizeof(arn), "%s", f->arn);
	str(&b, o, "FunctionName", f->name);
	str(&b, o, "FunctionArn", arn);
	str(&b, o, "Runtime", f->runtime);
	str(&b, o, "Role", f->role);
	str(&b, o, "Handler", f->handler);
	num(&b, o, "CodeSize", (double)f->code_size);
	str(&b, o, "Description", f->description);
	num(&b, o, "Timeout", f->timeout_s);
	num(&b, o, "MemorySize", f->memory_mib);
	str(&b, o, "LastModified", f->last_modified);
	str(&b, o, "CodeSha256", f->code_sha256);
	str(&b, o, "Version", f->version);
	if (f->env_count > 0) {
		sub = obj(&b, obj(&b, o, "Environment"), "Variables");
		for (unsigned i = 0; i < f->env_count; i++)
			str(&b, sub, f->env[i].key, f->env[i].value);
	}
	str(&b, obj(&b, o, "TracingConfig"), "Mode", "PassThrough");
	str(&b, o, "RevisionId", f->revision_id);
	str(&b, o, "State", "Active");
	str(&b, o, "LastUpdateStatus", "Successful");
	str(&b, o, "PackageType", "Zip");
	arr = cJSON_AddArrayToObject(o, "Architectures");
	b.ok = b.ok && arr != NULL && cJSON_AddItemToArray(arr, cJSON_CreateString("x86_64"));
	num(&b, obj(&b, o, "EphemeralStorage"), "Size", 512);
	sub = obj(&b, o, "SnapStart");
	str(&b, sub, "ApplyOn", "None");
	str(&b, sub, "OptimizationStatus", "Off");
	sub = obj(&b, o, "LoggingConfig");
	snprintf(group, sizeof(group), "/aws/lambda/%s", f->name);
	str(&b, sub, "LogFormat", "Text");
	str(&b, sub, "LogGroup", group);
	return done(&b, o);
}

cJSON *shape_concurrency(int64_t reserved)
{
	struct b b = { .ok = true };
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return NULL;
	if (reserved >= 0)
		num(&b, o, "ReservedConcurrentExecutions", (double)reserved);
	return done(&b, o);
}

cJSON *shape_function(const struct fn *f, int64_t reserved, const char *location)
{
	struct b b = { .ok = true };
	cJSON *o = cJSON_CreateObject(), *conf = shape_config(f, false), *conc, *code;

	if (o == NULL || conf == NULL) {
		cJSON_Delete(o);
		cJSON_Delete(conf);
		return NULL;
	}
	cJSON_AddItemToObject(o, "Configuration", conf);
	/* Lambda's Code.Location is a presigned S3 URL; ember's is its own route. */
	code = obj(&b, o, "Code");
	str(&b, code, "RepositoryType", "S3");
	if (location != NULL && location[0] != '\0')
		str(&b, code, "Location", location);
	if (reserved >= 0) {
		conc = shape_concurrency(reserved);
		b.ok = b.ok && conc != NULL && cJSON_AddItemToObject(o, "Concurrency", conc);
	}
	return done(&b, o);
}

cJSON *shape_account(const struct shape_account *a)
{
	struct b b = { .ok = true };
	cJSON *o = cJSON_CreateObject(), *lim, *use;
	uint64_t unreserved = a->reserved_total < SHAPE_ACCOUNT_CONCURRENCY
				      ? SHAPE_ACCOUNT_CONCURRENCY - a->reserved_total
				      : 0;

	if (o == NULL)
		return NULL;
	lim = obj(&b, o, "AccountLimit");
	num(&b, lim, "TotalCodeSize", (double)SHAPE_TOTAL_CODE_SIZE);
	num(&b, lim, "CodeSizeUnzipped", (double)a->unzipped_max);
	num(&b, lim, "CodeSizeZipped", (double)a->zipped_max);
	num(&b, lim, "ConcurrentExecutions", SHAPE_ACCOUNT_CONCURRENCY);
	num(&b, lim, "UnreservedConcurrentExecutions", (double)unreserved);
	use = obj(&b, o, "AccountUsage");
	num(&b, use, "TotalCodeSize", (double)a->code_bytes);
	num(&b, use, "FunctionCount", (double)a->function_count);
	return done(&b, o);
}
