/* routes: the Firecracker endpoints, their state rules and handlers (see api.h). */
#include "vmm/api/api.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util/log.h"
#include "lib/fcapi/schema.h"
#include "lib/util/version.h"
#include "vmm/api/handlers.h"

enum when {
	ANY,
	PRE,  /* before InstanceStart only */
	POST, /* after InstanceStart only */
};

struct route {
	enum api_method method;
	const char *path; /* ends in '/' for /path/{id} */
	enum when when;
	handler_fn fn;
};

static int reply_json(struct api_reply *out, char *json, char *err)
{
	if (json == NULL) {
		snprintf(err, ERR_LEN, "out of memory");
		return -ENOMEM;
	}
	out->status = 200;
	out->body = json;
	return 0;
}

/* Opens a file the way the VM will, so a bad path fails at its PUT. */
static int check_file(const char *field, const char *path, int flags, char *err)
{
	int fd = open(path, flags | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		int e = errno;

		snprintf(err, ERR_LEN, "%s: cannot open %.128s: %s", field, path, strerror(e));
		return -e;
	}
	close(fd);
	return 0;
}

/* --- GET --- */

static int get_info(struct api *api, const char *id, const char *body, struct api_reply *out,
		    char *err)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	(void)id, (void)body;
	if (o != NULL && cJSON_AddStringToObject(o, "id", api->id) != NULL &&
	    cJSON_AddStringToObject(o, "state", ctl_state_name(ctl_get_state(api->ctl))) != NULL &&
	    cJSON_AddStringToObject(o, "vmm_version", EMBER_VERSION) != NULL &&
	    cJSON_AddStringToObject(o, "app_name", "ember-vmm") != NULL)
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return reply_json(out, s, err);
}

static int get_version(struct api *api, const char *id, const char *body, struct api_reply *out,
		       char *err)
{
	(void)api, (void)id, (void)body;
	return reply_json(out, strdup("{\"firecracker_version\":\"" EMBER_VERSION "\"}"), err);
}

static int get_machine(struct api *api, const char *id, const char *body, struct api_reply *out,
		       char *err)
{
	char *s;

	(void)id, (void)body;
	ctl_lock(api->ctl);
	s = schema_machine_config_to_json(&api->ctl->cfg.machine);
	ctl_unlock(api->ctl);
	return reply_json(out, s, err);
}

static int get_vm_config(struct api *api, const char *id, const char *body, struct api_reply *out,
			 char *err)
{
	char *s;

	(void)id, (void)body;
	ctl_lock(api->ctl);
	s = schema_vm_config_to_json(&api->ctl->cfg);
	ctl_unlock(api->ctl);
	return reply_json(out, s, err);
}

/* --- pre-boot configuration --- */

static int put_machine(struct api *api, const char *id, const char *body, struct api_reply *out,
		       char *err)
{
	struct machine_config m;
	int ret;

	(void)id, (void)out;
	ret = schema_machine_config_put(body, &m, err, ERR_LEN);
	if (ret == 0)
		api->ctl->cfg.machine = m; /* PRE: only this thread writes cfg */
	return ret;
}

static int patch_machine(struct api *api, const char *id, const char *body, struct api_reply *out,
			 char *err)
{
	(void)id, (void)out;
	return schema_machine_config_patch(body, &api->ctl->cfg.machine, err, ERR_LEN);
}

static int put_boot(struct api *api, const char *id, const char *body, struct api_reply *out,
		    char *err)
{
	struct boot_source_config b;
	int ret;

	(void)id, (void)out;
	ret = schema_boot_source_put(body, &b, err, ERR_LEN);
	if (ret == 0)
		ret = check_file("kernel_image_path", b.kernel_image_path, O_RDONLY, err);
	if (ret == 0 && b.initrd_path[0] != '\0')
		ret = check_file("initrd_path", b.initrd_path, O_RDONLY, err);
	if (ret == 0) {
		ctl_lock(api->ctl);
		api->ctl->cfg.boot_source = b;
		ctl_unlock(api->ctl);
	}
	return ret;
}

