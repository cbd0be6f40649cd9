/* schema_config: struct vm_config as GET /vm/config JSON, and --config-file through the PUT parsers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/fcapi/schema.h"
#include "lib/fcapi/schema_priv.h"

static bool add_str(cJSON *obj, const char *key, const char *val)
{
	return cJSON_AddStringToObject(obj, key, val) != NULL;
}

static cJSON *boot_to_json(const struct boot_source_config *b)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || !add_str(o, "kernel_image_path", b->kernel_image_path) ||
	    (b->initrd_path[0] != '\0' && !add_str(o, "initrd_path", b->initrd_path)) ||
	    !add_str(o, "boot_args", b->boot_args)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *machine_to_json(const struct machine_config *m)
{
	cJSON *o = cJSON_CreateObject();

	/* Both numbers are far below 2^53, so a double holds them exactly. */
	if (o == NULL || cJSON_AddNumberToObject(o, "vcpu_count", m->vcpu_count) == NULL ||
	    cJSON_AddNumberToObject(o, "mem_size_mib", (double)m->mem_size_mib) == NULL ||
	    cJSON_AddBoolToObject(o, "smt", m->smt) == NULL ||
	    cJSON_AddBoolToObject(o, "track_dirty_pages", m->track_dirty_pages) == NULL ||
	    cJSON_AddStringToObject(o, "huge_pages", schema_huge_pages_names[m->huge_pages]) ==
		    NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *drives_to_json(const struct vm_config *cfg)
{
	cJSON *a = cJSON_CreateArray();

	for (unsigned i = 0; a != NULL && i < cfg->ndrives && i < CONFIG_MAX_DRIVES; i++) {
		const struct drive_config *d = &cfg->drives[i];
		cJSON *o = cJSON_CreateObject();

		if (o == NULL || !cJSON_AddItemToArray(a, o) ||
		    !add_str(o, "drive_id", d->drive_id) ||
		    !add_str(o, "path_on_host", d->path_on_host) ||
		    cJSON_AddBoolToObject(o, "is_root_device", d->is_root_device) == NULL ||
		    cJSON_AddBoolToObject(o, "is_read_only", d->is_read_only) == NULL) {
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

static cJSON *vsock_to_json(const struct vsock_config *v)
{
	cJSON *o;

	if (!v->enabled)
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	if (o == NULL || cJSON_AddNumberToObject(o, "guest_cid", v->guest_cid) == NULL ||
	    !add_str(o, "uds_path", v->uds_path) || !add_str(o, "vsock_id", v->vsock_id)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static bool add_item(cJSON *root, const char *key, cJSON *item)
{
	if (item == NULL)
		return false;
	if (!cJSON_AddItemToObject(root, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

char *schema_vm_config_to_json(const struct vm_config *cfg)
{
	cJSON *root = cJSON_CreateObject();
	char *s = NULL;

	if (root == NULL)
		return NULL;
	if (add_item(root, "boot-source", boot_to_json(&cfg->boot_source)) &&
	    add_item(root, "drives", drives_to_json(cfg)) &&
	    add_item(root, "machine-config", machine_to_json(&cfg->machine)) &&
	    add_item(root, "vsock", vsock_to_json(&cfg->vsock)) &&
	    add_item(root, "entropy",
		     cfg->entropy.enabled ? cJSON_CreateObject() : cJSON_CreateNull()) &&
	    add_item(root, "network-interfaces", cJSON_CreateArray()) &&
	    add_item(root, "logger", cJSON_CreateNull()) &&
	    add_item(root, "metrics", cJSON_CreateNull()))
		s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return s;
}

char *schema_machine_config_to_json(const struct machine_config *m)
{
	cJSON *obj = machine_to_json(m);
	char *s = NULL;

	if (obj != NULL)
		s = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	return s;
}

static int apply_drives(const cJSON *arr, struct vm_config *cfg, char *err, size_t errlen)
{
	const cJSON *it;
	unsigned n = 0;
	int ret;

	if (!cJSON_IsArray(arr))
		return schema_fail(err, errlen, NULL, "drives", "expected an array");
	cJSON_ArrayForEach(it, arr)
	{
		char ctx[32];

		if (n >= CONFIG_MAX_DRIVES)
			return schema_fail(err, errlen, NULL, "drives", "at most %u drives",
					   CONFIG_MAX_DRIVES);
		snprintf(ctx, sizeof(ctx), "drives[%u]", n);
		ret = schema_drive_put_json(it, ctx, NULL, &cfg->drives[n], err, errlen);
		if (ret < 0)
			return ret;
		n++;
	}
	cfg->ndrives = n;
	return 0;
}

int schema_parse_config_file(const char *json, struct vm_config *out, char *err, size_t errlen)
{
	struct vm_config *cfg = malloc(sizeof(*cfg));
	const cJSON *boot = NULL, *machine = NULL, *drives = NULL, *vsock = NULL, *entropy = NULL,
		    *net = NULL;
	struct field f[] = {
		{ .name = "boot-source", .type = FT_OBJ, .required = true, .obj = &boot },
		{ .name = "machine-config", .type = FT_OBJ, .obj = &machine },
		{ .name = "drives", .type = FT_ANY, .obj = &drives }, /* checked below */
		{ .name = "vsock", .type = FT_OBJ, .obj = &vsock },
		{ .name = "entropy", .type = FT_OBJ, .obj = &entropy },
		{ .name = "network-interfaces", .type = FT_ANY, .obj = &net },
		{ .name = "logger",
		  .type = FT_NULL,
		  .note = "not supported in --config-file yet; use PUT /logger" },
		{ .name = "metrics",
		  .type = FT_NULL,
		  .note = "not supported in --config-file yet; use PUT /metrics" },
	};
	cJSON *root = NULL;
	int ret;

	if (cfg == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	config_init(cfg);
	cfg->entropy.enabled = false; /* Firecracker: no "entropy" section, no device */
	ret = schema_parse_body(json, &root, err, errlen);
	if (ret < 0)
		goto out;
	ret = schema_fields(root, NULL, f, ARRAY_LEN(f), err, errlen);
	if (ret < 0)
		goto out;
	if (boot != NULL)
		ret = schema_boot_put_json(boot, "boot-source", &cfg->boot_source, err, errlen);
	if (ret == 0 && machine != NULL)
		ret = schema_machine_put_json(machine, "machine-config", &cfg->machine, err,
					      errlen);
	if (ret == 0 && drives != NULL)
		ret = apply_drives(drives, cfg, err, errlen);
	if (ret == 0 && vsock != NULL)
		ret = schema_vsock_put_json(vsock, "vsock", &cfg->vsock, err, errlen);
	if (ret == 0 && entropy != NULL)
		ret = schema_entropy_put_json(entropy, "entropy", &cfg->entropy, err, errlen);
	if (ret == 0 && net != NULL && (!cJSON_IsArray(net) || cJSON_GetArraySize(net) != 0))
		ret = schema_fail(err, errlen, NULL, "network-interfaces",
				  "network interfaces are not supported yet; give [] or null");
	if (ret == 0)
		ret = config_validate(cfg, err, errlen);
	if (ret == 0)
		*out = *cfg;
out:
	cJSON_Delete(root);
	free(cfg);
	return ret;
}
