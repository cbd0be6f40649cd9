/* routes_post: the endpoints that act on a started microVM: pause and resume, drives, snapshots (see handlers.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/fcapi/schema.h"
#include "vmm/api/handlers.h"

int api_patch_vm(struct api *api, const char *id, const char *body, struct api_reply *out,
		 char *err)
{
	enum schema_vm_state want;
	int ret;

	(void)id, (void)out;
	ret = schema_vm_patch(body, &want, err, ERR_LEN);
	if (ret < 0)
		return ret;
	return ctl_call(api->ctl, want == SCHEMA_VM_PAUSED ? CTL_CMD_PAUSE : CTL_CMD_RESUME, NULL,
			err, ERR_LEN);
}

int api_patch_drive(struct api *api, const char *id, const char *body, struct api_reply *out,
		    char *err)
{
	struct vm_config *cfg = &api->ctl->cfg;
	struct ctl_args args;
	struct drive_config d;
	int ret;

	(void)out;
	for (args.drive = 0; args.drive < cfg->ndrives; args.drive++)
		if (strcmp(cfg->drives[args.drive].drive_id, id) == 0)
			break;
	if (args.drive == cfg->ndrives) {
		snprintf(err, ERR_LEN, "drive_id: no drive '%.32s' is configured", id);
		return -ENOENT;
	}
	d = cfg->drives[args.drive];
	ret = schema_drive_patch(body, id, &d, err, ERR_LEN);
	if (ret < 0 || strcmp(d.path_on_host, cfg->drives[args.drive].path_on_host) == 0)
		return ret;
	snprintf(args.path, sizeof(args.path), "%s", d.path_on_host);
	ret = ctl_call(api->ctl, CTL_CMD_UPDATE_DRIVE, &args, err, ERR_LEN);
	if (ret == 0) {
		ctl_lock(api->ctl);
		cfg->drives[args.drive] = d;
		ctl_unlock(api->ctl);
	}
	return ret;
}

/* Snapshots (Full only; Diff is refused by name). */
int api_put_snapshot_create(struct api *api, const char *id, const char *body,
			    struct api_reply *out, char *err)
{
	struct schema_snapshot_create c;
	struct ctl_args args = { 0 };
	int ret;

	(void)id, (void)out;
	ret = schema_snapshot_create_put(body, &c, err, ERR_LEN);
	if (ret < 0)
		return ret;
	args.diff = c.snapshot_type == SCHEMA_SNAPSHOT_DIFF;
	if (ctl_get_state(api->ctl) != CTL_PAUSED) {
		snprintf(err, ERR_LEN,
			 "the microVM must be paused first: PATCH /vm "
			 "{\"state\": \"Paused\"}");
		return -EINVAL;
	}
	snprintf(args.path, sizeof(args.path), "%s", c.snapshot_path);
	snprintf(args.mem_path, sizeof(args.mem_path), "%s", c.mem_file_path);
	return ctl_call(api->ctl, CTL_CMD_SNAPSHOT_CREATE, &args, err, ERR_LEN);
}

int api_put_snapshot_load(struct api *api, const char *id, const char *body, struct api_reply *out,
			  char *err)
{
	struct schema_snapshot_load l;
	struct ctl_args args = { 0 };
	int ret;

	(void)id, (void)out;
	ret = schema_snapshot_load_put(body, &l, err, ERR_LEN);
	if (ret < 0)
		return ret;
	if (api->configured) {
		snprintf(err, ERR_LEN,
			 "a snapshot loads only into an unconfigured microVM "
			 "(logger and metrics may be set first)");
		return -EINVAL;
	}
	if (l.enable_diff_snapshots) {
		snprintf(err, ERR_LEN,
			 "enable_diff_snapshots: Diff snapshots are not supported yet");
		return -ENOTSUP;
	}
	snprintf(args.path, sizeof(args.path), "%s", l.snapshot_path);
	snprintf(args.mem_path, sizeof(args.mem_path), "%s", l.backend_path);
	args.uffd = l.backend_type == SCHEMA_MEM_BACKEND_UFFD;
	args.resume = l.resume_vm;
	args.diff = l.enable_diff_snapshots;
	args.overrides = l.overrides;
	ret = ctl_call(api->ctl, CTL_CMD_SNAPSHOT_LOAD, &args, err, ERR_LEN);
	out->last = ret < 0; /* a failed load ends the process (Firecracker) */
	return ret;
}
