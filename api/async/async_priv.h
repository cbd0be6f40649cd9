/* async_priv: the event queue's state, shared by async.c (accepting, configs, lifecycle) and dispatch.c (running events, retries, the failed record). Not a contract for anyone else. */
#ifndef EMBER_API_ASYNC_PRIV_H
#define EMBER_API_ASYNC_PRIV_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "api/async/async.h"

#define THROTTLE_DELAY_MS   1000 /* a throttled or refused event waits this long (at most) */
#define SERVICE_BACKOFF_MAX 8	 /* emberd's own errors: the wait doubles up to 2^7 x */
#define CONFIGS_MAX	    4096

struct aev {
	struct evrow row;
	struct async *a;
	TAILQ_ENTRY(aev) link;
	bool running;
	unsigned svc_failures; /* emberd's own errors in a row (in memory only) */
};

/* An event being accepted: committed with the others of its loop turn. */
struct pending {
	struct aev *ev;
	uint8_t *payload;
	size_t len;
	void (*done)(void *arg, int ret);
	void *arg;
	struct pending *next;
};

/* A function whose events wait: it was throttled until `until`. */
struct hold {
	char name[FN_NAME_MAX + 1];
	int64_t until;
};

TAILQ_HEAD(aev_list, aev);

struct async {
	struct event_base *base;
	struct store *store;
	struct invoker *inv;
	struct evdb *db;
	char home[PATH_MAX];
	int64_t retry_base_ms;
	unsigned concurrency;
	struct aev_list ready;	 /* due now, oldest first */
	struct aev_list delayed; /* waiting for next_ms, soonest first */
	struct aev_list running;
	uint64_t nready, ndelayed, nrunning;
	struct event *kick, *timer, *commit_ev;
	struct pending *batch, **batch_tail;
	struct hold *holds;
	unsigned nholds;
	bool stopping;
	struct evconfig *configs;
	unsigned nconfigs;
	struct async_stats st;
};

/* dispatch.c */
int64_t async_now_ms(void);
void async_add_ready(struct async *a, struct aev *ev);
void async_add_delayed(struct async *a, struct aev *ev);
void async_kick(struct async *a);
void async_on_kick(evutil_socket_t fd, short what, void *arg);
/* async.c: the retry limits of an event (its qualifier's config, or Lambda's defaults). */
void async_limits(const struct async *a, const struct evrow *row, unsigned *retries,
		  unsigned *max_age_s);

#endif
