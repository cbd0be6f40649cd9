/* log: leveled stderr logging and a per-site rate limiter (see log.h). */
#include "lib/util/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 1024
#define NS_PER_SEC     1000000000ull

static const char *log_prog = "ember";
static volatile enum log_level log_level = LOG_INFO;
static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;
/* Output: stderr, or a log file with Firecracker's line shape. */
static int log_fd = -1;
static bool log_show_level, log_show_origin;
static __thread char last_error[LINE_MAX_BYTES];

static const char *const level_names[] = {
	[LOG_NONE] = "none", [LOG_ERR] = "error",   [LOG_WARN] = "warn",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};
static const char *const level_upper[] = {
	[LOG_NONE] = "NONE", [LOG_ERR] = "ERROR",   [LOG_WARN] = "WARN",
	[LOG_INFO] = "INFO", [LOG_DEBUG] = "DEBUG",
};

void log_init(const char *prog, enum log_level level)
{
	log_prog = prog;
	log_level = level;
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_set_output(int fd, bool show_level, bool show_origin)
{
	log_show_level = show_level;
	log_show_origin = show_origin;
	__atomic_store_n(&log_fd, fd, __ATOMIC_RELEASE);
}

const char *log_last_error(void)
{
	return last_error;
}

void log_clear_last_error(void)
{
	last_error[0] = '\0';
}

/* "<prog>: <level>: " for stderr, or Firecracker's "<time> [<prog>:<LEVEL>:<file>:<line>] ". */
static int prefix(char *buf, size_t cap, int fd, enum log_level level, const char *file, int line)
{
	struct timespec ts;
	struct tm tm;
	char when[32] = "";
	int n;

	if (fd < 0)
		return snprintf(buf, cap, "%s: %s: ", log_prog, level_names[level]);
	clock_gettime(CLOCK_REALTIME, &ts);
	if (gmtime_r(&ts.tv_sec, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(buf, cap, "%s.%09ld [%s", when, ts.tv_nsec, log_prog);
	if (log_show_level && n >= 0 && (size_t)n < cap)
		n += snprintf(buf + n, cap - (size_t)n, ":%s", level_upper[level]);
	if (log_show_origin && n >= 0 && (size_t)n < cap)
		n += snprintf(buf + n, cap - (size_t)n, ":%s:%d", file, line);
	if (n >= 0 && (size_t)n < cap)
		n += snprintf(buf + n, cap - (size_t)n, "] ");
	return n;
}

void log_msg_at(enum log_level level, const char *file, int lineno, const char *fmt, ...)
{
	char line[LINE_MAX_BYTES];
	int saved = errno, fd = __atomic_load_n(&log_fd, __ATOMIC_ACQUIRE);
	va_list ap;
	int n, m;

	if (level == LOG_NONE || level > log_level)
		return;
	n = prefix(line, sizeof(line) / 2, fd, level, file, lineno);
	if (n < 0 || (size_t)n >= sizeof(line) / 2)
		n = 0;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	if (level == LOG_ERR)
		snprintf(last_error, sizeof(last_error), "%s", line + n);
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2; /* truncated: keep the newline */
	line[n++] = '\n';
	/* One write per line: atomic for pipes and O_APPEND files up to PIPE_BUF. */
	if (write(fd < 0 ? STDERR_FILENO : fd, line, (size_t)n) < 0) {
		/* Nowhere left to report it. */
	}
	errno = saved;
}

bool log_ratelimit_ok(struct log_ratelimit *rl)
{
	struct timespec ts;
	uint64_t now;
	uint32_t dropped = 0;
	bool ok;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
	pthread_mutex_lock(&rl_lock);
	if (now - rl->window_ns >= NS_PER_SEC) {
		dropped = rl->dropped;
		rl->window_ns = now;
		rl->count = 0;
		rl->dropped = 0;
	}
	ok = rl->count < LOG_RATELIMIT_BURST;
	if (ok)
		rl->count++;
	else
		rl->dropped++;
	pthread_mutex_unlock(&rl_lock);
	if (dropped > 0)
		log_msg(LOG_WARN, "%u similar messages suppressed", dropped);
	return ok;
}
