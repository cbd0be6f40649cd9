/* schema_ops: the endpoint-only payloads (actions, vm state, logger, metrics, snapshots; see schema.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/fcapi/schema.h"
#include "lib/fcapi/schema_priv.h"

/* ---- actions, vm ---- */

static int actions_json(const cJSON *obj, const char *ctx, void *out, char *err, size_t errlen)
{
	static const char *const names[] = {
		[SCHEMA_ACTION_INSTANCE_START] = "InstanceStart",
		[SCHEMA_ACTION_SEND_CTRL_ALT_DEL] = "SendCtrlAltDel",
		[SCHEMA_ACTION_FLUSH_METRICS] = "FlushMetrics",
		NULL,
	};
	int v = 0;
	struct field f[] = {
		{ .name = "action_type",
		  .type = FT_ENUM,
		  .required = true,
		  .e = &v,
		  .names = names },
	};
	int ret = schema_fields(obj, ctx, f, ARRAY_LEN(f), err, errlen);

	if (ret == 0)
		*(enum schema_action *)out = (enum schema_action)v;
	return ret;
}

int schema_actions_put(const char *body, enum schema_action *out, char *err, size_t errlen)
{
	return schema_with_body(body, actions_json, out, err, errlen);
}

static int vm_json(const cJSON *obj, const char *ctx, void *out, char *err, size_t errlen)
{
	static const char *const names[] = {
		[SCHEMA_VM_PAUSED] = "Paused",
		[SCHEMA_VM_RESUMED] = "Resumed",
		NULL,
	};
	int v = 0;
	struct field f[] = {
		{ .name = "state", .type = FT_ENUM, .required = true, .e = &v, .names = names },
	};
	int ret = schema_fields(obj, ctx, f, ARRAY_LEN(f), err, errlen);

	if (ret == 0)
		*(enum schema_vm_state *)out = (enum schema_vm_state)v;
	return ret;
}

int schema_vm_patch(const char *body, enum schema_vm_state *out, char *err, size_t errlen)
{
	return schema_with_body(body, vm_json, out, err, errlen);
}

/* ---- logger, metrics ---- */

static int logger_json(const cJSON *obj, const char *ctx, void *out, char *err, size_t errlen)
{
	static const char *const names[] = { "Error", "Warning", "Info", "Debug", NULL };
	static const enum log_level levels[] = { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };
	struct schema_logger tmp = { .level = LOG_INFO };
	int lvl = 2;
	struct field f[] = {
		FIELD_STR("log_path", tmp.log_path, false), /* optional since Firecracker 1.5 */
		{ .name = "level", .type = FT_ENUM, .e = &lvl, .names = names },
		{ .name = "show_level", .type = FT_BOOL, .b = &tmp.show_level },
		{ .name = "show_log_origin", .type = FT_BOOL, .b = &tmp.show_log_origin },
	};
	int ret = schema_fields(obj, ctx, f, ARRAY_LEN(f), err, errlen);

	if (ret < 0)
		return ret;
	tmp.level = levels[lvl];
	*(struct schema_logger *)out = tmp;
	return 0;
}

int schema_logger_put(const char *body, struct schema_logger *out, char *err, size_t errlen)
{
	return schema_with_body(body, logger_json, out, err, errlen);
}

static int metrics_json(const cJSON *obj, const char *ctx, void *out, char *err, size_t errlen)
{
	struct schema_metrics tmp = { .metrics_path = "" };
	struct field f[] = {
		FIELD_STR("metrics_path", tmp.metrics_path, true),
	};
	int ret = schema_fields(obj, ctx, f, ARRAY_LEN(f), err, errlen);

	if (ret == 0)
		*(struct schema_metrics *)out = tmp;
	return ret;
}

int schema_metrics_put(const char *body, struct schema_metrics *out, char *err, size_t errlen)
{
	return schema_with_body(body, metrics_json, out, err, errlen);
}

/* ---- snapshots ---- */

static int snap_create_json(const cJSON *obj, const char *ctx, void *out, char *err, size_t errlen)
{
	static const char *const names[] = {
		[SCHEMA_SNAPSHOT_FULL] = "Full",
		[SCHEMA_SNAPSHOT_DIFF] = "Diff",
		NULL,
	};
	struct schema_snapshot_create tmp = { .snapshot_type = SCHEMA_SNAPSHOT_FULL };
	int type = SCHEMA_SNAPSHOT_FULL;
	struct field f[] = {
		FIELD_STR("snapshot_path", tmp.snapshot_path, true),
		FIELD_STR("mem_file_path", tmp.mem_file_path, true),
		{ .name = "snapshot_type", .type = FT_ENUM, .e = &type, .names = names },
	};
	int ret = schema_fields(obj, ctx, f, ARRAY_LEN(f), err, errlen);

	if (ret < 0)
		return ret;
	tmp.snapshot_type = (enum schema_snapshot_type)type;
	*(struct schema_snapshot_create *)out = tmp;
	return 0;
}

