/* log: leveled logging to stderr or a log file, with a rate limiter for guest-triggered messages.
 *
 * Contract: every line goes to stderr as "<prog>: <level>: <message>\n" in one
 * write(2), so lines from several threads never interleave. Safe from any
 * thread. log_set_output() redirects lines to another fd (Firecracker's
 * PUT /logger): there each line is "<UTC time> [<prog>[:<LEVEL>][:<file>:<line>]]
 * <message>\n", the shape of Firecracker's log lines. log_last_error()
 * keeps the last error message of the calling thread, so a caller that runs
 * a step which logs its own errors can hand the reason on (the API's
 * fault_message). log_init() is optional (defaults: prog "ember", level LOG_INFO).
 * Messages a guest can trigger must go through log_ratelimited(), so a hostile
 * guest cannot flood the host's logs: at most LOG_RATELIMIT_BURST lines per
 * limiter and second, and a count of what was dropped when it opens again. */
#ifndef EMBER_LOG_H
#define EMBER_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_NONE = 0, /* nothing at all (fuzz harnesses) */
	LOG_ERR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

#define LOG_RATELIMIT_BURST 10

/* One per message site; zero-initialise (static storage is fine). */
struct log_ratelimit {
	uint64_t window_ns;
	uint32_t count;
	uint32_t dropped;
};

void log_init(const char *prog, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info", "debug" (or "none"). Returns 0 or -EINVAL. */
int log_parse_level(const char *s, enum log_level *out);

/* Lines go to fd (owned by the caller, kept open while in use); -1 means
 * stderr again. show_level and show_origin add those fields to file lines. */
void log_set_output(int fd, bool show_level, bool show_origin);
/* The message of the last LOG_ERR line this thread logged ("" if none). */
const char *log_last_error(void);
void log_clear_last_error(void);

void log_msg_at(enum log_level level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define log_msg(level, ...) log_msg_at((level), __FILE__, __LINE__, __VA_ARGS__)
/* True if a message under `rl` may be printed now; thread-safe. */
bool log_ratelimit_ok(struct log_ratelimit *rl);

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* For guest-triggered messages: log_ratelimited(LOG_WARN, "...", ...). */
#define log_ratelimited(level, ...)                                                                \
	do {                                                                                       \
		static struct log_ratelimit rl_;                                                   \
		if (log_get_level() >= (level) && log_ratelimit_ok(&rl_))                          \
			log_msg((level), __VA_ARGS__);                                             \
	} while (0)

#endif
