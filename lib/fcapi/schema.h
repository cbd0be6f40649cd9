/* schema: Firecracker API request bodies (JSON) into typed structs, and struct vm_config to/from JSON.
 *
 * Contract: every schema_*() parser takes a NUL-terminated request body and
 * either fills *out completely and returns 0, or leaves *out untouched and
 * returns a negative errno with one human-readable fault_message in err (no
 * trailing newline) that names the offending field:
 *   -E2BIG  the body is over SCHEMA_BODY_MAX bytes, or a string field is
 *           longer than its destination (paths: PATH_MAX - 1; boot_args:
 *           CONFIG_CMDLINE_MAX - 1; drive_id, vsock_id, uds_path: see config.h)
 *   -EINVAL anything else: malformed JSON, a body that is not an object, an
 *           unknown or repeated field, a wrong type, a missing required field,
 *           a value out of range, an unknown enum value, "\u0000" in the body.
 * An optional field given as null is the same as leaving it out. Values land
 * in config.h's structs where one exists; endpoint-only payloads use the small
 * structs below. PATCH parsers apply only the fields present to a copy of
 * *inout and store it on success. Nothing here checks the files the paths
 * name, or the VM's state: that is the caller's (the API server's) job.
 * No global state; callable from any thread. Memory: schema_vm_config_to_json()
 * returns a malloc'd string the caller frees with free(). */
#ifndef EMBER_API_SCHEMA_H
#define EMBER_API_SCHEMA_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/fcapi/config.h"
#include "lib/util/log.h"

#define SCHEMA_BODY_MAX (64u * 1024) /* bytes, without the NUL */
#define SCHEMA_ERR_LEN	CONFIG_ERR_LEN
/* Firecracker's words for a PATCH that names no field to change. */
#define SCHEMA_MSG_EMPTY_PATCH "Empty PATCH request."

enum schema_action {
	SCHEMA_ACTION_INSTANCE_START,
	SCHEMA_ACTION_SEND_CTRL_ALT_DEL,
	SCHEMA_ACTION_FLUSH_METRICS,
};

enum schema_vm_state {
	SCHEMA_VM_PAUSED,
	SCHEMA_VM_RESUMED,
};

/* PUT /logger. level defaults to LOG_INFO, the show_* flags to false. */
struct schema_logger {
	char log_path[PATH_MAX];
	enum log_level level; /* Error, Warning, Info, Debug */
	bool show_level;
	bool show_log_origin;
};

/* PUT /metrics. */
struct schema_metrics {
	char metrics_path[PATH_MAX];
};

enum schema_snapshot_type {
	SCHEMA_SNAPSHOT_FULL,
	SCHEMA_SNAPSHOT_DIFF,
};

/* PUT /snapshot/create. snapshot_type defaults to Full. */
struct schema_snapshot_create {
	char snapshot_path[PATH_MAX];
	char mem_file_path[PATH_MAX];
	enum schema_snapshot_type snapshot_type;
};

enum schema_mem_backend {
	SCHEMA_MEM_BACKEND_FILE,
	SCHEMA_MEM_BACKEND_UFFD,
};

/* The host files a snapshot load names itself, instead of the state file
 * (vmm/snapshot/README.md): Firecracker's vsock_override {uds_path}, and
 * ember's drive_overrides [{drive_id, path_on_host}] (shaped like
 * Firecracker's network_overrides [{iface_id, host_dev_name}]). */
struct schema_drive_override {
	char drive_id[CONFIG_DRIVE_ID_LEN];
	char path_on_host[PATH_MAX];
};

struct schema_load_overrides {
	bool vsock; /* vsock_override given */
	char vsock_uds_path[CONFIG_VSOCK_PATH_MAX + 1];
	unsigned ndrives;
	struct schema_drive_override drives[CONFIG_MAX_DRIVES];
};

