/* log: leveled stderr logging and a per-site rate limiter (see log.h). */
#include "log.h"

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

static const char *const level_names[] = {
	[LOG_NONE] = "none", [LOG_ERR] = "error",   [LOG_WARN] = "warn",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
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

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[LINE_MAX_BYTES];
	int saved = errno;
	va_list ap;
	int n, m;

	if (level == LOG_NONE || level > log_level)
		return;
	n = snprintf(line, sizeof(line), "%s: %s: ", log_prog, level_names[level]);
	if (n < 0)
		n = 0;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2; /* truncated: keep the newline */
	line[n++] = '\n';
	/* One write per line: atomic for stderr pipes and files up to PIPE_BUF. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
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
