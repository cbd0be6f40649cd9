/* bench_report: ember bench's numbers: percentiles, the terminal histogram, JSON and CSV (see bench.h). */
#include "api/cli/bench.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h> /* NAN, isnan: macros, no libm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_HIST_ROWS 12

const char *const cli_bench_modes[] = { "warm", "restore", "cold" };
const char *const cli_bench_phases[] = { "spawn", "vm", "connect", "init" };

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v. */
static double pct(const double *v, size_t n, double p)
{
	double x = p / 100.0 * (double)n;
	size_t rank = (size_t)x + ((double)(size_t)x < x); /* ceil, without libm */

	return n == 0 ? NAN : v[rank > 0 ? rank - 1 : 0];
}

static bool counted(const struct bench *b, const struct sample *s)
{
	return s->status == 200 && !s->fn_error && s->start == (int)b->mode;
}

/* The p50 of phase k over the counted samples that have it. */
static double phase_p50(const struct bench *b, int k, double *scratch)
{
	size_t n = 0;

	for (unsigned i = 0; i < b->n; i++)
		if (counted(b, &b->s[i]) && b->s[i].phase_ms[k] >= 0)
			scratch[n++] = b->s[i].phase_ms[k];
	qsort(scratch, n, sizeof(double), cmp_double);
	return pct(scratch, n, 50);
}

int cli_bench_summarize(const struct bench *b, struct summary *m)
{
	double *init = calloc(b->n + 1, sizeof(double)), *fn = calloc(b->n + 1, sizeof(double));
	size_t ni = 0, nf = 0;

	memset(m, 0, sizeof(*m));
	m->v = calloc(b->n + 1, sizeof(double));
	if (m->v == NULL || init == NULL || fn == NULL) {
		free(m->v), free(init), free(fn);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < b->n; i++) {
		const struct sample *s = &b->s[i];

		if (s->status == 429)
			m->throttled++;
		else if (s->status != 200 || s->fn_error)
			m->failed++;
		else if (!counted(b, s))
			m->mismatched++;
		if (!counted(b, s))
			continue;
		m->v[m->ok++] = s->ms;
		m->mean += s->ms;
		m->standby += s->standby;
		if (s->init_ms >= 0)
			init[ni++] = s->init_ms;
		if (s->duration_ms >= 0)
			fn[nf++] = s->duration_ms;
	}
	qsort(m->v, m->ok, sizeof(double), cmp_double);
	qsort(init, ni, sizeof(double), cmp_double);
	qsort(fn, nf, sizeof(double), cmp_double);
	m->p50 = pct(m->v, m->ok, 50);
	m->p90 = pct(m->v, m->ok, 90);
	m->p99 = pct(m->v, m->ok, 99);
	m->min = m->ok ? m->v[0] : NAN;
	m->max = m->ok ? m->v[m->ok - 1] : NAN;
	m->mean = m->ok ? m->mean / (double)m->ok : NAN;
	m->init_p50 = pct(init, ni, 50);
	m->fn_p50 = pct(fn, nf, 50);
	for (int k = 0; k < BENCH_PHASES; k++)
		m->phase_p50[k] = phase_p50(b, k, init);
	free(init);
	free(fn);
	return 0;
}

/* Even buckets from min to p99, and one row for the slowest 1%: a few slow
 * starts would otherwise squeeze everything into the first row. */
static void histogram(const struct summary *m)
{
	unsigned count[BENCH_HIST_ROWS + 1] = { 0 }, most = 1, rows = BENCH_HIST_ROWS;
	double lo = m->min, hi = m->p99, step;

	if (m->ok < 2 || !(hi > lo))
		return;
	step = (hi - lo) / rows;
	for (size_t i = 0; i < m->ok; i++) {
		double k = (m->v[i] - lo) / step;

		count[m->v[i] > hi ? rows : k >= rows ? rows - 1 : (unsigned)k]++;
	}
	for (unsigned k = 0; k <= rows; k++)
		most = count[k] > most ? count[k] : most;
	printf("\n");
	for (unsigned k = 0; k <= rows; k++) {
		unsigned len = count[k] * BENCH_BAR_WIDTH / most;

		if (k == rows && count[k] == 0)
			break;
		printf("  %s%10.2f ms | %.*s%s %u\n", k == rows ? ">" : " ",
		       k == rows ? hi : lo + step * k, (int)len,
		       "########################################", count[k] && !len ? "." : "",
		       count[k]);
	}
}

