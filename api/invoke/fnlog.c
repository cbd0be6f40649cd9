/* fnlog: per-function log files with rotation, dropped-line accounting and one-shot watchers (see fnlog.h). */
#include "api/invoke/fnlog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/store/fn.h"
#include "lib/util/log.h"

#define FNLOG_BUCKETS	      256
#define FNLOG_REOPEN_AFTER_NS 1000000000ull

struct fnlog_watch {
	struct fnlog_watch *next, **pprev;
	void (*cb)(void *arg);
	void *arg;
	bool firing; /* its cb runs: an unwatch now only unlinks nothing */
};

struct fnlog {
	struct fnlog *next;
	char name[FN_NAME_MAX + 1];
	int fd;
	uint64_t size;
	uint64_t dropped, dropped_total;
	int drop_err;
	uint64_t open_failed_ns;
	struct fnlog_watch *watches;
};

struct fnlog_set {
	char dir[PATH_MAX]; /* $EMBER_HOME/logs */
	struct fnlog *b[FNLOG_BUCKETS];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned bucket(const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	return h % FNLOG_BUCKETS;
}

int fnlog_set_new(const char *home, struct fnlog_set **out)
{
	struct fnlog_set *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return -ENOMEM;
	if (snprintf(s->dir, sizeof(s->dir), "%s/logs", home) >= (int)sizeof(s->dir)) {
		free(s);
		return -ENAMETOOLONG;
	}
	if (mkdir(s->dir, 0750) < 0 && errno != EEXIST) {
		int ret = -errno;

		log_err("%s: %s", s->dir, strerror(errno));
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

void fnlog_set_free(struct fnlog_set *s)
{
	if (s == NULL)
		return;
	for (unsigned i = 0; i < FNLOG_BUCKETS; i++) {
		while (s->b[i] != NULL) {
			struct fnlog *l = s->b[i];

			s->b[i] = l->next;
			while (l->watches != NULL)
				fnlog_unwatch(l->watches);
			if (l->fd >= 0)
				close(l->fd);
			free(l);
		}
	}
	free(s);
}

static struct fnlog *find(struct fnlog_set *s, const char *name, bool create)
{
	struct fnlog **b = &s->b[bucket(name)], *l;

	for (l = *b; l != NULL; l = l->next)
		if (strcmp(l->name, name) == 0)
			return l;
	if (!create || strlen(name) > FN_NAME_MAX)
		return NULL;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->fd = -1;
	l->next = *b;
	*b = l;
	return l;
}

static int path_of(const struct fnlog_set *s, const struct fnlog *l, int n, char *out, size_t cap)
{
	int r = n == 0 ? snprintf(out, cap, "%s/%s/%s", s->dir, l->name, FNLOG_NAME)
		       : snprintf(out, cap, "%s/%s/%s.%d", s->dir, l->name, FNLOG_NAME, n);

	return r < 0 || (size_t)r >= cap ? -ENAMETOOLONG : 0;
}

static int open_log(struct fnlog_set *s, struct fnlog *l)
{
	char path[PATH_MAX], dir[PATH_MAX];
	struct stat st;
	int ret;

	if (snprintf(dir, sizeof(dir), "%s/%s", s->dir, l->name) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	ret = path_of(s, l, 0, path, sizeof(path));
	if (ret < 0)
		return ret;
	l->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (l->fd < 0)
		return -errno;
	l->size = fstat(l->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

static void rotate(struct fnlog_set *s, struct fnlog *l)
{
	char from[PATH_MAX], to[PATH_MAX];

	close(l->fd);
	l->fd = -1;
	for (int n = FNLOG_KEEP; n >= 1; n--) {
		if (path_of(s, l, n - 1, from, sizeof(from)) < 0 ||
		    path_of(s, l, n, to, sizeof(to)) < 0)
			return;
		if (rename(from, to) < 0 && errno != ENOENT)
			log_ratelimited(LOG_WARN, "rotating %s: %s", from, strerror(errno));
	}
}

static void fire_watches(struct fnlog *l)
{
	struct fnlog_watch *pending = l->watches;

	/* Move them to a list of our own first: a callback may watch again, or
	 * unwatch another pending one (which then unlinks from this list). */
	l->watches = NULL;
	if (pending != NULL)
		pending->pprev = &pending;
	while (pending != NULL) {
		struct fnlog_watch *w = pending;

		pending = w->next;
		if (pending != NULL)
			pending->pprev = &pending;
		w->firing = true;
		w->cb(w->arg);
		free(w);
	}
}

static uint64_t count_lines(const struct iovec *iov, int n)
{
	uint64_t lines = 0;

	for (int i = 0; i < n; i++)
		for (const char *p = iov[i].iov_base, *end = p + iov[i].iov_len;
		     (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
			lines++;
	return lines > 0 ? lines : 1;
}

static void drop(struct fnlog *l, const struct iovec *iov, int n, int err)
{
	uint64_t lines = count_lines(iov, n);

	if (l->dropped == 0)
		log_ratelimited(LOG_WARN, "log of %s: %s; dropping lines until it works again",
				l->name, strerror(err));
	l->dropped += lines;
	l->dropped_total += lines;
	l->drop_err = err;
}

/* A short note of what was lost, before the first line that gets through. */
static void note_dropped(struct fnlog *l)
{
	char note[160];
	int len = snprintf(note, sizeof(note), "[ember] %llu log lines dropped (%s)\n",
			   (unsigned long long)l->dropped, strerror(l->drop_err));

	if (write(l->fd, note, (size_t)len) == len) {
		l->size += (uint64_t)len;
		l->dropped = 0;
	}
}

void fnlog_write(struct fnlog_set *s, const char *name, const struct iovec *iov, int n)
{
	struct fnlog *l = find(s, name, true);
	size_t len = 0;
	ssize_t w;
	int ret;

	if (l == NULL)
		return;
	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (l->fd >= 0 && l->size > 0 && l->size + len > FNLOG_ROTATE_BYTES)
		rotate(s, l);
	if (l->fd < 0) {
		if (l->open_failed_ns != 0 &&
		    now_ns() - l->open_failed_ns < FNLOG_REOPEN_AFTER_NS) {
			drop(l, iov, n, l->drop_err ? l->drop_err : EIO);
			return;
		}
		ret = open_log(s, l);
		if (ret < 0) {
			l->open_failed_ns = now_ns();
			drop(l, iov, n, -ret);
			return;
		}
		l->open_failed_ns = 0;
	}
	if (l->dropped > 0)
		note_dropped(l);
	w = writev(l->fd, iov, n);
	if (w < 0) {
		drop(l, iov, n, errno);
		return;
	}
	l->size += (uint64_t)w;
	if ((size_t)w < len)
		drop(l, iov, n, ENOSPC); /* the rest did not fit */
	fire_watches(l);
}

uint64_t fnlog_dropped(struct fnlog_set *s, const char *name)
{
	struct fnlog *l = find(s, name, false);

	return l != NULL ? l->dropped_total : 0;
}

struct fnlog_watch *fnlog_watch(struct fnlog_set *s, const char *name, void (*cb)(void *arg),
				void *arg)
{
	struct fnlog *l = find(s, name, true);
	struct fnlog_watch *w;

	if (l == NULL)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->cb = cb;
	w->arg = arg;
	w->next = l->watches;
	if (l->watches != NULL)
		l->watches->pprev = &w->next;
	w->pprev = &l->watches;
	l->watches = w;
	return w;
}

void fnlog_unwatch(struct fnlog_watch *w)
{
	if (w == NULL || w->firing)
		return; /* a watch whose cb runs is freed after it */
	*w->pprev = w->next;
	if (w->next != NULL)
		w->next->pprev = w->pprev;
	free(w);
}
