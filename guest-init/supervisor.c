/* supervisor: INIT, bootstrap start and restart, init errors and exits (see supervisor.h). */
#include "guest-init/supervisor.h"

#include "guest-init/bootstrap.h"
#include "guest-init/inflight.h"
#include "guest-init/link.h"
#include "guest-init/world.h"
#include "lib/gproto/gproto.h"
#include "lib/util/log.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static void on_sigchld(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor *s = arg;

	(void)fd, (void)what;
	bootstrap_reap(&s->boot); /* calls ops->exited when it is the bootstrap */
}

int supervisor_setup(struct supervisor *s, struct event_base *base, const struct bootstrap_ops *ops,
		     void *ctx, unsigned tmp_mib)
{
	int r;

	memset(s, 0, sizeof(*s));
	s->tmp_mib = tmp_mib;
	r = bootstrap_init(&s->boot, base, ops, ctx);
	if (r < 0)
		return r;
	s->sigchld = evsignal_new(base, SIGCHLD, on_sigchld, s);
	if (s->sigchld == NULL || event_add(s->sigchld, NULL) < 0)
		log_err("supervisor: SIGCHLD event failed; children are not reaped");
	return 0;
}

bool supervisor_inited(const struct supervisor *s)
{
	return s->inited;
}

/* Go's wording (Lambda's platform is Go): strerror()/strsignal() text with
 * a lower-case first letter, "Killed" -> "killed". */
static void go_words(char *buf, size_t len, const char *prefix, const char *text)
{
	char first = text[0] >= 'A' && text[0] <= 'Z' ? (char)(text[0] - 'A' + 'a') : text[0];

	if (text[0] == '\0')
		snprintf(buf, len, "%s", prefix);
	else
		snprintf(buf, len, "%s%c%s", prefix, first, text + 1);
}

void supervisor_exit_text(int status, char *buf, size_t len)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		snprintf(buf, len, "Runtime exited without providing a reason");
	else if (WIFEXITED(status))
		snprintf(buf, len, "Runtime exited with error: exit status %d",
			 WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		go_words(buf, len,
			 "Runtime exited with error: signal: ", strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "Runtime exited with error: wait status %#x", status);
}

void supervisor_entrypoint_text(const char *path, const char *searched, bool found, int err,
				char *buf, size_t len)
{
	char prefix[GPROTO_NAME_MAX];

	if (err == -ENOENT && !found) {
		snprintf(buf, len, "Couldn't find valid bootstrap(s): [%s]", searched);
		return;
	}
	snprintf(prefix, sizeof(prefix), "fork/exec %s: ", path);
	go_words(buf, len, prefix, strerror(-err));
}

/* Init failed: the invocation waiting on it fails, or the host hears INIT_ERROR. */
static void fail_init(struct inflight *f, struct link *k, const char *etype, const char *text)
{
	if (inflight_busy(f))
		inflight_fail(f, k, etype, text);
	else
		link_send_error_json(k, GPROTO_INIT_ERROR, 0, etype, text);
}

static void start(struct supervisor *s, struct inflight *f, struct link *k)
{
	struct world_entrypoint ep;
	char text[512];
	int r;

	world_entrypoint(WORLD_ROOT, s->runtime, &ep);
	s->ready_once = false;
	s->init_failed = false;
	r = bootstrap_start(&s->boot, ep.path, s->envp);
	if (r < 0) {
		supervisor_entrypoint_text(ep.path, ep.searched, ep.found, r, text, sizeof(text));
		log_err("bootstrap: %s", text);
		fail_init(f, k, "Runtime.InvalidEntrypoint", text);
	}
}

void supervisor_init(struct supervisor *s, struct inflight *f, struct link *k,
		     const struct gproto_init *in)
{
	char err[256];
	int r;

	if (s->inited) {
		link_send_error_json(k, GPROTO_INIT_ERROR, 0, "Ember.AlreadyInitialized",
				     "INIT was already received");
		return;
	}
	r = s->mounted ? 0 : world_mount(s->tmp_mib, err, sizeof(err));
	if (r < 0) {
		log_err("INIT: %s", err);
		link_send_error_json(k, GPROTO_INIT_ERROR, 0, "Ember.MountFailed", err);
		return;
	}
	s->mounted = true;
	r = world_env_build(in, &s->envp);
	if (r < 0) {
		link_send_error_json(k, GPROTO_INIT_ERROR, 0, "Ember.OutOfMemory", "environment");
		return;
	}
	memcpy(s->runtime, in->runtime.s, in->runtime.len + 1);
	s->inited = true;
	start(s, f, k);
}

void supervisor_wanted(struct supervisor *s, struct inflight *f, struct link *k)
{
	if (s->boot.pid == 0)
		start(s, f, k); /* init failed or the runtime ended: init again */
	else if (s->init_failed)
		bootstrap_kill(); /* supervisor_exited() starts a fresh one for it */
}

int supervisor_next(struct supervisor *s)
{
	if (s->init_failed) {
		bootstrap_kill(); /* Lambda ends a runtime whose init failed */
		return -EPIPE;
	}
	if (!s->inited)
		return -EPERM;
	s->ready_once = true;
	return 0;
}

int supervisor_init_error(struct supervisor *s, struct inflight *f, struct link *k,
			  const char *type, const uint8_t *body, size_t len)
{
	if (!s->inited || s->ready_once || s->init_failed)
		return -EPERM;
	if (len > GPROTO_RESULT_MAX)
		return -EMSGSIZE;
	bootstrap_drain(&s->boot); /* its init's output comes before the error */
	s->init_failed = true;
	if (inflight_busy(f))
		inflight_fail_with(f, k, type, body, len);
	else
		link_send_error(k, GPROTO_INIT_ERROR, 0, type, body, len);
	return 0;
}

void supervisor_exited(struct supervisor *s, struct inflight *f, struct link *k, int status)
{
	char text[256];

	supervisor_exit_text(status, text, sizeof(text));
	log_info("bootstrap: %s", text);
	inflight_release_next(f); /* its client is gone */
	if (inflight_delivered(f)) {
		inflight_fail(f, k, "Runtime.ExitError", text);
		start(s, f, k);
	} else if (s->init_failed) {
		if (inflight_busy(f))
			start(s, f, k); /* an invocation waits for a fresh init */
	} else if (!s->ready_once) {
		fail_init(f, k, "Runtime.ExitError", text);
	} else {
		start(s, f, k);
	}
}
