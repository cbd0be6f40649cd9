/* schema: request bodies to typed structs through one table-driven field walker (see schema.h). */
#include "lib/fcapi/schema.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/fcapi/schema_priv.h"

int schema_fail(char *err, size_t errlen, const char *ctx, const char *field, const char *fmt, ...)
{
	char msg[CONFIG_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ctx != NULL && field != NULL)
		snprintf(err, errlen, "%s.%.64s: %s", ctx, field, msg);
	else if (ctx != NULL || field != NULL)
		snprintf(err, errlen, "%.64s: %s", ctx != NULL ? ctx : field, msg);
	else
		snprintf(err, errlen, "%s", msg);
	return -EINVAL;
}

static const char *const type_name[] = {
	[FT_STR] = "a string",	[FT_BOOL] = "true or false", [FT_UINT] = "an integer",
	[FT_ENUM] = "a string", [FT_NULL] = "null",	     [FT_OBJ] = "an object",
	[FT_ANY] = "a value",
};

static struct field *find_field(struct field *f, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(f[i].name, name) == 0)
			return &f[i];
	}
	return NULL;
}

static int store_enum(struct field *x, const cJSON *v, const char *ctx, char *err, size_t errlen)
{
	char list[128] = "";
	size_t used = 0;

	for (int i = 0; x->names[i] != NULL; i++) {
		if (strcmp(v->valuestring, x->names[i]) == 0) {
			*x->e = i;
			return 0;
		}
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
					 x->names[i]);
		if (used >= sizeof(list))
			break;
	}
	return schema_fail(err, errlen, ctx, x->name, "'%.32s' is not one of %s", v->valuestring,
			   list);
}

static int store(struct field *x, const cJSON *v, const char *ctx, char *err, size_t errlen)
{
	size_t slen;
	double d;

	switch (x->type) {
	case FT_STR:
		if (!cJSON_IsString(v))
			break;
		slen = strlen(v->valuestring);
		if (slen >= x->cap) {
			schema_fail(err, errlen, ctx, x->name,
				    "is %zu bytes long; the limit is %zu", slen, x->cap - 1);
			return -E2BIG;
		}
		if (slen == 0 && x->required)
			return schema_fail(err, errlen, ctx, x->name, "must not be empty");
		memcpy(x->str, v->valuestring, slen + 1);
		return 0;
	case FT_BOOL:
		if (!cJSON_IsBool(v))
			break;
		*x->b = cJSON_IsTrue(v);
		return 0;
	case FT_UINT:
		if (!cJSON_IsNumber(v))
			break;
		d = v->valuedouble;
		/* Range first, so the cast below is defined; then integral. */
		if (!(d >= (double)x->min && d <= (double)x->max) || d != (double)(uint64_t)d)
			return schema_fail(err, errlen, ctx, x->name,
					   "expected an integer from %llu to %llu",
					   (unsigned long long)x->min, (unsigned long long)x->max);
		*x->u = (uint64_t)d;
		return 0;
	case FT_ENUM:
		if (!cJSON_IsString(v))
			break;
		return store_enum(x, v, ctx, err, errlen);
	case FT_NULL:
		/* Only reached for non-null values (null means "left out"). */
		return schema_fail(err, errlen, ctx, x->name, "%s", x->note);
	case FT_OBJ:
		if (!cJSON_IsObject(v))
			break;
		*x->obj = v;
		return 0;
	case FT_ANY:
		*x->obj = v;
		return 0;
	}
	return schema_fail(err, errlen, ctx, x->name, "expected %s", type_name[x->type]);
}

