/* metrics: counters and histograms kept on the loop, written in Prometheus's text format (see metrics.h). */
#include "api/metrics/metrics.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define OUTCOMES 4
#define STARTS	 3

/* Seconds; the same bounds for invocations and starts (µs .. minutes). */
static const double bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
				 0.25,	 0.5,	1,	2.5,   5,    10,    30,	  60 };
#define NBOUNDS (sizeof(bounds) / sizeof(bounds[0]))

static const char *const outcome_names[OUTCOMES] = {
	[INVOKE_OK] = "ok",
	[INVOKE_FUNCTION_ERROR] = "function_error",
	[INVOKE_THROTTLED] = "throttled",
	[INVOKE_SERVICE_ERROR] = "service_error",
};

static const char *const start_names[STARTS] = {
	[INVOKE_START_WARM] = "warm",
	[INVOKE_START_COLD] = "cold",
	[INVOKE_START_RESTORE] = "restore",
};

struct hist {
	uint64_t buckets[NBOUNDS]; /* not cumulative; summed when written */
	uint64_t count;
	double sum;
};

struct series {
	char name[FN_NAME_MAX + 1];
	uint64_t outcomes[OUTCOMES];
	struct hist duration;
	struct series *next;
};

struct metrics {
	struct series *fns; /* sorted by name, so the output is stable */
	uint64_t starts[STARTS];
	struct hist start_latency[STARTS];
	uint64_t dropped;
};

int metrics_new(struct metrics **out)
{
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? 0 : -ENOMEM;
}

void metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	while (m->fns != NULL) {
		struct series *s = m->fns;

		m->fns = s->next;
		free(s);
	}
	free(m);
}

static void observe(struct hist *h, double seconds)
{
	for (size_t i = 0; i < NBOUNDS; i++) {
		if (seconds <= bounds[i]) {
			h->buckets[i]++;
			break;
		}
	}
	h->count++;
	h->sum += seconds;
}

static struct series *series_of(struct metrics *m, const char *name)
{
	struct series **at = &m->fns, *s;
	int c = 1;

	while (*at != NULL && (c = strcmp((*at)->name, name)) < 0)
		at = &(*at)->next;
	if (*at != NULL && c == 0)
		return *at;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->next = *at;
	*at = s;
	return s;
}

void metrics_invocation(struct metrics *m, const char *name, enum invoke_outcome outcome,
			double duration_ms)
{
	struct series *s;

	if (m == NULL)
		return;
	s = series_of(m, name);
	if (s == NULL || (unsigned)outcome >= OUTCOMES) {
		m->dropped++;
		return;
	}
	s->outcomes[outcome]++;
	/* Only invocations that ran have a duration. */
	if (outcome == INVOKE_OK || outcome == INVOKE_FUNCTION_ERROR)
		observe(&s->duration, duration_ms / 1e3);
}

void metrics_start(struct metrics *m, enum invoke_start kind, double init_ms)
{
	if (m == NULL || (unsigned)kind >= STARTS)
		return;
	m->starts[kind]++;
	observe(&m->start_latency[kind], init_ms / 1e3);
}

static void header(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram's series; labels: `key="value"` or "". */
static void write_hist(FILE *out, const char *name, const char *labels, const struct hist *h)
{
	uint64_t cum = 0;
	const char *sep = labels[0] ? "," : "";

	for (size_t i = 0; i < NBOUNDS; i++) {
		cum += h->buckets[i];
		fprintf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, bounds[i],
			(unsigned long long)cum);
	}
	fprintf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
		(unsigned long long)h->count);
	fprintf(out, "%s_sum{%s} %.6f\n", name, labels, h->sum);
	fprintf(out, "%s_count{%s} %llu\n", name, labels, (unsigned long long)h->count);
}