/* PUT /snapshot/load. Exactly one of mem_backend {backend_type, backend_path}
 * and the older mem_file_path (stored as backend File) must be given.
 * track_dirty_pages is accepted as the newer name of enable_diff_snapshots.
 * vsock_override {uds_path} (required, 1..CONFIG_VSOCK_PATH_MAX bytes) and
 * drive_overrides (at most CONFIG_MAX_DRIVES, each drive_id once, both
 * fields required) are optional; whether they match the snapshot is the
 * loader's check. */
struct schema_snapshot_load {
	char snapshot_path[PATH_MAX];
	enum schema_mem_backend backend_type;
	char backend_path[PATH_MAX];
	bool enable_diff_snapshots;
	bool resume_vm;
	struct schema_load_overrides overrides;
};

/* PUT /machine-config: vcpu_count and mem_size_mib required; smt (must be
 * false) and track_dirty_pages default to false, huge_pages ("None", "2M" or
 * "Transparent"; not "None" needs an even mem_size_mib) to "None". */
int schema_machine_config_put(const char *body, struct machine_config *out, char *err,
			      size_t errlen);
/* PATCH /machine-config: every field optional, but at least one must be given
 * (not null), else -EINVAL with SCHEMA_MSG_EMPTY_PATCH; the rules above hold
 * for the result. */
int schema_machine_config_patch(const char *body, struct machine_config *inout, char *err,
				size_t errlen);
/* PUT /boot-source: kernel_image_path required; initrd_path defaults to "",
 * boot_args to CONFIG_DEFAULT_CMDLINE. */
int schema_boot_source_put(const char *body, struct boot_source_config *out, char *err,
			   size_t errlen);
/* PUT /drives/{path_id}: drive_id (letters, digits, '_'; must equal path_id),
 * path_on_host and is_root_device required; is_read_only defaults to false. */
int schema_drive_put(const char *body, const char *path_id, struct drive_config *out, char *err,
		     size_t errlen);
/* PATCH /drives/{path_id}: drive_id required (must equal path_id and
 * inout->drive_id); path_on_host optional. */
int schema_drive_patch(const char *body, const char *path_id, struct drive_config *inout, char *err,
		       size_t errlen);
/* PUT /vsock: guest_cid and uds_path required; vsock_id (deprecated) defaults
 * to "vsock". Sets out->enabled. */
int schema_vsock_put(const char *body, struct vsock_config *out, char *err, size_t errlen);
/* PUT /entropy: {} or {"rate_limiter": null}. Sets out->enabled. */
int schema_entropy_put(const char *body, struct entropy_config *out, char *err, size_t errlen);
int schema_actions_put(const char *body, enum schema_action *out, char *err, size_t errlen);
int schema_vm_patch(const char *body, enum schema_vm_state *out, char *err, size_t errlen);
int schema_logger_put(const char *body, struct schema_logger *out, char *err, size_t errlen);
int schema_metrics_put(const char *body, struct schema_metrics *out, char *err, size_t errlen);
int schema_snapshot_create_put(const char *body, struct schema_snapshot_create *out, char *err,
			       size_t errlen);
int schema_snapshot_load_put(const char *body, struct schema_snapshot_load *out, char *err,
			     size_t errlen);

/* GET /vm/config: {"boot-source", "drives", "machine-config", "vsock",
 * "entropy", "network-interfaces", "logger", "metrics"}; a disabled vsock or
 * entropy device is null. NULL if out of memory. */
char *schema_vm_config_to_json(const struct vm_config *cfg);
/* GET /machine-config: {"vcpu_count", "mem_size_mib", "smt", "track_dirty_pages",
 * "huge_pages"}. */
char *schema_machine_config_to_json(const struct machine_config *m);
/* --config-file: the same shape. Starts from config_init(), applies each
 * section through the PUT parsers above, then runs config_validate(). A
 * missing or null "entropy" means no entropy device (Firecracker's meaning);
 * "logger" and "metrics" must be null or absent for now (set them with the
 * API), "network-interfaces" must be null or []. Errors as above, with the
 * section in the message ("drives[1].path_on_host: ..."). */
int schema_parse_config_file(const char *json, struct vm_config *out, char *err, size_t errlen);

#endif
