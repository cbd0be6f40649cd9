/* Unit tests for api/cli/bench_report.c: which samples count, nearest-rank percentiles, the JSON and CSV of every sample. */
#include <cjson/cJSON.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/cli/bench.h"

#define N 104

static struct sample samples[N];

/* 100 restores of 1..100 ms, then one of each kind that must not count. */
static void fill(struct bench *b, struct cli_conn *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->socket, sizeof(c->socket), "/nonexistent/ember.sock");
	memset(b, 0, sizeof(*b));
	b->c = c;
	b->name = "f";
	b->mode = MODE_RESTORE;
	b->n = N;
	b->conc = 1;
	b->s = samples;
	for (int i = 0; i < 100; i++)
		samples[i] = (struct sample){ .ms = 100 - i,
					      .init_ms = 10,
					      .duration_ms = 1,
					      .start = MODE_RESTORE,
					      .status = 200,
					      /* spawn 1..100 ms, no vm phase reported */
					      .phase_ms = { 1 + i, -1, 0.5, 2 } };
	samples[100] = (struct sample){
		.ms = 5000, .init_ms = -1, .duration_ms = 2, .start = MODE_WARM, .status = 200
	};
	samples[101] = (struct sample){ .ms = 5000, .start = -1, .status = 429 };
	samples[102] = (struct sample){
		.ms = 5000, .start = MODE_RESTORE, .status = 200, .fn_error = true
	};
	samples[103] = (struct sample){ .ms = 0, .start = -1, .status = 0 };
}

static void test_summary_counts_only_the_kind_asked_for(void **state)
{
	struct cli_conn c;
	struct bench b;
	struct summary m;

	(void)state;
	fill(&b, &c);
	assert_int_equal(cli_bench_summarize(&b, &m), 0);
	assert_int_equal(m.ok, 100);
	assert_int_equal(m.mismatched, 1);
	assert_int_equal(m.throttled, 1);
	assert_int_equal(m.failed, 2); /* the function error and the missing answer */
	/* Nearest rank over 1..100 ms: the slow excluded samples change nothing. */
	assert_true(m.p50 == 50 && m.p90 == 90 && m.p99 == 99);
	assert_true(m.min == 1 && m.max == 100 && m.mean == 50.5);
	assert_true(m.init_p50 == 10 && m.fn_p50 == 1);
	/* Phases over the counted samples that carry them; none: NaN. */
	assert_true(m.phase_p50[PHASE_SPAWN] == 50 && m.phase_p50[PHASE_CONNECT] == 0.5 &&
		    m.phase_p50[PHASE_INIT] == 2);
	assert_true(isnan(m.phase_p50[PHASE_VM]));
	for (size_t i = 1; i < m.ok; i++)
		assert_true(m.v[i - 1] <= m.v[i]);
	free(m.v);

	b.mode = MODE_WARM; /* nothing was warm but one: percentiles of one sample */
	assert_int_equal(cli_bench_summarize(&b, &m), 0);
	assert_int_equal(m.ok, 1);
	assert_true(m.p50 == 5000 && m.p99 == 5000);
	assert_true(isnan(m.init_p50));
	free(m.v);
}

static void test_json_and_csv_keep_every_sample(void **state)
{
	char path[] = "/tmp/ember-bench-test-XXXXXX";
	struct cli_conn c;
	struct bench b;
	struct summary m;
	char *text, line[256];
	cJSON *j;
	FILE *f;
	int fd, rows = 0;
	long len;

	(void)state;
	fill(&b, &c);
	assert_int_equal(cli_bench_summarize(&b, &m), 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(cli_bench_write_json(&b, &m, 1000, path), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	j = cJSON_Parse(text);
	assert_non_null(j);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "samples")), N);
	assert_string_equal(cJSON_GetObjectItem(j, "mode")->valuestring, "restore");
	assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "summary"), "p50_ms")->valuedouble ==
		    50);
	assert_true(cJSON_GetObjectItem(j, "per_second")->valuedouble == 100);
	{
		cJSON *ph = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "summary"), "phases_p50_ms");

		assert_true(cJSON_GetObjectItem(ph, "spawn")->valuedouble == 50);
		assert_true(cJSON_IsNull(cJSON_GetObjectItem(ph, "vm")));
		ph = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "samples"), 0),
					 "phases_ms");
		assert_true(cJSON_GetObjectItem(ph, "init")->valuedouble == 2);
	}
	cJSON_Delete(j);
	free(text);

	assert_int_equal(cli_bench_write_csv(&b, path), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		rows++;
	fclose(f);
	assert_int_equal(rows, N + 1); /* a header, then one row per sample */
	unlink(path);
	free(m.v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_summary_counts_only_the_kind_asked_for),
		cmocka_unit_test(test_json_and_csv_keep_every_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
