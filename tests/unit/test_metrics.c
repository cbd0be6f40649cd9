/* Unit tests for api/metrics/metrics.c: counters by function and outcome, cumulative histogram buckets, the gauges passed in, stable order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/metrics/metrics.h"

static char *render(const struct metrics *m, const struct metrics_gauges *g)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	assert_int_equal(metrics_write(m, g, out), 0);
	assert_int_equal(fclose(out), 0);
	return text;
}

/* The value of the line that starts with series + " ". */
static double sample(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	}
	fail_msg("no series %s", series);
	return -1;
}

static void test_counts_and_histograms(void **state)
{
	struct metrics *m = NULL;
	struct metrics_instances inst[] = { { .name = "b", .idle = 2, .busy = 1, .standby = 1 } };
	struct metrics_gauges g = {
		.inst = inst,
		.ninst = 1,
		.memory_used_mib = 3,
		.memory_budget_mib = 1024,
		.queue_depth = 7,
		.queue_oldest_age_s = 1.5,
		.events_failed = 2,
		.snapshots_taken = 1,
	};
	char *text;

	(void)state;
	assert_int_equal(metrics_new(&m), 0);
	metrics_invocation(m, "b", INVOKE_OK, 0.7);  /* 0.0007 s: the 0.001 bucket */
	metrics_invocation(m, "b", INVOKE_OK, 30.0); /* 0.03 s: the 0.05 bucket */
	metrics_invocation(m, "b", INVOKE_FUNCTION_ERROR, 2000.0);
	metrics_invocation(m, "b", INVOKE_THROTTLED, 0); /* no duration */
	metrics_invocation(m, "a", INVOKE_SERVICE_ERROR, 0);
	metrics_start(m, INVOKE_START_COLD, 1200.0);
	metrics_start(m, INVOKE_START_WARM, 0);
	text = render(m, &g);
	assert_true(sample(text, "ember_invocations_total{function=\"b\",outcome=\"ok\"}") == 2);
	assert_true(sample(text,
			   "ember_invocations_total{function=\"b\",outcome=\"function_error\"}") ==
		    1);
	assert_true(sample(text, "ember_throttles_total{function=\"b\"}") == 1);
	assert_true(sample(text, "ember_invocation_errors_total{function=\"b\"}") == 1);
	assert_true(
		sample(text, "ember_invocations_total{function=\"a\",outcome=\"service_error\"}") ==
		1);
	/* Buckets are cumulative; the throttle has no duration. */
	assert_true(
		sample(text,
		       "ember_invocation_duration_seconds_bucket{function=\"b\",le=\"0.0005\"}") ==
		0);
	assert_true(
		sample(text,
		       "ember_invocation_duration_seconds_bucket{function=\"b\",le=\"0.001\"}") ==
		1);
	assert_true(
		sample(text,
		       "ember_invocation_duration_seconds_bucket{function=\"b\",le=\"0.05\"}") ==
		2);
	assert_true(
		sample(text,
		       "ember_invocation_duration_seconds_bucket{function=\"b\",le=\"+Inf\"}") ==
		3);
	assert_true(sample(text, "ember_invocation_duration_seconds_count{function=\"b\"}") == 3);
	assert_true(sample(text, "ember_starts_total{kind=\"cold\"}") == 1);
	assert_true(sample(text, "ember_starts_total{kind=\"restore\"}") == 0);
	assert_true(sample(text, "ember_start_duration_seconds_bucket{kind=\"cold\",le=\"1\"}") ==
		    0);
	assert_true(sample(text, "ember_start_duration_seconds_bucket{kind=\"cold\",le=\"2.5\"}") ==
		    1);
	assert_true(sample(text, "ember_instances{function=\"b\",state=\"idle\"}") == 2);
	assert_true(sample(text, "ember_instances{function=\"b\",state=\"busy\"}") == 1);
	assert_true(sample(text, "ember_instances{function=\"b\",state=\"standby\"}") == 1);
	assert_true(sample(text, "ember_memory_budget_bytes") == 1024.0 * 1048576);
	assert_true(sample(text, "ember_event_queue_depth") == 7);
	assert_true(sample(text, "ember_event_oldest_age_seconds") == 1.5);
	assert_true(sample(text, "ember_failed_events_total") == 2);
	assert_true(sample(text, "ember_snapshots_taken_total") == 1);
	/* Functions come out sorted by name (a before b). */
	assert_true(strstr(text, "function=\"a\"") < strstr(text, "function=\"b\""));
	free(text);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_and_histograms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