int schema_fields(const cJSON *obj, const char *ctx, struct field *f, size_t n, char *err,
		  size_t errlen)
{
	const cJSON *it;
	int ret;

	if (!cJSON_IsObject(obj))
		return schema_fail(err, errlen, ctx, NULL, "expected a JSON object");
	cJSON_ArrayForEach(it, obj)
	{
		struct field *x = find_field(f, n, it->string);

		if (x == NULL)
			return schema_fail(err, errlen, ctx, it->string, "unknown field");
		if (x->given)
			return schema_fail(err, errlen, ctx, x->name, "given twice");
		x->given = true;
		if (cJSON_IsNull(it))
			continue;
		ret = store(x, it, ctx, err, errlen);
		if (ret < 0)
			return ret;
		x->set = true;
	}
	for (size_t i = 0; i < n; i++) {
		if (f[i].required && !f[i].set)
			return schema_fail(err, errlen, ctx, f[i].name, "missing required field");
	}
	return 0;
}

/* cJSON decodes \u0000 into a NUL that would silently cut a path short. Walk
 * escapes pairwise, so "\\u0000" (a backslash, then "u0000") is not one. */
static bool has_nul_escape(const char *s, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (s[i] != '\\')
			continue;
		if (s[i + 1] == 'u' && len - i >= 6 && memcmp(s + i + 2, "0000", 4) == 0)
			return true;
		i++; /* skip the escaped character */
	}
	return false;
}

int schema_parse_body(const char *body, cJSON **out, char *err, size_t errlen)
{
	const char *end = NULL;
	size_t len = strnlen(body, SCHEMA_BODY_MAX + 1);

	if (len > SCHEMA_BODY_MAX) {
		snprintf(err, errlen, "the body is over the limit of %u bytes", SCHEMA_BODY_MAX);
		return -E2BIG;
	}
	if (has_nul_escape(body, len)) {
		snprintf(err, errlen, "\\u0000 (NUL) is not allowed in strings");
		return -EINVAL;
	}
	*out = cJSON_ParseWithOpts(body, &end, true);
	if (*out == NULL) {
		size_t at = end != NULL && end >= body ? (size_t)(end - body) : 0;

		snprintf(err, errlen, "malformed JSON at byte %zu", at);
		return -EINVAL;
	}
	return 0;
}

int schema_with_body(const char *body,
		     int (*fn)(const cJSON *, const char *, void *, char *, size_t), void *out,
		     char *err, size_t errlen)
{
	cJSON *root;
	int ret = schema_parse_body(body, &root, err, errlen);

	if (ret < 0)
		return ret;
	ret = fn(root, NULL, out, err, errlen);
	cJSON_Delete(root);
	return ret;
}

/* ---- machine-config ---- */

const char *const schema_huge_pages_names[] = {
	[CONFIG_HUGE_PAGES_NONE] = "None",
	[CONFIG_HUGE_PAGES_2M] = "2M",
	[CONFIG_HUGE_PAGES_THP] = "Transparent",
	NULL,
};

/* PUT (required) or PATCH (every field optional, at least one given) on *m. */
static int machine_fields(const cJSON *obj, const char *ctx, struct machine_config *m,
			  bool required, char *err, size_t errlen)
{
	uint64_t vcpus = m->vcpu_count, mem = m->mem_size_mib;
	struct machine_config tmp = *m;
	int huge = (int)m->huge_pages;
	struct field f[] = {
		{ .name = "vcpu_count",
		  .type = FT_UINT,
		  .required = required,
		  .u = &vcpus,
		  .min = CONFIG_MIN_VCPUS,
		  .max = CONFIG_MAX_VCPUS },
		{ .name = "mem_size_mib",
		  .type = FT_UINT,
		  .required = required,
		  .u = &mem,
		  .min = CONFIG_MIN_MEM_MIB,
		  .max = CONFIG_MAX_MEM_MIB },
		{ .name = "smt", .type = FT_BOOL, .b = &tmp.smt },
		{ .name = "track_dirty_pages", .type = FT_BOOL, .b = &tmp.track_dirty_pages },
		{ .name = "huge_pages",
		  .type = FT_ENUM,
		  .e = &huge,
		  .names = schema_huge_pages_names },
	};
	bool any = false;
	int ret = schema_fields(obj, ctx, f, ARRAY_LEN(f), err, errlen);

	if (ret < 0)
		return ret;
	for (size_t i = 0; i < ARRAY_LEN(f); i++)
		any |= f[i].set;
	/* Firecracker refuses a PATCH that changes nothing ({} or all nulls). */
	if (!required && !any)
		return schema_fail(err, errlen, ctx, NULL, "%s", SCHEMA_MSG_EMPTY_PATCH);
	if (tmp.smt)
		return schema_fail(err, errlen, ctx, "smt",
				   "must be false: SMT is not supported on this host");
	if (huge != CONFIG_HUGE_PAGES_NONE && mem % 2 != 0)
		return schema_fail(err, errlen, ctx, "mem_size_mib",
				   "%llu is not a multiple of 2 MiB, which huge_pages \"%s\" needs",
				   (unsigned long long)mem, schema_huge_pages_names[huge]);
	tmp.vcpu_count = (unsigned)vcpus;
	tmp.mem_size_mib = mem;
	tmp.huge_pages = (enum config_huge_pages)huge;
	*m = tmp;
	return 0;
}

