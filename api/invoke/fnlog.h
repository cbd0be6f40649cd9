/* fnlog: each function's log file, $EMBER_HOME/logs/<name>/current.log: appends that never hold up an invocation, rotation by size, watchers.
 *
 * Contract:
 * - fnlog_write() appends whole lines (the caller ends each with '\n') to
 *   name's current log with one writev(2), opening it (and its folder) on
 *   first use. It never blocks an invocation on a failure: when the disk is
 *   full (or any write or open fails), the lines are dropped and counted,
 *   and the next write that works first records "[ember] N log lines
 *   dropped (<reason>)". A failed open is retried at most once a second.
 * - Past FNLOG_ROTATE_BYTES the file is renamed to current.log.1 (.1 to .2,
 *   and so on up to FNLOG_KEEP; the oldest goes) and a new one is started.
 * - fnlog_watch() calls cb once, from inside the next fnlog_write() or
 *   rotation of name's log, after it; the watch is then gone. Before that,
 *   fnlog_unwatch() cancels it. A cb may add a new watch or cancel another
 *   (cancelling its own is a no-op: it is freed after cb returns).
 * - Lines are the function's own bytes: nothing here parses them.
 * Errors: negative errno (only fnlog_set_new). Thread: the loop thread. */
#ifndef EMBER_API_FNLOG_H
#define EMBER_API_FNLOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define FNLOG_ROTATE_BYTES (16u << 20)
#define FNLOG_KEEP	   3 /* rotated files kept: current.log.1 .. .3 */
#define FNLOG_NAME	   "current.log"

struct fnlog_set;
struct fnlog_watch;

int fnlog_set_new(const char *home, struct fnlog_set **out);
void fnlog_set_free(struct fnlog_set *s);

void fnlog_write(struct fnlog_set *s, const char *name, const struct iovec *iov, int n);
/* Lines dropped so far for name (0 for an unknown name). */
uint64_t fnlog_dropped(struct fnlog_set *s, const char *name);

struct fnlog_watch *fnlog_watch(struct fnlog_set *s, const char *name, void (*cb)(void *arg),
				void *arg);
void fnlog_unwatch(struct fnlog_watch *w);

#endif
