/* work: worker threads with a job queue and an eventfd back to the loop (see work.h). */
#include "api/work/work.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/util/log.h"

struct work_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct work *queue, **queue_tail; /* waiting for a thread */
	struct work *finished;		  /* run, waiting for done() on the loop */
	unsigned queued, max_queued;
	bool stopping;
	int efd;
	struct event *ev;
	unsigned nthreads;
	pthread_t threads[WORK_THREADS * 4];
};

static void *worker(void *arg)
{
	struct work_pool *p = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct work *w;

		while (p->queue == NULL && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->queue == NULL)
			break;
		w = p->queue;
		p->queue = w->next;
		if (p->queue == NULL)
			p->queue_tail = &p->queue;
		p->queued--;
		pthread_mutex_unlock(&p->lock);
		w->run(w);
		pthread_mutex_lock(&p->lock);
		w->next = p->finished;
		p->finished = w;
		/* An eventfd write fails only on counter overflow, never here. */
		if (write(p->efd, &one, sizeof(one)) < 0)
			log_err("work: eventfd write: %s", strerror(errno));
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Finished jobs, oldest first, off the shared list. */
static struct work *take_finished(struct work_pool *p)
{
	struct work *w, *rev = NULL;

	pthread_mutex_lock(&p->lock);
	w = p->finished;
	p->finished = NULL;
	pthread_mutex_unlock(&p->lock);
	while (w != NULL) {
		struct work *next = w->next;

		w->next = rev;
		rev = w;
		w = next;
	}
	return rev;
}

static void on_finished(evutil_socket_t fd, short what, void *arg)
{
	struct work_pool *p = arg;
	uint64_t n;
	struct work *w;

	(void)what;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_err("work: eventfd read: %s", strerror(errno));
	w = take_finished(p);
	while (w != NULL) {
		struct work *next = w->next;

		w->done(w);
		w = next;
	}
}

int work_pool_new(struct event_base *base, unsigned threads, unsigned max_queued,
		  struct work_pool **out)
{
	struct work_pool *p = calloc(1, sizeof(*p));
	int ret = -ENOMEM;

	if (p == NULL)
		return -ENOMEM;
	if (threads == 0 || threads > sizeof(p->threads) / sizeof(p->threads[0]))
		threads = WORK_THREADS;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->max_queued = max_queued;
	p->queue_tail = &p->queue;
	p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->efd < 0) {
		ret = -errno;
		goto err;
	}
	p->ev = event_new(base, p->efd, EV_READ | EV_PERSIST, on_finished, p);
	if (p->ev == NULL || event_add(p->ev, NULL) < 0)
		goto err;
	for (; p->nthreads < threads; p->nthreads++) {
		ret = -pthread_create(&p->threads[p->nthreads], NULL, worker, p);
		if (ret < 0)
			goto err;
	}
	*out = p;
	return 0;

err:
	log_err("work: starting the worker pool: %s", strerror(-ret));
	work_pool_free(p);
	return ret;
}

int work_submit(struct work_pool *p, struct work *w)
{
	int ret = 0;

	pthread_mutex_lock(&p->lock);
	if (p->queued >= p->max_queued) {
		ret = -EAGAIN; /* w untouched */
	} else {
		w->cancelled = false;
		w->next = NULL;
		*p->queue_tail = w;
		p->queue_tail = &w->next;
		p->queued++;
		pthread_cond_signal(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

void work_pool_free(struct work_pool *p)
{
	struct work *w, *queued;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	queued = p->queue;
	p->queue = NULL;
	p->queue_tail = &p->queue;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	for (w = take_finished(p); w != NULL;) {
		struct work *next = w->next;

		w->done(w);
		w = next;
	}
	while (queued != NULL) {
		w = queued;
		queued = w->next;
		w->cancelled = true;
		w->done(w);
	}
	if (p->ev != NULL)
		event_free(p->ev);
	if (p->efd >= 0)
		close(p->efd);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
