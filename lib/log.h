/* log: leveled logging to stderr, with a rate limiter for guest-triggered messages.
 *
 * Contract: every line goes to stderr as "<prog>: <level>: <message>\n" in one
 * write(2), so lines from several threads never interleave. Safe from any
 * thread. log_init() is optional (defaults: prog "ember", level LOG_INFO).
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

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
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
