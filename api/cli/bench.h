/* bench: ember bench's samples and its report (percentiles, histogram, JSON, CSV); the runs are cmd_bench.c's.
 *
 * Contract:
 * - struct bench is one `ember bench` run: its settings, and n samples that
 *   cmd_bench.c fills (one per request, in slot order).
 * - A sample is counted when it answered 200, the function did not fail, and
 *   the REPORT line shows the start kind that was asked for; the others are
 *   tallied as throttled (429), failed, or another start kind.
 * - cli_bench_summarize() sorts the counted latencies into m->v (the caller
 *   frees it) and takes nearest-rank percentiles; NaN where nothing counted.
 * - cli_bench_print() writes the method, the percentiles, the phases and a
 *   histogram on stdout; cli_bench_write_json() / _csv() write every sample
 *   ("-": stdout) and return 0 or a negative errno (with a message).
 * Thread: main. */
#ifndef EMBER_CLI_BENCH_H
#define EMBER_CLI_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/cli/http.h"

#define BENCH_PATH_LEN	768
#define BENCH_BAR_WIDTH 40

enum bench_mode { MODE_WARM, MODE_RESTORE, MODE_COLD };
extern const char *const cli_bench_modes[]; /* "warm", "restore", "cold" */

/* The phases of a start that emberd reports in X-Ember-Start-Phases. */
enum bench_phase { PHASE_SPAWN, PHASE_VM, PHASE_CONNECT, PHASE_INIT, BENCH_PHASES };
extern const char *const cli_bench_phases[]; /* "spawn", "vm", "connect", "init" */

struct sample {
	double ms;		       /* request sent -> response read, CLOCK_MONOTONIC */
	double init_ms;		       /* REPORT's Init or Restore Duration, or -1 */
	double duration_ms;	       /* REPORT's Duration (the handler), or -1 */
	int start;		       /* enum mode as REPORT shows it, -1: no REPORT line */
	double phase_ms[BENCH_PHASES]; /* from X-Ember-Start-Phases, or -1 */
	long status;		       /* HTTP status; 0: no answer */
	bool standby;		       /* a restore on a VMM spawned ahead */
	bool fn_error;
};

struct bench {
	const struct cli_conn *c;
	char invoke_path[BENCH_PATH_LEN], name_esc[512];
	const char *name, *payload;
	size_t payload_len;
	enum bench_mode mode;
	unsigned n, conc, warmup;
	struct sample *s;
	atomic_uint next, done;
	bool progress, drawn;
	double t0;
};

struct summary {
	size_t ok, mismatched, throttled, failed;
	double p50, p90, p99, min, max, mean, init_p50, fn_p50;
	double phase_p50[BENCH_PHASES]; /* NaN where no sample had the phase */
	size_t standby;			/* counted restores on a standby VMM */
	double *v;			/* the counted samples' ms, sorted */
};

int cli_bench_summarize(const struct bench *b, struct summary *m);
void cli_bench_print(const struct bench *b, const struct summary *m, double wall_ms);
int cli_bench_write_json(const struct bench *b, const struct summary *m, double wall_ms,
			 const char *path);
int cli_bench_write_csv(const struct bench *b, const char *path);

#endif
