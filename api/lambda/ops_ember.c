/* ops_ember: ember's own routes for the CLI: /ember/status (the invoker's pools), stopping idle instances (ember bench), and a function's log, with long-poll follow. */
#include "api/lambda/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#define LOGS_CHUNK_MAX (1u << 20) /* bytes per answer; the CLI asks again */
#define LOGS_POLL_S    20	  /* a follow request waits this long for new lines */
#define LOGS_DIR       "logs"
#define LOGS_CURRENT   "current.log"

struct status_ctx {
	cJSON *pools;
	bool ok;
};

static void add_pool(void *arg, const struct invoker_pool_status *st)
{
	struct status_ctx *c = arg;
	cJSON *p = cJSON_CreateObject();

	if (p == NULL || !cJSON_AddItemToArray(c->pools, p)) {
		cJSON_Delete(p);
		c->ok = false;
		return;
	}
	c->ok = c->ok && cJSON_AddStringToObject(p, "FunctionName", st->name) &&
		cJSON_AddStringToObject(p, "Version", st->version) &&
		cJSON_AddStringToObject(p, "Key", st->key) &&
		cJSON_AddNumberToObject(p, "Starting", st->starting) &&
		cJSON_AddNumberToObject(p, "Idle", st->idle) &&
		cJSON_AddNumberToObject(p, "Busy", st->busy) &&
		cJSON_AddNumberToObject(p, "Draining", st->draining) &&
		cJSON_AddNumberToObject(p, "Standby", st->standby) &&
		cJSON_AddBoolToObject(p, "Snapshot", st->has_snapshot) &&
		cJSON_AddNumberToObject(p, "MemoryMiB", (double)st->memory_mib);
}

void op_ember_status(struct lreq *r)
{
	struct lambda *l = ops_lambda(r);
	struct status_ctx c = { .ok = true };
	uint64_t used = 0, budget = 0;
	cJSON *o = cJSON_CreateObject();

	c.pools = cJSON_AddArrayToObject(o, "Pools");
	if (o == NULL || c.pools == NULL) {
		cJSON_Delete(o);
		lreq_error(r, LEXC_SERVICE, "out of memory");
		return;
	}
	invoker_status(l->inv, add_pool, &c, &used, &budget);
	c.ok = c.ok && cJSON_AddNumberToObject(o, "MemoryUsedMiB", (double)used) &&
	       cJSON_AddNumberToObject(o, "MemoryBudgetMiB", (double)budget) &&
	       cJSON_AddNumberToObject(o, "FunctionCount", store_count(l->store));
	if (!c.ok) {
		cJSON_Delete(o);
		lreq_error(r, LEXC_SERVICE, "out of memory");
		return;
	}
	lreq_reply_json(r, 200, o);
}

/* DELETE /ember/functions/{name}/instances[?snapshot=drop]: stops the idle
 * instances, so the next start restores (or, with snapshot=drop, is cold).
 * Answers {"Stopped": n}; they are gone once /ember/status shows no Draining. */
void op_ember_stop_idle(struct lreq *r)
{
	struct lambda *l = ops_lambda(r);
	const char *snap = lreq_query(r, "snapshot");
	cJSON *o;

	if (ops_func(r) == NULL)
		return;
	if (snap != NULL && strcmp(snap, "drop") != 0 && strcmp(snap, "keep") != 0) {
		lreq_error(r, LEXC_INVALID_PARAMETER, "snapshot: expected keep or drop");
		return;
	}
	o = cJSON_CreateObject();
	if (o == NULL ||
	    cJSON_AddNumberToObject(o, "Stopped",
				    invoker_stop_idle(l->inv, r->fn.name,
						      snap != NULL && strcmp(snap, "drop") == 0)) ==
		    NULL) {
		cJSON_Delete(o);
		lreq_error(r, LEXC_SERVICE, "out of memory");
		return;
	}
	lreq_reply_json(r, 200, o);
}

/* --- logs --- */

struct logpoll {
	struct lreq *r;
	struct invoker_log_watch *watch; /* NULL once it fired */
	struct event *timer;
};

