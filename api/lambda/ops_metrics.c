/* ops_metrics: GET /metrics: the invoker's counters, the pools' instances, the event queue and SnapStart, in Prometheus's text format. */
#include "api/lambda/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/async/async.h"
#include "api/metrics/metrics.h"

#define INST_MAX 4096 /* function names shown in ember_instances */

struct inst_ctx {
	struct metrics_instances *rows;
	unsigned n;
};

/* Pools are per version: their instances are summed per function name. */
static void add_pool(void *arg, const struct invoker_pool_status *st)
{
	struct inst_ctx *c = arg;
	struct metrics_instances *row = NULL;

	for (unsigned i = 0; i < c->n; i++) {
		if (strcmp(c->rows[i].name, st->name) == 0)
			row = &c->rows[i];
	}
	if (row == NULL) {
		if (c->n == INST_MAX)
			return;
		row = &c->rows[c->n++];
		*row = (struct metrics_instances){ .name = st->name };
	}
	row->starting += st->starting;
	row->idle += st->idle;
	row->busy += st->busy;
	row->draining += st->draining;
	row->standby += st->standby;
}

void op_metrics(struct lreq *r)
{
	struct lambda *l = ops_lambda(r);
	struct metrics_gauges g = { 0 };
	struct inst_ctx ic = { 0 };
	struct async_stats as = { 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *out;
	int ret;

	if (l->metrics == NULL) {
		lreq_error(r, LEXC_RESOURCE_NOT_FOUND, "metrics are off");
		return;
	}
	ic.rows = calloc(INST_MAX, sizeof(*ic.rows));
	out = open_memstream(&text, &len);
	if (ic.rows == NULL || out == NULL) {
		free(ic.rows);
		if (out != NULL)
			fclose(out);
		free(text);
		lreq_error(r, LEXC_SERVICE, "out of memory");
		return;
	}
	/* The names point into the invoker's pools: used before this returns. */
	invoker_status(l->inv, add_pool, &ic, &g.memory_used_mib, &g.memory_budget_mib);
	invoker_snapshot_counts(l->inv, &g.snapshots_taken, &g.snapshot_fallbacks);
	g.inst = ic.rows;
	g.ninst = ic.n;
	if (l->async != NULL)
		async_get_stats(l->async, &as);
	g.queue_depth = as.queued;
	g.queue_running = as.running;
	g.queue_oldest_age_s = as.oldest_age_s;
	g.events_accepted = as.accepted;
	g.events_retries = as.retries;
	g.events_failed = as.failed;
	g.events_succeeded = as.succeeded;
	g.events_throttled = as.throttled;
	ret = metrics_write(l->metrics, &g, out);
	if (fclose(out) != 0 || ret < 0) {
		free(ic.rows);
		free(text);
		lreq_error(r, LEXC_SERVICE, "writing the metrics failed");
		return;
	}
	free(ic.rows);
	lreq_reply_raw(r, 200, METRICS_CONTENT_TYPE, text, len);
	free(text);
}
