/* invoke_priv: the invoker's state, shared by invoke.c (calls, the pool's callbacks) and report.c (the log lines of a call). Not a contract for anyone else. */
#ifndef EMBER_API_INVOKE_PRIV_H
#define EMBER_API_INVOKE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <time.h>

#include "api/invoke/invoke.h"
#include "api/pool/pool.h"
#include "lib/gproto/gproto.h"

struct tail {
	char buf[INVOKE_TAIL_BYTES];
	size_t pos;
	bool wrapped;
};

struct call {
	struct pool_job job;
	struct invoker *inv;
	struct call *next, *prev; /* the invoker's throttled list */
	char request_id[GPROTO_REQUEST_ID_MAX + 1];
	char *invoked_arn, *client_context;
	uint8_t *payload;
	size_t payload_len;
	void (*done)(void *arg, const struct invoke_result *res);
	void *arg;
	struct tail *tail; /* with want_tail */
	enum invoke_start start;
	struct pool_phases phases; /* when start is not warm; total_ms is init_ms */
	uint64_t t_start_ns;
	uint64_t peak_mem;
	bool started; /* START was logged */
	bool counted; /* in inv->active */
	bool event;   /* req->event */
	const char *reason;
	struct event *ev; /* a throttled call's answer */
};

struct invoker {
	struct event_base *base;
	struct pool_set *pools;
	struct fnlog_set *logs;
	struct metrics *metrics;
	struct call *throttled;
	unsigned active; /* calls submitted and not yet done */
	struct event *idle_ev;
	void (*idle_cb)(void *arg);
	void *idle_arg;
};

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* report.c: START, the function's lines, END and REPORT, into the
 * function's log and the call's tail. */
void invoke_log_lines(struct call *c, const struct iovec *iov, int n);
void invoke_log_text(struct call *c, const char *text, size_t len);
void invoke_log_start(struct call *c);
/* END and REPORT; returns the duration in ms. */
double invoke_log_end(struct call *c);
/* "2026-11-27T06:33:56.842Z" */
void invoke_iso_now(char *out, size_t cap);
/* The tail as a C string (out: INVOKE_TAIL_BYTES + 1). */
void invoke_tail_string(const struct tail *t, char *out);

#endif
