/* control: hands API requests from the API thread to the VMM's main thread, and keeps the VM state.
 *
 * Contract:
 * - The API thread owns request handling; the main thread owns the VM
 *   (building it, then its event loop). struct ctl is the only state they
 *   share, under ctl->lock.
 * - Before InstanceStart, the API thread edits ctl->cfg under the lock
 *   (ctl_lock/ctl_unlock). From InstanceStart on, cfg is frozen: the main
 *   thread's VM reads it without the lock, and nothing writes it.
 * - ctl_call() (API thread) posts one command (with its args, if any), signals cmd_fd (an eventfd
 *   the main thread polls: before the start together with its signals, later
 *   in its event loop) and blocks until the main thread answers with
 *   ctl_finish(), or until ctl_close(). Commands are serialised: a second
 *   caller waits for the first. Returns the main thread's 0 / negative
 *   errno and its message in err; -ESHUTDOWN once the VM has stopped.
 * - The main thread takes a command with ctl_take(), runs it, answers with
 *   ctl_finish(), and sets the state (ctl_set_state) as it goes. ctl_close()
 *   marks the VM stopped and fails every waiting and later call.
 * Errors: negative errno. */
#ifndef EMBER_CONTROL_H
#define EMBER_CONTROL_H

#include <pthread.h>
#include <stdbool.h>

#include "lib/fcapi/config.h"
#include "lib/fcapi/schema.h"

enum ctl_state {
	CTL_NOT_STARTED,
	CTL_RUNNING,
	CTL_PAUSED,
	CTL_STOPPED,
};

enum ctl_cmd {
	CTL_CMD_NONE,
	CTL_CMD_START, /* build the VM from cfg and run it */
	CTL_CMD_PAUSE,
	CTL_CMD_RESUME,
	CTL_CMD_CTRL_ALT_DEL,
	CTL_CMD_FLUSH_METRICS,
	CTL_CMD_UPDATE_DRIVE,	 /* args: drive index and its new path_on_host */
	CTL_CMD_SNAPSHOT_CREATE, /* args: path (state file), mem_path */
	CTL_CMD_SNAPSHOT_LOAD,	 /* args: path (state file), mem_path, uffd, resume */
};

/* A command's arguments, copied in by ctl_call(); stable until ctl_finish(). */
struct ctl_args {
	unsigned drive;
	bool resume;
	bool diff; /* create: a Diff snapshot; load: track dirty pages */
	bool uffd; /* snapshot load: mem_path is a page-fault handler's socket (Uffd backend) */
	char path[PATH_MAX];
	char mem_path[PATH_MAX];
	struct schema_load_overrides overrides; /* snapshot load: host files the caller names */
};

struct ctl {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct vm_config cfg;
	enum ctl_state state;
	enum ctl_cmd cmd; /* posted, not yet answered */
	struct ctl_args args;
	bool cmd_busy; /* a caller owns the mailbox */
	bool cmd_done;
	int cmd_ret;
	char cmd_err[CONFIG_ERR_LEN];
	int cmd_fd; /* eventfd, readable while a command waits */
	bool closed;
	bool reply_sent; /* the HTTP reply to the last command has left */
};

int ctl_init(struct ctl *ctl);
void ctl_destroy(struct ctl *ctl);

void ctl_lock(struct ctl *ctl);
void ctl_unlock(struct ctl *ctl);
/* "Not started", "Running", "Paused" (Firecracker's words) or "Stopped". */
const char *ctl_state_name(enum ctl_state st);

/* API thread. */
int ctl_call(struct ctl *ctl, enum ctl_cmd cmd, const struct ctl_args *args, char *err,
	     size_t errlen);

/* Main thread. ctl->args belongs to the taken command until ctl_finish(). */
enum ctl_cmd ctl_take(struct ctl *ctl);
void ctl_finish(struct ctl *ctl, int ret, const char *err);
void ctl_set_state(struct ctl *ctl, enum ctl_state st);
enum ctl_state ctl_get_state(struct ctl *ctl);
void ctl_close(struct ctl *ctl);
/* A command whose failure ends the process (a snapshot load): the API
 * thread reports when its HTTP reply is out (ctl_reply_sent), and the main
 * thread waits for that, at most timeout_ms, before it exits, so the client
 * learns why. */
void ctl_reply_sent(struct ctl *ctl);
void ctl_wait_reply_sent(struct ctl *ctl, unsigned timeout_ms);

#endif
