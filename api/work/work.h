/* work: a small pool of worker threads for emberd's slow jobs (zip intake, image builds), reporting back to the loop.
 *
 * Contract:
 * - A job is a struct work embedded in the caller's own struct: run() is
 *   called on a worker thread and may block (read files, wait for a child
 *   process); done() is then called on the loop thread, exactly once per
 *   submitted job. run() must not touch loop-owned state: it works on what
 *   the job carries. A job that was still queued when the pool is freed gets
 *   done() with `cancelled` set and run() never called.
 * - work_submit() never blocks. It refuses with -EAGAIN when the pool's
 *   max_queued jobs (WORK_QUEUE_MAX for most) are already waiting (the
 *   caller answers "too many requests"). A caller whose jobs are bounded otherwise
 *   (one per instance, say) may give UINT_MAX: a refusal would only turn a
 *   moment's burst into a failure.
 * - Completion reaches the loop through an eventfd the loop watches: no
 *   polling, no timers.
 * - work_pool_free() (loop thread) lets running jobs finish, joins the
 *   threads, then calls done() for every job not yet reported.
 * Errors: negative errno, logged. Thread: work_* on the loop thread. */
#ifndef EMBER_API_WORK_H
#define EMBER_API_WORK_H

#include <stdbool.h>

#define WORK_THREADS   2
#define WORK_QUEUE_MAX 16

struct event_base;

struct work {
	void (*run)(struct work *w);
	void (*done)(struct work *w);
	bool cancelled; /* set before done() when the pool went away first */
	struct work *next;
};

struct work_pool;

int work_pool_new(struct event_base *base, unsigned threads, unsigned max_queued,
		  struct work_pool **out);
int work_submit(struct work_pool *p, struct work *w);
void work_pool_free(struct work_pool *p);

#endif