int schema_machine_put_json(const cJSON *obj, const char *ctx, void *out, char *err, size_t errlen)
{
	struct machine_config m = { 0 };
	int ret = machine_fields(obj, ctx, &m, true, err, errlen);

	if (ret == 0)
		*(struct machine_config *)out = m;
	return ret;
}

static int machine_patch_json(const cJSON *obj, const char *ctx, void *out, char *err,
			      size_t errlen)
{
	return machine_fields(obj, ctx, out, false, err, errlen);
}

int schema_machine_config_put(const char *body, struct machine_config *out, char *err,
			      size_t errlen)
{
	return schema_with_body(body, schema_machine_put_json, out, err, errlen);
}

int schema_machine_config_patch(const char *body, struct machine_config *inout, char *err,
				size_t errlen)
{
	return schema_with_body(body, machine_patch_json, inout, err, errlen);
}

/* ---- boot-source ---- */

int schema_boot_put_json(const cJSON *obj, const char *ctx, void *out, char *err, size_t errlen)
{
	struct boot_source_config tmp = { .boot_args = CONFIG_DEFAULT_CMDLINE };
	struct field f[] = {
		FIELD_STR("kernel_image_path", tmp.kernel_image_path, true),
		FIELD_STR("initrd_path", tmp.initrd_path, false),
		FIELD_STR("boot_args", tmp.boot_args, false),
	};
	int ret = schema_fields(obj, ctx, f, ARRAY_LEN(f), err, errlen);

	if (ret == 0)
		*(struct boot_source_config *)out = tmp;
	return ret;
}

int schema_boot_source_put(const char *body, struct boot_source_config *out, char *err,
			   size_t errlen)
{
	return schema_with_body(body, schema_boot_put_json, out, err, errlen);
}

/* ---- drives ---- */

static int check_drive_id(const char *id, const char *path_id, const char *ctx, char *err,
			  size_t errlen)
{
	for (const char *p = id; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return schema_fail(err, errlen, ctx, "drive_id",
					   "only letters, digits and '_' are allowed");
	}
	if (path_id != NULL && strcmp(id, path_id) != 0)
		return schema_fail(err, errlen, ctx, "drive_id",
				   "'%s' does not match the drive id in the path ('%.32s')", id,
				   path_id);
	return 0;
}

int schema_drive_put_json(const cJSON *obj, const char *ctx, const char *path_id,
			  struct drive_config *out, char *err, size_t errlen)
{
	struct drive_config tmp = { .is_read_only = false };
	struct field f[] = {
		FIELD_STR("drive_id", tmp.drive_id, true),
		FIELD_STR("path_on_host", tmp.path_on_host, true),
		{ .name = "is_root_device",
		  .type = FT_BOOL,
		  .required = true,
		  .b = &tmp.is_root_device },
		{ .name = "is_read_only", .type = FT_BOOL, .b = &tmp.is_read_only },
	};
	int ret = schema_fields(obj, ctx, f, ARRAY_LEN(f), err, errlen);

