/* lifecycle: pre-boot wait, build, run, and the VM commands (see lifecycle.h). */
#include "vmm/lifecycle.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "vmm/core/vcpu.h"
#include "lib/util/log.h"
#include "vmm/machine/machine.h"

/* At most this long for the reply to a failed snapshot load to leave. */
#define LIFECYCLE_LAST_REPLY_MS 5000

struct life {
	struct ctl *ctl;
	struct metrics *metrics;
	struct machine *vmm;
};

static void flush_metrics(struct life *l, char *err, size_t errlen, int *ret)
{
	struct machine_stats st;

	machine_get_stats(l->vmm, &st);
	*ret = metrics_flush(l->metrics, &st, err, errlen);
}

/* A command from the API thread, on the VM's event loop. */
static void on_command(void *opaque, int fd, uint32_t events)
{
	struct life *l = opaque;
	char err[CONFIG_ERR_LEN] = "";
	int ret = 0;

	(void)fd, (void)events;
	switch (ctl_take(l->ctl)) {
	case CTL_CMD_NONE:
		return;
	case CTL_CMD_START:
		snprintf(err, sizeof(err), "InstanceStart: the microVM is already running");
		ret = -EINVAL;
		break;
	case CTL_CMD_PAUSE:
		ret = machine_pause(l->vmm);
		if (ret == 0)
			ctl_set_state(l->ctl, CTL_PAUSED);
		else
			snprintf(err, sizeof(err), "the microVM stopped while pausing");
		break;
	case CTL_CMD_RESUME:
		machine_resume(l->vmm);
		ctl_set_state(l->ctl, CTL_RUNNING);
		break;
	case CTL_CMD_CTRL_ALT_DEL:
		ret = machine_ctrl_alt_del(l->vmm);
		if (ret < 0)
			snprintf(err, sizeof(err), "SendCtrlAltDel: %s", strerror(-ret));
		break;
	case CTL_CMD_FLUSH_METRICS:
		flush_metrics(l, err, sizeof(err), &ret);
		break;
	case CTL_CMD_SNAPSHOT_CREATE:
		ret = machine_snapshot_create(l->vmm, l->ctl->args.path, l->ctl->args.mem_path,
					      l->ctl->args.diff, err, sizeof(err));
		break;
	case CTL_CMD_SNAPSHOT_LOAD:
		snprintf(err, sizeof(err), "%s", "a snapshot loads only into a fresh ember-vmm");
		ret = -EINVAL;
		break;
	case CTL_CMD_UPDATE_DRIVE:
		ret = machine_replace_drive(l->vmm, l->ctl->args.drive, l->ctl->args.path, err,
					    sizeof(err));
		break;
	}
	ctl_finish(l->ctl, ret, err);
}

static int build(struct life *l, uint64_t start_ns)
{
	int code;

	log_clear_last_error();
	code = machine_build(&l->ctl->cfg, start_ns, &l->vmm);
	if (code != VMM_EXIT_OK)
		return code;
	if (evloop_add(machine_loop(l->vmm), l->ctl->cmd_fd, EPOLLIN, on_command, l) < 0) {
		log_err("adding the API's commands to the event loop failed");
		machine_destroy(l->vmm);
		l->vmm = NULL;
		return VMM_EXIT_KVM;
	}
	ctl_set_state(l->ctl, CTL_RUNNING);
	return VMM_EXIT_OK;
}

/* Builds the VM from a snapshot instead of a kernel. Firecracker's rule: a
 * failed load ends the process (VMM_EXIT_CONFIG), since nothing was left
 * in a state to go back to. */
