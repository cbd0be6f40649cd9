/* metrics: emberd's counters and histograms, and their Prometheus text exposition (GET /metrics).
 *
 * Contract:
 * - The invoker reports every invocation's outcome once (metrics_invocation,
 *   sync and Event alike) and every start of a job on an instance
 *   (metrics_start: warm, cold or restore, with its init latency).
 * - metrics_write() appends the Prometheus text format (version 0.0.4) of
 *   everything counted here, plus the gauges the caller passes in (struct
 *   metrics_gauges: instances, queue, snapshots, memory), to a memstream.
 *   Label values are function names ([a-zA-Z0-9-_], nothing to escape).
 * - Per-function series are kept for the life of the process (a deleted
 *   function's counters stay, as Prometheus counters must not go back).
 * Errors: metrics_new() -ENOMEM; a series that cannot be allocated is
 * counted in ember_metrics_dropped_total instead. Thread: the loop thread. */
#ifndef EMBER_API_METRICS_H
#define EMBER_API_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "api/invoke/invoke.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics;

/* What is read at scrape time from its owners. */
struct metrics_instances {
	const char *name;
	unsigned starting, idle, busy, draining, standby;
};

struct metrics_gauges {
	const struct metrics_instances *inst; /* one per function name */
	unsigned ninst;
	uint64_t memory_used_mib, memory_budget_mib;
	uint64_t queue_depth, queue_running;
	double queue_oldest_age_s;
	uint64_t events_accepted, events_retries, events_failed, events_succeeded;
	uint64_t events_throttled; /* dispatches refused by a limit or emberd (they wait) */
	uint64_t snapshots_taken, snapshot_fallbacks;
};

int metrics_new(struct metrics **out);
void metrics_free(struct metrics *m);

void metrics_invocation(struct metrics *m, const char *name, enum invoke_outcome outcome,
			double duration_ms);
void metrics_start(struct metrics *m, enum invoke_start kind, double init_ms);

int metrics_write(const struct metrics *m, const struct metrics_gauges *g, FILE *out);

#endif