	if (ret == 0)
		ret = check_drive_id(tmp.drive_id, path_id, ctx, err, errlen);
	if (ret == 0)
		*out = tmp;
	return ret;
}

int schema_drive_put(const char *body, const char *path_id, struct drive_config *out, char *err,
		     size_t errlen)
{
	cJSON *root;
	int ret = schema_parse_body(body, &root, err, errlen);

	if (ret < 0)
		return ret;
	ret = schema_drive_put_json(root, NULL, path_id, out, err, errlen);
	cJSON_Delete(root);
	return ret;
}

int schema_drive_patch(const char *body, const char *path_id, struct drive_config *inout, char *err,
		       size_t errlen)
{
	struct drive_config tmp = *inout;
	struct field f[] = {
		FIELD_STR("drive_id", tmp.drive_id, true),
		FIELD_STR("path_on_host", tmp.path_on_host, false),
	};
	cJSON *root;
	int ret = schema_parse_body(body, &root, err, errlen);

	if (ret < 0)
		return ret;
	ret = schema_fields(root, NULL, f, ARRAY_LEN(f), err, errlen);
	cJSON_Delete(root);
	if (ret == 0)
		ret = check_drive_id(tmp.drive_id, path_id, NULL, err, errlen);
	if (ret == 0 && strcmp(tmp.drive_id, inout->drive_id) != 0)
		ret = schema_fail(err, errlen, NULL, "drive_id", "no drive '%s' to patch",
				  tmp.drive_id);
	if (ret == 0 && tmp.path_on_host[0] == '\0')
		ret = schema_fail(err, errlen, NULL, "path_on_host", "must not be empty");
	if (ret == 0)
		*inout = tmp;
	return ret;
}

/* ---- vsock, entropy ---- */

int schema_vsock_put_json(const cJSON *obj, const char *ctx, void *out, char *err, size_t errlen)
{
	struct vsock_config tmp = { .enabled = true, .vsock_id = "vsock" };
	uint64_t cid = 0;
	struct field f[] = {
		{ .name = "guest_cid",
		  .type = FT_UINT,
		  .required = true,
		  .u = &cid,
		  .min = CONFIG_VSOCK_CID_MIN,
		  .max = CONFIG_VSOCK_CID_MAX },
		FIELD_STR("uds_path", tmp.uds_path, true),
		FIELD_STR("vsock_id", tmp.vsock_id, false),
	};
	int ret = schema_fields(obj, ctx, f, ARRAY_LEN(f), err, errlen);

	if (ret < 0)
		return ret;
	if (tmp.vsock_id[0] == '\0')
		return schema_fail(err, errlen, ctx, "vsock_id", "must not be empty");
	tmp.guest_cid = (uint32_t)cid;
	*(struct vsock_config *)out = tmp;
	return 0;
}

int schema_vsock_put(const char *body, struct vsock_config *out, char *err, size_t errlen)
{
	return schema_with_body(body, schema_vsock_put_json, out, err, errlen);
}

int schema_entropy_put_json(const cJSON *obj, const char *ctx, void *out, char *err, size_t errlen)
{
	struct field f[] = {
		{ .name = "rate_limiter",
		  .type = FT_NULL,
		  .note = "rate limiting is not supported yet; leave rate_limiter out or null" },
	};
	int ret = schema_fields(obj, ctx, f, ARRAY_LEN(f), err, errlen);

	if (ret == 0)
		((struct entropy_config *)out)->enabled = true;
	return ret;
}

int schema_entropy_put(const char *body, struct entropy_config *out, char *err, size_t errlen)
{
	return schema_with_body(body, schema_entropy_put_json, out, err, errlen);
}