static int put_drive(struct api *api, const char *id, const char *body, struct api_reply *out,
		     char *err)
{
	struct vm_config *cfg = &api->ctl->cfg;
	struct drive_config d;
	unsigned i;
	int ret;

	(void)out;
	ret = schema_drive_put(body, id, &d, err, ERR_LEN);
	if (ret == 0)
		ret = check_file("path_on_host", d.path_on_host, d.is_read_only ? O_RDONLY : O_RDWR,
				 err);
	if (ret < 0)
		return ret;
	for (i = 0; i < cfg->ndrives && strcmp(cfg->drives[i].drive_id, d.drive_id) != 0; i++)
		;
	for (unsigned j = 0; d.is_root_device && j < cfg->ndrives; j++) {
		if (j != i && cfg->drives[j].is_root_device) {
			snprintf(err, ERR_LEN,
				 "is_root_device: drive '%s' is already the root device",
				 cfg->drives[j].drive_id);
			return -EINVAL;
		}
	}
	if (i == CONFIG_MAX_DRIVES) {
		snprintf(err, ERR_LEN, "drive_id '%s': at most %u drives are supported", d.drive_id,
			 CONFIG_MAX_DRIVES);
		return -ENOSPC;
	}
	ctl_lock(api->ctl);
	cfg->drives[i] = d; /* replaces a drive of the same id, else appends */
	if (i == cfg->ndrives)
		cfg->ndrives++;
	ctl_unlock(api->ctl);
	return 0;
}

static int put_vsock(struct api *api, const char *id, const char *body, struct api_reply *out,
		     char *err)
{
	struct vsock_config v;
	int ret;

	(void)id, (void)out;
	ret = schema_vsock_put(body, &v, err, ERR_LEN);
	if (ret == 0) {
		ctl_lock(api->ctl);
		api->ctl->cfg.vsock = v;
		ctl_unlock(api->ctl);
	}
	return ret;
}

static int put_entropy(struct api *api, const char *id, const char *body, struct api_reply *out,
		       char *err)
{
	struct entropy_config e;
	int ret;

	(void)id, (void)out;
	ret = schema_entropy_put(body, &e, err, ERR_LEN);
	if (ret == 0) {
		ctl_lock(api->ctl);
		api->ctl->cfg.entropy = e;
		ctl_unlock(api->ctl);
	}
	return ret;
}

/* --- any time --- */

static int put_logger(struct api *api, const char *id, const char *body, struct api_reply *out,
		      char *err)
{
	struct schema_logger l;
	int ret, fd = -1;

	(void)id, (void)out;
	ret = schema_logger_put(body, &l, err, ERR_LEN);
	if (ret < 0)
		return ret;
	if (api->logger_set) {
		snprintf(err, ERR_LEN, "the logger is already configured");
		return -EEXIST;
	}
	if (l.log_path[0] != '\0') {
		/* O_NONBLOCK: a FIFO nobody reads yet must not hang the VMM. */
		fd = open(l.log_path,
			  O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
		if (fd < 0) {
			ret = -errno;
			snprintf(err, ERR_LEN, "log_path: cannot open %.128s: %s", l.log_path,
				 strerror(errno));
			return ret;
		}
		api->log_fd = fd; /* kept open until exit: other threads may be logging */
	}
	log_set_level(l.level);
	log_set_output(fd, l.show_level, l.show_log_origin);
	api->logger_set = true;
	return 0;
}

static int put_metrics(struct api *api, const char *id, const char *body, struct api_reply *out,
		       char *err)
{
	struct schema_metrics m;
	int ret;

	(void)id, (void)out;
	ret = schema_metrics_put(body, &m, err, ERR_LEN);
	if (ret == 0)
		ret = metrics_open(api->metrics, m.metrics_path, err, ERR_LEN);
	return ret;
}

static int flush_metrics(struct api *api, char *err)
{
	/* Nothing to write to: a no-op, as in Firecracker (a script may flush
	 * whether or not its VM was given a metrics file). */
	if (!metrics_enabled(api->metrics))
		return 0;
	if (ctl_get_state(api->ctl) == CTL_NOT_STARTED)
		return metrics_flush(api->metrics, NULL, err, ERR_LEN);
	/* The VM's counters live on the main thread. */
	return ctl_call(api->ctl, CTL_CMD_FLUSH_METRICS, NULL, err, ERR_LEN);
}

static int put_actions(struct api *api, const char *id, const char *body, struct api_reply *out,
		       char *err)
{
	enum ctl_state st = ctl_get_state(api->ctl);
	enum schema_action a;
	int ret;

	(void)id, (void)out;
	ret = schema_actions_put(body, &a, err, ERR_LEN);
	if (ret < 0)
		return ret;
	switch (a) {
	case SCHEMA_ACTION_INSTANCE_START:
		if (st != CTL_NOT_STARTED) {
			snprintf(err, ERR_LEN, "InstanceStart: %s", API_MSG_AFTER_START);
			return -EINVAL;
		}
		ret = config_validate(&api->ctl->cfg, err, ERR_LEN);
		if (ret == 0)
			ret = ctl_call(api->ctl, CTL_CMD_START, NULL, err, ERR_LEN);
		if (ret < 0 && strncmp(err, "InstanceStart", 13) != 0) {
			char why[ERR_LEN];

			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, ERR_LEN, "InstanceStart failed: %.200s", why);
		}
		return ret;
	case SCHEMA_ACTION_SEND_CTRL_ALT_DEL:
		if (st == CTL_NOT_STARTED) {
			snprintf(err, ERR_LEN, "SendCtrlAltDel: %s", API_MSG_BEFORE_START);
			return -EINVAL;
		}
		return ctl_call(api->ctl, CTL_CMD_CTRL_ALT_DEL, NULL, err, ERR_LEN);
	case SCHEMA_ACTION_FLUSH_METRICS:
		return flush_metrics(api, err);
	}
	return -EINVAL;
}

