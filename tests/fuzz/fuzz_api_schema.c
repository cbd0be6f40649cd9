/* fuzz_api_schema: libFuzzer harness for the Control API's JSON schemas (lib/fcapi/schema*.c).
 *
 * Input: any bytes, cut at the first NUL and at SCHEMA_BODY_MAX + 1 bytes (the
 * HTTP layer hands the schemas a NUL-terminated body). The same text goes to
 * every PUT/PATCH parser and to the --config-file parser. Whatever it says, a
 * parser must not crash or leak, must return 0 or -EINVAL/-E2BIG with a
 * non-empty message, and a config it accepts must survive GET /vm/config and
 * parse back to the same config, field by field (struct_eq.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/fcapi/schema.h"
#include "tests/unit/struct_eq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ret, const char *err)
{
	if (ret == 0)
		return;
	if ((ret != -EINVAL && ret != -E2BIG) || err[0] == '\0')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm_config cfg, again;
	static struct schema_snapshot_load load;
	static struct schema_snapshot_create create;
	static struct schema_logger logger;
	static struct schema_metrics metrics;
	char err[SCHEMA_ERR_LEN];
	size_t len = size > SCHEMA_BODY_MAX + 1 ? SCHEMA_BODY_MAX + 1 : size;
	char *body = malloc(len + 1);
	enum schema_action action;
	enum schema_vm_state vmstate;
	char *json;
	int ret;

	if (body == NULL)
		return 0;
	memcpy(body, data, len);
	body[len] = '\0';
	config_init(&cfg);
	snprintf(cfg.drives[0].drive_id, sizeof(cfg.drives[0].drive_id), "rootfs");

#define RUN(call)                                                                                  \
	do {                                                                                       \
		err[0] = '\0';                                                                     \
		check((call), err);                                                                \
	} while (0)
	RUN(schema_machine_config_put(body, &cfg.machine, err, sizeof(err)));
	RUN(schema_machine_config_patch(body, &cfg.machine, err, sizeof(err)));
	RUN(schema_boot_source_put(body, &cfg.boot_source, err, sizeof(err)));
	RUN(schema_drive_put(body, "rootfs", &cfg.drives[1], err, sizeof(err)));
	RUN(schema_drive_patch(body, "rootfs", &cfg.drives[0], err, sizeof(err)));
	RUN(schema_vsock_put(body, &cfg.vsock, err, sizeof(err)));
	RUN(schema_entropy_put(body, &cfg.entropy, err, sizeof(err)));
	RUN(schema_actions_put(body, &action, err, sizeof(err)));
	RUN(schema_vm_patch(body, &vmstate, err, sizeof(err)));
	RUN(schema_logger_put(body, &logger, err, sizeof(err)));
	RUN(schema_metrics_put(body, &metrics, err, sizeof(err)));
	RUN(schema_snapshot_create_put(body, &create, err, sizeof(err)));
	RUN(schema_snapshot_load_put(body, &load, err, sizeof(err)));
#undef RUN

	err[0] = '\0';
	ret = schema_parse_config_file(body, &cfg, err, sizeof(err));
	check(ret, err);
	if (ret == 0) {
		json = schema_vm_config_to_json(&cfg);
		if (json == NULL)
			abort();
		if (schema_parse_config_file(json, &again, err, sizeof(err)) != 0 ||
		    eq_vm_config(&cfg, &again) != NULL)
			abort();
		free(json);
	}
	free(body);
	return 0;
}
