/* bootstrap: start, watch, capture and measure the function's process (see bootstrap.h). */
#include "guest-init/bootstrap.h"

#include "lib/gproto/gproto.h"
#include "lib/util/log.h"
#include "guest-init/world.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void emit_lines(struct bootstrap *b, struct bootstrap_stream *s, bool flush)
{
	size_t start = 0;

	for (size_t i = 0; i < s->len; i++) {
		if (s->buf[i] != '\n')
			continue;
		b->ops->log(b->ctx, s->stream, s->buf + start, i - start);
		start = i + 1;
	}
	/* A full buffer without a newline is one piece of an over-long line. */
	if (start < s->len && (flush || (start == 0 && s->len == GPROTO_LOG_LINE_MAX))) {
		b->ops->log(b->ctx, s->stream, s->buf + start, s->len - start);
		start = s->len;
	}
	memmove(s->buf, s->buf + start, s->len - start);
	s->len -= start;
}

static void stream_close(struct bootstrap *b, struct bootstrap_stream *s)
{
	if (s->fd < 0)
		return;
	emit_lines(b, s, true);
	event_del(s->ev);
	close(s->fd);
	s->fd = -1;
	s->len = 0;
}

/* Reads until the pipe is empty (or at most one buffer's worth when `once`). */
static void stream_read(struct bootstrap *b, struct bootstrap_stream *s, bool once)
{
	while (s->fd >= 0) {
		ssize_t n = read(s->fd, s->buf + s->len, GPROTO_LOG_LINE_MAX - s->len);

		if (n > 0) {
			s->len += (size_t)n;
			emit_lines(b, s, false);
			if (once)
				return;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		stream_close(b, s); /* EOF: every writer is gone */
	}
}

static void on_stream(evutil_socket_t fd, short what, void *arg)
{
	struct bootstrap *b = arg;

	(void)what;
	for (int i = 0; i < 2; i++)
		if (b->out[i].fd == fd)
			stream_read(b, &b->out[i], true);
}

int bootstrap_init(struct bootstrap *b, struct event_base *base, const struct bootstrap_ops *ops,
		   void *ctx)
{
	memset(b, 0, sizeof(*b));
	b->base = base;
	b->ops = ops;
	b->ctx = ctx;
	for (int i = 0; i < 2; i++) {
		b->out[i].fd = -1;
		b->out[i].stream = i == 0 ? GPROTO_STDOUT : GPROTO_STDERR;
		b->out[i].buf = malloc(GPROTO_LOG_LINE_MAX);
		if (b->out[i].buf == NULL)
			return -ENOMEM;
	}
	return 0;
}

/* In the child: everything up to exec. Reports errno on `errfd` and exits. */
static _Noreturn void child(const char *path, char *const envp[], int out, int err, int errfd)
{
	char *const argv[] = { (char *)path, NULL };
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	struct rlimit nproc = { WORLD_NPROC_MAX, WORLD_NPROC_MAX };
	sigset_t none;
	int e, devnull;

	/* PID 1 ignores SIGPIPE, and ignored signals survive exec. */
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	devnull = open("/dev/null", O_RDONLY);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		goto fail;
	if (chroot(WORLD_ROOT) < 0 || chdir(WORLD_TASK_ROOT) < 0)
		goto fail;
	/* I/O port access survives fork, execve and setuid. main.c drops the
	 * boot timer's port right after use; this makes sure no port or IOPL
	 * that PID 1 may hold reaches the function (lowering needs no privilege). */
	if ((ioperm(0, 65536, 0) < 0 && errno != ENOSYS) || (iopl(0) < 0 && errno != ENOSYS))
		goto fail;
	/* Before the uid changes: the limit is the function's, not PID 1's. */
	if (setrlimit(RLIMIT_NPROC, &nproc) < 0)
		goto fail;
	if (setgroups(0, NULL) < 0 || setresgid(WORLD_GID, WORLD_GID, WORLD_GID) < 0 ||
	    setresuid(WORLD_UID, WORLD_UID, WORLD_UID) < 0)
		goto fail;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		goto fail;
	execve(path, argv, envp);
fail:
	e = errno;
	if (write(errfd, &e, sizeof(e)) < 0)
		_exit(126);
	_exit(127);
}

int bootstrap_start(struct bootstrap *b, const char *path, char *const envp[])
{
	int pipes[2][2] = { { -1, -1 }, { -1, -1 } }, errp[2] = { -1, -1 }, e = 0, r;
	ssize_t n;
	pid_t pid;

	if (b->pid != 0)
		return -EBUSY;
	if (pipe2(pipes[0], O_CLOEXEC) < 0 || pipe2(pipes[1], O_CLOEXEC) < 0 ||
	    pipe2(errp, O_CLOEXEC) < 0) {
		r = -errno;
		goto err_close;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto err_close;
	}
	if (pid == 0)
		child(path, envp, pipes[0][1], pipes[1][1], errp[1]);
	close(errp[1]);
	errp[1] = -1;
	do
		n = read(errp[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(e)) {
		waitpid(pid, NULL, 0);
		r = -e;
		goto err_close;
	}
	for (int i = 0; i < 2; i++) {
		struct bootstrap_stream *s = &b->out[i];

		close(pipes[i][1]);
		s->fd = pipes[i][0];
		s->len = 0;
		fcntl(s->fd, F_SETFL, O_NONBLOCK);
		if (s->ev == NULL)
			s->ev = event_new(b->base, s->fd, EV_READ | EV_PERSIST, on_stream, b);
		else
			event_assign(s->ev, b->base, s->fd, EV_READ | EV_PERSIST, on_stream, b);
		if (s->ev == NULL) {
			log_err("bootstrap: event_new failed; its output is lost");
			continue;
		}
		if (!b->paused)
			event_add(s->ev, NULL);
	}
	close(errp[0]);
	b->pid = pid;
	return 0;

err_close:
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			if (pipes[i][j] >= 0)
				close(pipes[i][j]);
	for (int j = 0; j < 2; j++)
		if (errp[j] >= 0)
			close(errp[j]);
	return r;
}

void bootstrap_drain(struct bootstrap *b)
{
	for (int i = 0; i < 2; i++)
		stream_read(b, &b->out[i], false);
}

void bootstrap_pause(struct bootstrap *b, bool pause)
{
	if (b->paused == pause)
		return;
	b->paused = pause;
	for (int i = 0; i < 2; i++) {
		if (b->out[i].fd < 0)
			continue;
		if (pause)
			event_del(b->out[i].ev);
		else
			event_add(b->out[i].ev, NULL);
	}
}

void bootstrap_kill(void)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_err("bootstrap: fork for kill: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		/* As the sandbox user, kill(-1) reaches exactly its processes. */
		if (setresgid(WORLD_GID, WORLD_GID, WORLD_GID) < 0 ||
		    setresuid(WORLD_UID, WORLD_UID, WORLD_UID) < 0)
			_exit(1);
		kill(-1, SIGKILL);
		_exit(0);
	}
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* After kill(-1): reaps until no WORLD_UID process is left. Each dying one
 * is reparented to PID 1 and sends it SIGCHLD, which is waited for here
 * (blocked, so libevent's handler does not take it) with a deadline. */
static void reap_sandbox(void)
{
	uint64_t end = now_ms() + BOOTSTRAP_REAP_MS;
	sigset_t chld, old;
	unsigned left;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	for (;;) {
		uint64_t t;
		struct timespec ts;

		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		left = bootstrap_count();
		t = now_ms();
		if (left == 0 || t >= end)
			break;
		ts = (struct timespec){ (time_t)((end - t) / 1000u),
					(long)((end - t) % 1000u) * 1000000 };
		sigtimedwait(&chld, NULL, &ts);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (left > 0)
		log_err("bootstrap: %u sandbox processes outlived SIGKILL for %u ms", left,
			BOOTSTRAP_REAP_MS);
}

void bootstrap_reap(struct bootstrap *b)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid != b->pid)
			continue; /* an orphan that PID 1 inherited */
		b->pid = 0;
		bootstrap_drain(b);
		bootstrap_kill();
		reap_sandbox();
		for (int i = 0; i < 2; i++)
			stream_close(b, &b->out[i]);
		b->ops->exited(b->ctx, status);
	}
}

/* Calls fn for every /proc/PID owned by WORLD_UID. The scan is bounded by
 * the number of processes, which the guest's own pid_max bounds. */
static void for_each_sandbox_proc(void (*fn)(int dirfd, void *arg), void *arg)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		int fd;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && st.st_uid == WORLD_UID)
			fn(fd, arg);
		close(fd);
	}
	closedir(d);
}