static void counter(FILE *out, const char *name, const char *help, uint64_t v)
{
	header(out, name, "counter", help);
	fprintf(out, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(FILE *out, const char *name, const char *help, double v)
{
	header(out, name, "gauge", help);
	fprintf(out, "%s %.17g\n", name, v);
}

static void write_invocations(const struct metrics *m, FILE *out)
{
	const struct series *s;
	char labels[FN_NAME_MAX + 16];

	header(out, "ember_invocations_total", "counter",
	       "Invocations by function and outcome (sync and Event).");
	for (s = m->fns; s != NULL; s = s->next) {
		for (int o = 0; o < OUTCOMES; o++)
			fprintf(out,
				"ember_invocations_total{function=\"%s\",outcome=\"%s\"} %llu\n",
				s->name, outcome_names[o], (unsigned long long)s->outcomes[o]);
	}
	header(out, "ember_invocation_errors_total", "counter",
	       "Invocations that ended in a function error (incl. timeouts and crashes).");
	for (s = m->fns; s != NULL; s = s->next)
		fprintf(out, "ember_invocation_errors_total{function=\"%s\"} %llu\n", s->name,
			(unsigned long long)s->outcomes[INVOKE_FUNCTION_ERROR]);
	header(out, "ember_throttles_total", "counter",
	       "Invocations refused by a concurrency or memory limit (429).");
	for (s = m->fns; s != NULL; s = s->next)
		fprintf(out, "ember_throttles_total{function=\"%s\"} %llu\n", s->name,
			(unsigned long long)s->outcomes[INVOKE_THROTTLED]);
	header(out, "ember_invocation_duration_seconds", "histogram",
	       "The function's run time, as in REPORT's Duration.");
	for (s = m->fns; s != NULL; s = s->next) {
		snprintf(labels, sizeof(labels), "function=\"%s\"", s->name);
		write_hist(out, "ember_invocation_duration_seconds", labels, &s->duration);
	}
}

static void write_starts(const struct metrics *m, FILE *out)
{
	char labels[32];

	header(out, "ember_starts_total", "counter",
	       "Jobs started on an instance by kind: warm, cold boot, or snapshot restore.");
	for (int k = 0; k < STARTS; k++)
		fprintf(out, "ember_starts_total{kind=\"%s\"} %llu\n", start_names[k],
			(unsigned long long)m->starts[k]);
	header(out, "ember_start_duration_seconds", "histogram",
	       "Spawn to READY for cold and restore starts (0 for warm ones).");
	for (int k = 0; k < STARTS; k++) {
		snprintf(labels, sizeof(labels), "kind=\"%s\"", start_names[k]);
		write_hist(out, "ember_start_duration_seconds", labels, &m->start_latency[k]);
	}
}

static void write_instances(const struct metrics_gauges *g, FILE *out)
{
	static const char *const states[] = { "starting", "idle", "busy", "draining", "standby" };

	header(out, "ember_instances", "gauge", "Instances by function and state.");
	for (unsigned i = 0; i < g->ninst; i++) {
		const unsigned v[] = { g->inst[i].starting, g->inst[i].idle, g->inst[i].busy,
				       g->inst[i].draining, g->inst[i].standby };

		for (size_t j = 0; j < 5; j++)
			fprintf(out, "ember_instances{function=\"%s\",state=\"%s\"} %u\n",
				g->inst[i].name, states[j], v[j]);
	}
}

int metrics_write(const struct metrics *m, const struct metrics_gauges *g, FILE *out)
{
	write_invocations(m, out);
	write_starts(m, out);
	write_instances(g, out);
	gauge(out, "ember_memory_budget_used_bytes",
	      "Memory reserved by instances (MemorySize + overhead each).",
	      (double)g->memory_used_mib * 1048576.0);
	gauge(out, "ember_memory_budget_bytes", "The memory budget (--memory-budget).",
	      (double)g->memory_budget_mib * 1048576.0);
	gauge(out, "ember_event_queue_depth", "Event invocations queued (incl. awaiting a retry).",
	      (double)g->queue_depth);
	gauge(out, "ember_event_running", "Event invocations running now.",
	      (double)g->queue_running);
	gauge(out, "ember_event_oldest_age_seconds",
	      "Age of the oldest queued or running Event invocation (0 if none).",
	      g->queue_oldest_age_s);
	counter(out, "ember_events_accepted_total", "Event invocations accepted (202, durable).",
		g->events_accepted);
	counter(out, "ember_events_succeeded_total", "Event invocations that ran to a result.",
		g->events_succeeded);
	counter(out, "ember_event_throttles_total",
		"Event dispatches refused by a limit or by emberd itself; the event waits and "
		"runs later (not invocations).",
		g->events_throttled);
	counter(out, "ember_event_retries_total", "Event attempts that failed and were retried.",
		g->events_retries);
	counter(out, "ember_failed_events_total",
		"Event invocations moved to the failed record (retries or age exhausted).",
		g->events_failed);
	counter(out, "ember_snapshots_taken_total", "SnapStart snapshots taken and stored.",
		g->snapshots_taken);
	counter(out, "ember_snapshot_fallbacks_total",
		"Versions that fell back to cold starts (a snapshot failed to take or restore).",
		g->snapshot_fallbacks);
	counter(out, "ember_metrics_dropped_total", "Observations lost for want of memory.",
		m->dropped);
	return ferror(out) ? -EIO : 0;
}