static int restore(struct life *l, uint64_t start_ns, const struct ctl_args *a, char *err,
		   size_t errlen)
{
	struct machine_restore *rs;
	int code;

	if (machine_restore_open(a->path, a->mem_path, a->uffd, &a->overrides, &l->ctl->cfg, &rs,
				 err, errlen) < 0)
		return VMM_EXIT_CONFIG;
	/* Firecracker's enable_diff_snapshots: track from the load on. */
	l->ctl->cfg.machine.track_dirty_pages = a->diff;
	log_clear_last_error();
	code = machine_build_with(&l->ctl->cfg, start_ns, rs, &l->vmm);
	machine_restore_free(rs);
	if (code != VMM_EXIT_OK) {
		snprintf(err, errlen, "loading the snapshot: %s", log_last_error());
		return code;
	}
	if (evloop_add(machine_loop(l->vmm), l->ctl->cmd_fd, EPOLLIN, on_command, l) < 0) {
		snprintf(err, errlen, "adding the API's commands to the event loop failed");
		return VMM_EXIT_KVM;
	}
	if (!a->resume)
		machine_run_paused(l->vmm);
	ctl_set_state(l->ctl, a->resume ? CTL_RUNNING : CTL_PAUSED);
	return VMM_EXIT_OK;
}

/* Waits for InstanceStart and builds the VM; 0, or 128 + N on signal N. */
static int wait_for_start(struct life *l, uint64_t start_ns)
{
	struct signalfd_siginfo si;
	struct pollfd p[2];
	sigset_t set;
	int sfd, ret = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		log_err("signalfd: %s", strerror(errno));
		return VMM_EXIT_KVM;
	}
	p[0] = (struct pollfd){ .fd = l->ctl->cmd_fd, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	while (l->vmm == NULL && ret == 0) {
		if (poll(p, 2, -1) < 0 && errno != EINTR) {
			ret = VMM_EXIT_KVM;
		} else if (p[1].revents && read(sfd, &si, sizeof(si)) == sizeof(si)) {
			log_info("stopping on signal %u", si.ssi_signo);
			ret = VMM_EXIT_SIGNAL_BASE + (int)si.ssi_signo;
		} else if (p[0].revents) {
			enum ctl_cmd cmd = ctl_take(l->ctl);

			if (cmd == CTL_CMD_START && build(l, start_ns) == VMM_EXIT_OK) {
				ctl_finish(l->ctl, 0, NULL);
			} else if (cmd == CTL_CMD_START) {
				ctl_finish(l->ctl, -EINVAL, log_last_error());
			} else if (cmd == CTL_CMD_SNAPSHOT_LOAD) {
				char err[CONFIG_ERR_LEN] = "";

				ret = restore(l, start_ns, &l->ctl->args, err, sizeof(err));
				if (ret != VMM_EXIT_OK)
					log_err("%s", err);
				ctl_finish(l->ctl, ret == VMM_EXIT_OK ? 0 : -EINVAL, err);
				/* This ends the process: let the client read why first. */
				if (ret != VMM_EXIT_OK)
					ctl_wait_reply_sent(l->ctl, LIFECYCLE_LAST_REPLY_MS);
			} else if (cmd != CTL_CMD_NONE) {
				ctl_finish(l->ctl, -EINVAL, "the microVM is not running");
			}
		}
	}
	close(sfd);
	return ret;
}

int lifecycle_run(struct ctl *ctl, struct metrics *m, uint64_t start_ns, enum lifecycle_start how,
		  const struct ctl_args *snapshot)
{
	struct life l = { .ctl = ctl, .metrics = m };
	char err[CONFIG_ERR_LEN];
	int code;

	if (how == LIFECYCLE_BOOT) {
		code = build(&l, start_ns);
	} else if (how == LIFECYCLE_RESTORE) {
		code = restore(&l, start_ns, snapshot, err, sizeof(err));
		if (code != VMM_EXIT_OK)
			log_err("--restore: %s", err);
	} else {
		code = wait_for_start(&l, start_ns);
	}
	if (code == VMM_EXIT_OK) {
		code = machine_run(l.vmm);
		if (metrics_enabled(m)) {
			int ret;

			flush_metrics(&l, err, sizeof(err), &ret);
			if (ret < 0)
				log_warn("final metrics flush: %s", err);
		}
	}
	ctl_close(ctl);
	machine_destroy(l.vmm);
	return code;
}