static void reset_one(int dirfd, void *arg)
{
	int fd = openat(dirfd, "clear_refs", O_WRONLY | O_CLOEXEC);

	(void)arg;
	if (fd < 0)
		return;
	if (write(fd, "5", 1) < 0)
		log_debug("clear_refs: %s", strerror(errno));
	close(fd);
}

/* The kB value of "\n<key>: N kB" in /proc/PID/<file>, or 0. */
static uint64_t proc_kb(int dirfd, const char *file, const char *key)
{
	char buf[2048], *p;
	ssize_t n;
	int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
	unsigned long kb;

	if (fd < 0)
		return 0;
	n = read(fd, buf + 1, sizeof(buf) - 2);
	close(fd);
	if (n <= 0)
		return 0;
	buf[0] = '\n';
	buf[n + 1] = '\0';
	p = strstr(buf, key);
	if (p == NULL || sscanf(p + strlen(key), " %lu kB", &kb) != 1)
		return 0;
	return (uint64_t)kb * 1024u;
}

/* VmHWM lags: the kernel folds each task's RSS counts into the mm only every
 * 64 page faults (SPLIT_RSS_COUNTING), so a small process can show a peak of
 * one page. smaps_rollup walks the page tables and is exact for the current
 * RSS; the larger of the two is the best cheap estimate of the peak. */
static void peak_one(int dirfd, void *arg)
{
	uint64_t *sum = arg, hwm = proc_kb(dirfd, "status", "\nVmHWM:"),
		 rss = proc_kb(dirfd, "smaps_rollup", "\nRss:");

	*sum += hwm > rss ? hwm : rss;
}

static void count_one(int dirfd, void *arg)
{
	(void)dirfd;
	(*(unsigned *)arg)++;
}

unsigned bootstrap_count(void)
{
	unsigned n = 0;

	for_each_sandbox_proc(count_one, &n);
	return n;
}

void bootstrap_mem_reset(void)
{
	for_each_sandbox_proc(reset_one, NULL);
}

uint64_t bootstrap_mem_peak(void)
{
	uint64_t sum = 0;

	for_each_sandbox_proc(peak_one, &sum);
	return sum;
}