void cli_bench_print(const struct bench *b, const struct summary *m, double wall_ms)
{
	const char *where = b->c->endpoint[0] ? b->c->endpoint : b->c->socket;

	printf("ember bench %s: %s starts, %u requests, concurrency %u, %.1f s\n", b->name,
	       cli_bench_modes[b->mode], b->n, b->conc, wall_ms / 1e3);
	printf("method: client-side CLOCK_MONOTONIC, request sent -> response read, over %s;\n"
	       "        warm-up (%u round(s)) excluded; %s; start kind from the REPORT line\n",
	       where, b->warmup,
	       b->mode == MODE_WARM   ? "instances kept warm"
	       : b->mode == MODE_COLD ? "before each round: idle instances and snapshots dropped"
				      : "before each round: idle instances stopped, snapshot kept");
	printf("counted: %zu   other start kind: %zu   throttled: %zu   failed: %zu\n", m->ok,
	       m->mismatched, m->throttled, m->failed);
	if (m->ok == 0)
		return;
	printf("latency ms: p50 %.2f  p90 %.2f  p99 %.2f  min %.2f  max %.2f  mean %.2f\n", m->p50,
	       m->p90, m->p99, m->min, m->max, m->mean);
	if (b->mode != MODE_WARM) {
		printf("phases p50 ms: %s %.2f (emberd: spawn to READY)  handler %.2f  "
		       "rest (API, queueing, transport) %.2f\n",
		       b->mode == MODE_COLD ? "init" : "restore", m->init_p50, m->fn_p50,
		       m->p50 - m->init_p50 - m->fn_p50);
		/* X-Ember-Start-Phases: where spawn to READY went. */
		printf("  of which: spawn %.2f  %s %.2f  connect %.2f  %s %.2f\n",
		       m->phase_p50[PHASE_SPAWN], b->mode == MODE_COLD ? "boot" : "load+resume",
		       m->phase_p50[PHASE_VM], m->phase_p50[PHASE_CONNECT],
		       b->mode == MODE_COLD ? "INIT to READY" : "RESTORE to READY",
		       m->phase_p50[PHASE_INIT]);
		if (b->mode == MODE_RESTORE)
			printf("  %zu of %zu restores took a standby VMM (spawned ahead; emberd "
			       "--no-standby spawns each one on demand)\n",
			       m->standby, m->ok);
	}
	printf("%s: %.1f per second\n", b->mode == MODE_WARM ? "throughput" : "starts",
	       (double)m->ok * 1e3 / wall_ms);
	histogram(m);
}

