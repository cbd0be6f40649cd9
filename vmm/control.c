/* control: the mailbox between the API thread and the main thread (see control.h). */
#include "vmm/control.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

int ctl_init(struct ctl *ctl)
{
	memset(ctl, 0, sizeof(*ctl));
	config_init(&ctl->cfg);
	ctl->state = CTL_NOT_STARTED;
	ctl->cmd_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ctl->cmd_fd < 0)
		return -errno;
	pthread_mutex_init(&ctl->lock, NULL);
	pthread_cond_init(&ctl->cond, NULL);
	return 0;
}

void ctl_destroy(struct ctl *ctl)
{
	if (ctl->cmd_fd < 0)
		return;
	close(ctl->cmd_fd);
	ctl->cmd_fd = -1;
	pthread_cond_destroy(&ctl->cond);
	pthread_mutex_destroy(&ctl->lock);
}

void ctl_lock(struct ctl *ctl)
{
	pthread_mutex_lock(&ctl->lock);
}

void ctl_unlock(struct ctl *ctl)
{
	pthread_mutex_unlock(&ctl->lock);
}

const char *ctl_state_name(enum ctl_state st)
{
	switch (st) {
	case CTL_NOT_STARTED:
		return "Not started";
	case CTL_RUNNING:
		return "Running";
	case CTL_PAUSED:
		return "Paused";
	case CTL_STOPPED:
		break;
	}
	return "Stopped";
}

int ctl_call(struct ctl *ctl, enum ctl_cmd cmd, const struct ctl_args *args, char *err,
	     size_t errlen)
{
	uint64_t one = 1;
	int ret;

	pthread_mutex_lock(&ctl->lock);
	while (ctl->cmd_busy && !ctl->closed)
		pthread_cond_wait(&ctl->cond, &ctl->lock);
	if (ctl->closed) {
		pthread_mutex_unlock(&ctl->lock);
		snprintf(err, errlen, "the microVM has stopped");
		return -ESHUTDOWN;
	}
	ctl->cmd_busy = true;
	ctl->cmd = cmd;
	if (args != NULL)
		ctl->args = *args;
	ctl->cmd_done = false;
	ctl->reply_sent = false;
	ctl->cmd_err[0] = '\0';
	pthread_mutex_unlock(&ctl->lock);
	/* An eventfd write only fails on counter overflow, which one pending command cannot reach. */
	if (write(ctl->cmd_fd, &one, sizeof(one)) < 0) {
	}
	pthread_mutex_lock(&ctl->lock);
	while (!ctl->cmd_done && !ctl->closed)
		pthread_cond_wait(&ctl->cond, &ctl->lock);
	if (ctl->cmd_done) {
		ret = ctl->cmd_ret;
		snprintf(err, errlen, "%s", ctl->cmd_err);
	} else {
		ret = -ESHUTDOWN;
		snprintf(err, errlen, "the microVM stopped before the request was served");
	}
	ctl->cmd = CTL_CMD_NONE;
	ctl->cmd_busy = false;
	pthread_cond_broadcast(&ctl->cond);
	pthread_mutex_unlock(&ctl->lock);
	return ret;
}

enum ctl_cmd ctl_take(struct ctl *ctl)
{
	enum ctl_cmd cmd = CTL_CMD_NONE;
	uint64_t v;

	if (read(ctl->cmd_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return CTL_CMD_NONE;
	pthread_mutex_lock(&ctl->lock);
	if (ctl->cmd_busy && !ctl->cmd_done)
		cmd = ctl->cmd;
	pthread_mutex_unlock(&ctl->lock);
	return cmd;
}

void ctl_finish(struct ctl *ctl, int ret, const char *err)
{
	pthread_mutex_lock(&ctl->lock);
	ctl->cmd_ret = ret;
	snprintf(ctl->cmd_err, sizeof(ctl->cmd_err), "%s", err != NULL ? err : "");
	ctl->cmd_done = true;
	pthread_cond_broadcast(&ctl->cond);
	pthread_mutex_unlock(&ctl->lock);
}

void ctl_set_state(struct ctl *ctl, enum ctl_state st)
{
	pthread_mutex_lock(&ctl->lock);
	ctl->state = st;
	pthread_mutex_unlock(&ctl->lock);
}

enum ctl_state ctl_get_state(struct ctl *ctl)
{
	enum ctl_state st;

	pthread_mutex_lock(&ctl->lock);
	st = ctl->state;
	pthread_mutex_unlock(&ctl->lock);
	return st;
}

void ctl_close(struct ctl *ctl)
{
	pthread_mutex_lock(&ctl->lock);
	ctl->closed = true;
	ctl->state = CTL_STOPPED;
	pthread_cond_broadcast(&ctl->cond);
	pthread_mutex_unlock(&ctl->lock);
}

void ctl_reply_sent(struct ctl *ctl)
{
	pthread_mutex_lock(&ctl->lock);
	ctl->reply_sent = true;
	pthread_cond_broadcast(&ctl->cond);
	pthread_mutex_unlock(&ctl->lock);
}

void ctl_wait_reply_sent(struct ctl *ctl, unsigned timeout_ms)
{
	struct timespec until;

	/* The condvar's clock is CLOCK_REALTIME (default attributes). */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&ctl->lock);
	while (!ctl->reply_sent && pthread_cond_timedwait(&ctl->cond, &ctl->lock, &until) == 0)
		;
	pthread_mutex_unlock(&ctl->lock);
}