static const struct route routes[] = {
	{ API_GET, "/", ANY, get_info },
	{ API_GET, "/version", ANY, get_version },
	{ API_PUT, "/actions", ANY, put_actions },
	{ API_PUT, "/boot-source", PRE, put_boot },
	{ API_GET, "/machine-config", ANY, get_machine },
	{ API_PUT, "/machine-config", PRE, put_machine },
	{ API_PATCH, "/machine-config", PRE, patch_machine },
	{ API_PUT, "/drives/", PRE, put_drive },
	{ API_PATCH, "/drives/", POST, api_patch_drive },
	{ API_PUT, "/vsock", PRE, put_vsock },
	{ API_PUT, "/entropy", PRE, put_entropy },
	{ API_PUT, "/logger", ANY, put_logger },
	{ API_PUT, "/metrics", ANY, put_metrics },
	{ API_PATCH, "/vm", POST, api_patch_vm },
	{ API_GET, "/vm/config", ANY, get_vm_config },
	{ API_PUT, "/snapshot/create", POST, api_put_snapshot_create },
	{ API_PUT, "/snapshot/load", PRE, api_put_snapshot_load },
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

const char *const api_route_names[] = {
	"GET /",
	"GET /version",
	"PUT /actions",
	"PUT /boot-source",
	"GET /machine-config",
	"PUT /machine-config",
	"PATCH /machine-config",
	"PUT /drives",
	"PATCH /drives",
	"PUT /vsock",
	"PUT /entropy",
	"PUT /logger",
	"PUT /metrics",
	"PATCH /vm",
	"GET /vm/config",
	"PUT /snapshot/create",
	"PUT /snapshot/load",
};
const unsigned api_nroutes = NROUTES;
_Static_assert(sizeof(api_route_names) / sizeof(api_route_names[0]) == NROUTES,
	       "one metrics name per route");
_Static_assert(NROUTES <= METRICS_API_MAX, "metrics has room for every route");

/* Firecracker endpoints ember does not implement (first path segment). */
static const char *const unsupported[] = {
	"/balloon", "/mmds", "/cpu-config", "/network-interfaces", "/pmem", "/hotplug", "/serial",
};

/* Does path match r->path? For "/x/" routes, *id gets the one segment after it. */
static bool path_matches(const struct route *r, const char *path, const char **id)
{
	size_t n = strlen(r->path);

	*id = NULL;
	if (n > 1 && r->path[n - 1] == '/') {
		if (strncmp(path, r->path, n) != 0 || path[n] == '\0' || strchr(path + n, '/'))
			return false;
		*id = path + n;
		return true;
	}
	return strcmp(path, r->path) == 0;
}

static const struct route *find(enum api_method method, const char *path, const char **id,
				bool *path_known)
{
	*path_known = false;
	for (size_t i = 0; i < NROUTES; i++) {
		if (!path_matches(&routes[i], path, id))
			continue;
		*path_known = true;
		if (routes[i].method == method)
			return &routes[i];
	}
	return NULL;
}

/* The one place an error reply is made: logged, 400, {"fault_message": msg}. */
static void fail(const char *method_name, const char *path, const char *msg, struct api_reply *out)
{
	cJSON *o = cJSON_CreateObject();

	log_info("API %.16s %.128s: %s", method_name, path, msg);
	out->status = 400;
	out->body = NULL; /* the HTTP layer sends API_FAULT_OOM then */
	if (o != NULL && cJSON_AddStringToObject(o, "fault_message", msg) != NULL)
		out->body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
}

static void reply_init(struct api_reply *out)
{
	out->status = 204;
	out->body = NULL;
	out->last = false;
}

/* Why a request with no matching route is refused. */
static void no_route(const char *method_name, const char *path, bool known, char *err)
{
	for (size_t i = 0; !known && i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		size_t n = strlen(unsupported[i]);

		if (strncmp(path, unsupported[i], n) == 0 && (path[n] == '\0' || path[n] == '/')) {
			snprintf(err, ERR_LEN, "%.64s: not supported by ember-vmm", path);
			return;
		}
	}
	snprintf(err, ERR_LEN, "Invalid request method and/or path: %.16s %.128s.", method_name,
		 path);
}

void api_handle(struct api *api, enum api_method method, const char *method_name, const char *path,
		const char *body, size_t body_len, struct api_reply *out)
{
	char err[ERR_LEN] = "";
	const struct route *r;
	const char *id;
	bool known;
	int ret = -EINVAL;

	reply_init(out);
	r = find(method, path, &id, &known);
	/* Firecracker judges the request's shape before its path. */
	if (method == API_GET && body_len > 0)
		snprintf(err, sizeof(err), "%s", API_MSG_GET_BODY);
	else if (method == API_PUT && body_len == 0)
		snprintf(err, sizeof(err), "%s", API_MSG_EMPTY_PUT);
	else if (method == API_PATCH && body_len == 0)
		snprintf(err, sizeof(err), "%s", SCHEMA_MSG_EMPTY_PATCH);
	else if (r == NULL)
		no_route(method_name, path, known, err);
	else if (memchr(body, '\0', body_len) != NULL)
		snprintf(err, sizeof(err), "the request body contains a NUL byte");
	else if (r->when == PRE && ctl_get_state(api->ctl) != CTL_NOT_STARTED)
		snprintf(err, sizeof(err), "%s", API_MSG_AFTER_START);
	else if (r->when == POST && ctl_get_state(api->ctl) == CTL_NOT_STARTED)
		snprintf(err, sizeof(err), "%s", API_MSG_BEFORE_START);
	else {
		ret = r->fn(api, id, body, out, err);
		/* Any boot configuration rules out a snapshot load (Firecracker). */
		if (ret == 0 && r->when == PRE && r->fn != api_put_snapshot_load)
			api->configured = true;
	}
	metrics_count_api(api->metrics, r != NULL ? (unsigned)(r - routes) : UINT32_MAX, ret < 0);
	if (ret == 0)
		return;
	/* A handler may have set a body before failing; the fault replaces it. */
	free(out->body);
	fail(method_name, path, err[0] != '\0' ? err : "the request failed", out);
}

void api_refuse(struct api *api, const char *method_name, const char *path, const char *msg,
		struct api_reply *out)
{
	reply_init(out);
	metrics_count_api(api->metrics, UINT32_MAX, true);
	fail(method_name, path, msg, out);
}

void api_flush_metrics(struct api *api)
{
	char err[ERR_LEN];

	if (metrics_enabled(api->metrics) && flush_metrics(api, err) < 0)
		log_warn("periodic metrics flush: %s", err);
}

void api_init(struct api *api, struct ctl *ctl, struct metrics *m, const char *id)
{
	memset(api, 0, sizeof(*api));
	api->ctl = ctl;
	api->metrics = m;
	api->id = id;
	api->log_fd = -1;
}

void api_destroy(struct api *api)
{
	if (api->log_fd >= 0) {
		log_set_output(-1, false, false);
		close(api->log_fd);
	}
	api->log_fd = -1;
}