static bool query_u64(struct lreq *r, const char *key, uint64_t *out)
{
	const char *s = lreq_query(r, key);
	char *end;

	if (s == NULL)
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return *s != '\0' && *end == '\0' && errno == 0 && s[0] != '-';
}

/* Answers with what the log holds past the client's position; false (and
 * no reply) when there is nothing new and the caller may wait. */
static bool logs_answer(struct lreq *r, bool may_wait)
{
	struct lambda *l = ops_lambda(r);
	uint64_t offset = 0, inode = 0, tail = 0, size = 0, ino = 0;
	char path[PATH_MAX], hdr[32];
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	ssize_t got = 0;
	int fd;

	if (snprintf(path, sizeof(path), "%s/" LOGS_DIR "/%s/" LOGS_CURRENT, l->home, r->fn.name) >=
	    (int)sizeof(path))
		path[0] = '\0'; /* cannot happen: home was checked at start */
	fd = path[0] != '\0' ? open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
		ino = (uint64_t)st.st_ino;
	}
	/* offset=N: from byte N; else tail=N: the last N bytes; else from the start. */
	if (!query_u64(r, "offset", &offset) && query_u64(r, "tail", &tail))
		offset = size > tail ? size - tail : 0;
	/* Another file (rotated) or a shorter one (truncated): from its start. */
	if ((query_u64(r, "inode", &inode) && inode != ino) || offset > size)
		offset = 0;
	n = size - offset < LOGS_CHUNK_MAX ? (size_t)(size - offset) : LOGS_CHUNK_MAX;
	if (n == 0 && may_wait) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	if (n > 0) {
		buf = malloc(n);
		got = buf != NULL ? pread(fd, buf, n, (off_t)offset) : -1;
		if (got < 0)
			got = 0;
	}
	if (fd >= 0)
		close(fd);
	snprintf(hdr, sizeof(hdr), "%" PRIu64, offset + (uint64_t)got);
	lreq_add_header(r, "X-Ember-Log-Offset", hdr);
	snprintf(hdr, sizeof(hdr), "%" PRIu64, ino);
	lreq_add_header(r, "X-Ember-Log-Inode", hdr);
	lreq_reply_raw(r, 200, "text/plain; charset=utf-8", buf, (size_t)got);
	free(buf);
	return true;
}

static void logpoll_free(struct logpoll *p)
{
	if (p->watch != NULL)
		invoker_log_unwatch(p->watch);
	if (p->timer != NULL)
		event_free(p->timer);
	free(p);
}

static void logpoll_cancel(struct lreq *r)
{
	logpoll_free(r->op);
	r->op = NULL;
}

static void logpoll_finish(struct logpoll *p)
{
	struct lreq *r = p->r;

	r->op = NULL;
	r->cancel = NULL;
	logpoll_free(p);
	logs_answer(r, false);
}

static void on_log_written(void *arg)
{
	struct logpoll *p = arg;

	p->watch = NULL; /* a watch fires once and is gone */
	logpoll_finish(p);
}

static void on_poll_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	logpoll_finish(arg);
}

void op_ember_logs(struct lreq *r)
{
	struct lambda *l = ops_lambda(r);
	const char *follow = lreq_query(r, "follow");
	struct timeval tv = { .tv_sec = LOGS_POLL_S };
	struct logpoll *p;

	if (ops_func(r) == NULL)
		return;
	if (logs_answer(r, follow != NULL && strcmp(follow, "1") == 0))
		return;
	/* Nothing new: wait for the next write to the log, or the deadline. */
	p = calloc(1, sizeof(*p));
	if (p != NULL) {
		p->r = r;
		p->timer = evtimer_new(l->base, on_poll_timeout, p);
		p->watch = invoker_log_watch(l->inv, r->fn.name, on_log_written, p);
	}
	if (p == NULL || p->timer == NULL || p->watch == NULL || evtimer_add(p->timer, &tv) < 0) {
		if (p != NULL)
			logpoll_free(p);
		logs_answer(r, false);
		return;
	}
	r->op = p;
	r->cancel = logpoll_cancel;
}