int cli_bench_write_json(const struct bench *b, const struct summary *m, double wall_ms,
			 const char *path)
{
	cJSON *o = cJSON_CreateObject(), *sum, *arr;
	FILE *f;
	char *text;
	int ret = -ENOMEM;

	if (o == NULL)
		return -ENOMEM;
	cJSON_AddStringToObject(o, "function", b->name);
	cJSON_AddStringToObject(o, "mode", cli_bench_modes[b->mode]);
	cJSON_AddNumberToObject(o, "requests", b->n);
	cJSON_AddNumberToObject(o, "concurrency", b->conc);
	cJSON_AddNumberToObject(o, "warmup", b->warmup);
	cJSON_AddStringToObject(o, "clock", "CLOCK_MONOTONIC, client side");
	cJSON_AddStringToObject(o, "endpoint", b->c->endpoint[0] ? b->c->endpoint : b->c->socket);
	cJSON_AddNumberToObject(o, "wall_ms", wall_ms);
	cJSON_AddNumberToObject(o, "per_second", m->ok ? (double)m->ok * 1e3 / wall_ms : 0);
	sum = cJSON_AddObjectToObject(o, "summary");
	if (sum != NULL) {
		const double v[] = { m->p50, m->p90,  m->p99,	   m->min,
				     m->max, m->mean, m->init_p50, m->fn_p50 };
		static const char *const k[] = { "p50_ms",	"p90_ms",	 "p99_ms",
						 "min_ms",	"max_ms",	 "mean_ms",
						 "init_p50_ms", "handler_p50_ms" };

		for (int i = 0; i < 8; i++)
			if (isnan(v[i]))
				cJSON_AddNullToObject(sum, k[i]);
			else
				cJSON_AddNumberToObject(sum, k[i], v[i]);
		cJSON *ph = cJSON_AddObjectToObject(sum, "phases_p50_ms");

		for (int i = 0; ph != NULL && i < BENCH_PHASES; i++)
			if (isnan(m->phase_p50[i]))
				cJSON_AddNullToObject(ph, cli_bench_phases[i]);
			else
				cJSON_AddNumberToObject(ph, cli_bench_phases[i], m->phase_p50[i]);
		cJSON_AddNumberToObject(sum, "counted", (double)m->ok);
		cJSON_AddNumberToObject(sum, "standby_starts", (double)m->standby);
		cJSON_AddNumberToObject(sum, "other_start", (double)m->mismatched);
		cJSON_AddNumberToObject(sum, "throttled", (double)m->throttled);
		cJSON_AddNumberToObject(sum, "failed", (double)m->failed);
	}
	arr = cJSON_AddArrayToObject(o, "samples");
	for (unsigned i = 0; arr != NULL && i < b->n; i++) {
		const struct sample *s = &b->s[i];
		cJSON *e = cJSON_CreateObject();

		if (e == NULL || !cJSON_AddItemToArray(arr, e))
			break;
		cJSON_AddNumberToObject(e, "ms", s->ms);
		cJSON_AddStringToObject(e, "start",
					s->start >= 0 ? cli_bench_modes[s->start] : "none");
		cJSON_AddNumberToObject(e, "init_ms", s->init_ms);
		cJSON_AddNumberToObject(e, "handler_ms", s->duration_ms);
		if (s->phase_ms[PHASE_INIT] >= 0) {
			cJSON *ph = cJSON_AddObjectToObject(e, "phases_ms");

			for (int k = 0; ph != NULL && k < BENCH_PHASES; k++)
				cJSON_AddNumberToObject(ph, cli_bench_phases[k], s->phase_ms[k]);
			cJSON_AddBoolToObject(e, "standby", s->standby);
		}
		cJSON_AddNumberToObject(e, "status", (double)s->status);
		cJSON_AddBoolToObject(e, "function_error", s->fn_error);
	}
	text = cJSON_Print(o);
	f = text != NULL ? (strcmp(path, "-") == 0 ? stdout : fopen(path, "w")) : NULL;
	if (f != NULL) {
		ret = fprintf(f, "%s\n", text) < 0 ? -EIO : 0;
		if (f != stdout && fclose(f) != 0)
			ret = -EIO;
	} else if (text != NULL) {
		ret = -errno;
	}
	if (ret < 0)
		fprintf(stderr, "ember bench: cannot write %s: %s\n", path, strerror(-ret));
	free(text);
	cJSON_Delete(o);
	return ret;
}

int cli_bench_write_csv(const struct bench *b, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
	int ret = 0;

	if (f == NULL) {
		fprintf(stderr, "ember bench: cannot write %s: %s\n", path, strerror(errno));
		return -errno;
	}
	fprintf(f, "i,ms,start,init_ms,handler_ms,status,function_error\n");
	for (unsigned i = 0; i < b->n; i++) {
		const struct sample *s = &b->s[i];

		fprintf(f, "%u,%.3f,%s,%.3f,%.3f,%ld,%d\n", i, s->ms,
			s->start >= 0 ? cli_bench_modes[s->start] : "none", s->init_ms,
			s->duration_ms, s->status, s->fn_error);
	}
	if (ferror(f) || (f != stdout && fclose(f) != 0))
		ret = -EIO;
	return ret;
}