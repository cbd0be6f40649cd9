/* handlers: the Firecracker endpoints' handlers that live outside routes.c, for its route table.
 *
 * Contract: a handler returns 0 with out->status (and body) set, or a
 * negative errno with the reason in err (ERR_LEN bytes; the API answers 400
 * with it as the fault_message). id is the path's {id} part, else NULL.
 * API thread only; acting on the VM goes through ctl_call(). */
#ifndef EMBER_API_HANDLERS_H
#define EMBER_API_HANDLERS_H

#include "vmm/api/api.h"

#define ERR_LEN CONFIG_ERR_LEN

typedef int (*handler_fn)(struct api *api, const char *id, const char *body, struct api_reply *out,
			  char *err);

/* PATCH /vm: Paused or Resumed. */
int api_patch_vm(struct api *api, const char *id, const char *body, struct api_reply *out,
		 char *err);
/* PATCH /drives/{id}: a new path_on_host for a running VM's drive. */
int api_patch_drive(struct api *api, const char *id, const char *body, struct api_reply *out,
		    char *err);
/* PUT /snapshot/create (the VM must be paused) and PUT /snapshot/load (into
 * an unconfigured VM; a failed load ends the process, as in Firecracker). */
int api_put_snapshot_create(struct api *api, const char *id, const char *body,
			    struct api_reply *out, char *err);
int api_put_snapshot_load(struct api *api, const char *id, const char *body, struct api_reply *out,
			  char *err);

#endif