int schema_snapshot_create_put(const char *body, struct schema_snapshot_create *out, char *err,
			       size_t errlen)
{
	return schema_with_body(body, snap_create_json, out, err, errlen);
}

static int vsock_override_json(const cJSON *obj, struct schema_load_overrides *ov, char *err,
			       size_t errlen)
{
	struct field f[] = { FIELD_STR("uds_path", ov->vsock_uds_path, true) };
	int ret = schema_fields(obj, "vsock_override", f, ARRAY_LEN(f), err, errlen);

	if (ret == 0)
		ov->vsock = true;
	return ret;
}

static int drive_overrides_json(const cJSON *arr, struct schema_load_overrides *ov, char *err,
				size_t errlen)
{
	const cJSON *it;

	if (!cJSON_IsArray(arr))
		return schema_fail(err, errlen, NULL, "drive_overrides", "expected an array");
	cJSON_ArrayForEach(it, arr)
	{
		struct schema_drive_override *d = &ov->drives[ov->ndrives];
		struct field f[] = {
			FIELD_STR("drive_id", d->drive_id, true),
			FIELD_STR("path_on_host", d->path_on_host, true),
		};
		char ctx[32];
		int ret;

		snprintf(ctx, sizeof(ctx), "drive_overrides[%u]", ov->ndrives);
		if (ov->ndrives >= CONFIG_MAX_DRIVES)
			return schema_fail(err, errlen, NULL, "drive_overrides",
					   "at most %u drives", CONFIG_MAX_DRIVES);
		ret = schema_fields(it, ctx, f, ARRAY_LEN(f), err, errlen);
		if (ret < 0)
			return ret;
		for (unsigned i = 0; i < ov->ndrives; i++)
			if (strcmp(ov->drives[i].drive_id, d->drive_id) == 0)
				return schema_fail(err, errlen, ctx, "drive_id",
						   "'%s' is overridden twice", d->drive_id);
		ov->ndrives++;
	}
	return 0;
}

static int snap_load_json(const cJSON *obj, const char *ctx, void *out, char *err, size_t errlen)
{
	static const char *const names[] = {
		[SCHEMA_MEM_BACKEND_FILE] = "File",
		[SCHEMA_MEM_BACKEND_UFFD] = "Uffd",
		NULL,
	};
	struct schema_snapshot_load tmp = { .backend_type = SCHEMA_MEM_BACKEND_FILE };
	char mem_file_path[PATH_MAX] = "";
	const cJSON *backend = NULL, *vsock_ov = NULL, *drive_ov = NULL;
	bool diff = false, dirty = false;
	int type = SCHEMA_MEM_BACKEND_FILE;
	struct field f[] = {
		FIELD_STR("snapshot_path", tmp.snapshot_path, true),
		{ .name = "mem_backend", .type = FT_OBJ, .obj = &backend },
		FIELD_STR("mem_file_path", mem_file_path, false),
		{ .name = "enable_diff_snapshots", .type = FT_BOOL, .b = &diff },
		{ .name = "track_dirty_pages", .type = FT_BOOL, .b = &dirty },
		{ .name = "resume_vm", .type = FT_BOOL, .b = &tmp.resume_vm },
		{ .name = "vsock_override", .type = FT_OBJ, .obj = &vsock_ov },
		{ .name = "drive_overrides", .type = FT_ANY, .obj = &drive_ov },
	};
	struct field bf[] = {
		{ .name = "backend_type",
		  .type = FT_ENUM,
		  .required = true,
		  .e = &type,
		  .names = names },
		FIELD_STR("backend_path", tmp.backend_path, true),
	};
	int ret = schema_fields(obj, ctx, f, ARRAY_LEN(f), err, errlen);

	if (ret < 0)
		return ret;
	if (f[1].set == f[2].set)
		return schema_fail(err, errlen, ctx, "mem_backend",
				   "give exactly one of mem_backend and mem_file_path");
	if (backend != NULL) {
		ret = schema_fields(backend, "mem_backend", bf, ARRAY_LEN(bf), err, errlen);
		if (ret < 0)
			return ret;
		tmp.backend_type = (enum schema_mem_backend)type;
	} else {
		if (mem_file_path[0] == '\0')
			return schema_fail(err, errlen, ctx, "mem_file_path", "must not be empty");
		memcpy(tmp.backend_path, mem_file_path, sizeof(tmp.backend_path));
	}
	if (vsock_ov != NULL) {
		ret = vsock_override_json(vsock_ov, &tmp.overrides, err, errlen);
		if (ret < 0)
			return ret;
	}
	if (drive_ov != NULL) {
		ret = drive_overrides_json(drive_ov, &tmp.overrides, err, errlen);
		if (ret < 0)
			return ret;
	}
	tmp.enable_diff_snapshots = diff || dirty;
	*(struct schema_snapshot_load *)out = tmp;
	return 0;
}

int schema_snapshot_load_put(const char *body, struct schema_snapshot_load *out, char *err,
			     size_t errlen)
{
	return schema_with_body(body, snap_load_json, out, err, errlen);
}
