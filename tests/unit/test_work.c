/* Unit tests for api/work/work.c: jobs run on workers, done() comes back on the loop, a full queue refuses, free cancels. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "api/work/work.h"

#define JOBS 8

/* The gate opens inside work_pool_free(), at its first join: the queue is
 * taken by then, so the waiting jobs are cancelled whatever the scheduler
 * does (the link wraps pthread_join: tests/unit/rules.mk). */
int __real_pthread_join(pthread_t t, void **ret);
int __wrap_pthread_join(pthread_t t, void **ret);
static pthread_mutex_t *open_at_join;

int __wrap_pthread_join(pthread_t t, void **ret)
{
	if (open_at_join != NULL) {
		pthread_mutex_unlock(open_at_join);
		open_at_join = NULL;
	}
	return __real_pthread_join(t, ret);
}

struct job {
	struct work w;
	pthread_t ran_on, done_on;
	bool ran, done, cancelled;
	int *remaining;
	struct event_base *base;
	pthread_mutex_t *gate; /* run() holds here until the test opens it */
};

static void run(struct work *w)
{
	struct job *j = (struct job *)w;

	if (j->gate != NULL) {
		pthread_mutex_lock(j->gate);
		pthread_mutex_unlock(j->gate);
	}
	j->ran_on = pthread_self();
	j->ran = true;
}

static void done(struct work *w)
{
	struct job *j = (struct job *)w;

	j->done_on = pthread_self();
	j->done = true;
	j->cancelled = w->cancelled;
	if (--*j->remaining == 0)
		event_base_loopbreak(j->base);
}

/* A job that waits at gate (NULL: none) and counts itself down in remaining. */
static void job_init(struct job *j, int *remaining, struct event_base *base, pthread_mutex_t *gate)
{
	memset(j, 0, sizeof(*j));
	j->w.run = run;
	j->w.done = done;
	j->remaining = remaining;
	j->base = base;
	j->gate = gate;
}

static void test_jobs_come_back_on_the_loop(void **state)
{
	struct event_base *base = event_base_new();
	struct work_pool *p;
	struct job jobs[JOBS];
	int remaining = JOBS;

	(void)state;
	assert_int_equal(work_pool_new(base, 2, WORK_QUEUE_MAX, &p), 0);
	memset(jobs, 0, sizeof(jobs));
	for (int i = 0; i < JOBS; i++) {
		job_init(&jobs[i], &remaining, base, NULL);
		assert_int_equal(work_submit(p, &jobs[i].w), 0);
	}
	/* The eventfd wakes the loop: no timer, no polling. */
	assert_int_equal(event_base_dispatch(base), 0);
	assert_int_equal(remaining, 0);
	for (int i = 0; i < JOBS; i++) {
		assert_true(jobs[i].ran);
		assert_true(jobs[i].done);
		assert_false(jobs[i].cancelled);
		assert_false(pthread_equal(jobs[i].ran_on, pthread_self()));
		assert_true(pthread_equal(jobs[i].done_on, pthread_self()));
	}
	work_pool_free(p);
	event_base_free(base);
}

static void test_full_queue_and_cancel(void **state)
{
	struct event_base *base = event_base_new();
	pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
	struct job jobs[WORK_QUEUE_MAX + 2 + 1];
	int remaining = WORK_QUEUE_MAX + 2 + 1, accepted = 0, ran = 0, cancelled = 0;
	struct work_pool *p;

	(void)state;
	assert_int_equal(work_pool_new(base, 2, WORK_QUEUE_MAX, &p), 0);
	memset(jobs, 0, sizeof(jobs));
	pthread_mutex_lock(&gate); /* both workers block in their first job */
	for (size_t i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++) {
		job_init(&jobs[i], &remaining, base, &gate);
		if (work_submit(p, &jobs[i].w) == 0)
			accepted++;
		else
			remaining--;
	}
	/* Two running (or about to) and WORK_QUEUE_MAX waiting; at least one refused. */
	assert_true(accepted <= WORK_QUEUE_MAX + 2);
	assert_true(accepted >= WORK_QUEUE_MAX);
	{
		struct job extra = { .w = { .run = run, .done = done } };

		assert_int_equal(work_submit(p, &extra.w), -EAGAIN);
	}
	/* Free without running the loop: the running ones finish, the queued are cancelled. */
	open_at_join = &gate;
	work_pool_free(p);
	assert_null(open_at_join);
	for (int i = 0; i < accepted; i++) {
		assert_true(jobs[i].done);
		ran += jobs[i].ran;
		cancelled += jobs[i].cancelled;
		assert_true(jobs[i].ran != jobs[i].cancelled);
	}
	assert_int_equal(ran + cancelled, accepted);
	assert_true(cancelled >= accepted - 2); /* all but the two that held the workers */
	event_base_free(base);
}

/* A pool's own bound: one larger than WORK_QUEUE_MAX takes that many. */
static void test_own_queue_bound(void **state)
{
	enum { BOUND = 4 * WORK_QUEUE_MAX };
	struct event_base *base = event_base_new();
	pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
	struct job jobs[BOUND + 1 + 1];
	int remaining = 0, accepted = 0, last = 0;
	struct work_pool *p;

	(void)state;
	assert_int_equal(work_pool_new(base, 1, BOUND, &p), 0);
	memset(jobs, 0, sizeof(jobs));
	pthread_mutex_lock(&gate); /* the worker blocks in its first job */
	for (size_t i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++) {
		job_init(&jobs[i], &remaining, base, &gate);
		last = work_submit(p, &jobs[i].w);
		if (last == 0) {
			accepted++;
			remaining++;
		}
	}
	/* One running (or about to) and BOUND waiting: far more than
	 * WORK_QUEUE_MAX; the last is refused all the same. */
	assert_true(accepted >= BOUND && accepted <= BOUND + 1);
	assert_int_equal(last, -EAGAIN);
	open_at_join = &gate;
	work_pool_free(p);
	for (int i = 0; i < accepted; i++)
		assert_true(jobs[i].done);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jobs_come_back_on_the_loop),
		cmocka_unit_test(test_full_queue_and_cancel),
		cmocka_unit_test(test_own_queue_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
