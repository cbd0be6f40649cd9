/* cmd_bench: ember bench: cold, restore or warm starts of one function through emberd, timed from the client. */
#include "api/cli/commands.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/cli/bench.h"
#include "api/cli/zipdir.h"
#include "api/code/digest.h"

#define BENCH_PAYLOAD_MAX 6291456u /* Lambda's synchronous payload limit */
#define BENCH_N_MAX	  1000000
#define BENCH_C_MAX	  1024
#define BENCH_SETTLE_S	  120 /* stop-idle -> no instance left (or a snapshot stored) */
#define BENCH_NO_SNAP_S	  60  /* no instance and no snapshot for this long: none comes */
#define BENCH_WARM_EXTRA  10  /* warm-up rounds beyond --warmup to reach conc instances */
#define BENCH_POLL_NS	  10000000L
#define BENCH_BAR_NS	  100000000L /* the progress bar's redraw */

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* "<key>: 12.34 ms" inside the REPORT line, or -1. */
static double report_field(const char *report, const char *key)
{
	const char *p = strstr(report, key);

	return p != NULL ? strtod(p + strlen(key), NULL) : -1;
}

static void parse_tail(const char *b64, struct sample *s)
{
	uint8_t *log;
	size_t len;
	const char *rep;

	s->start = -1;
	s->init_ms = s->duration_ms = -1;
	if (b64[0] == '\0' || digest_b64_decode(b64, strlen(b64), &log, &len) < 0)
		return;
	/* The tail is NUL-free text; make it a string. */
	char *text = realloc(log, len + 1);

	if (text == NULL) {
		free(log);
		return;
	}
	text[len] = '\0';
	rep = strstr(text, "REPORT RequestId:");
	if (rep != NULL) {
		s->duration_ms = report_field(rep, "\tDuration: ");
		if ((s->init_ms = report_field(rep, "Init Duration: ")) >= 0)
			s->start = MODE_COLD;
		else if ((s->init_ms = report_field(rep, "Restore Duration: ")) >= 0)
			s->start = MODE_RESTORE;
		else
			s->start = MODE_WARM;
	}
	free(text);
}

/* "restore spawn=0.91 vm=1.80 connect=0.20 init=0.35 total=3.26": each
 * phase's ms, -1 for a phase the header does not name (a warm start has none);
 * "restore standby ...": the VMM was spawned ahead. */
static void parse_phases(const char *v, struct sample *s)
{
	char key[16];

	s->standby = strncmp(v, "restore standby ", strlen("restore standby ")) == 0;
	for (int i = 0; i < BENCH_PHASES; i++) {
		const char *p;

		snprintf(key, sizeof(key), " %s=", cli_bench_phases[i]);
		p = strstr(v, key);
		s->phase_ms[i] = p != NULL ? strtod(p + strlen(key), NULL) : -1;
	}
}

static void invoke_one(struct bench *b, struct sample *s)
{
	static const char *const hdrs[] = { "X-Amz-Log-Type: Tail", NULL };
	struct cli_resp r;
	double t = now_ms();

	memset(s, 0, sizeof(*s));
	s->start = -1;
	parse_phases("", s);
	if (cli_request(b->c, "POST", b->invoke_path, b->payload, b->payload_len, hdrs, &r) < 0)
		return;
	s->ms = now_ms() - t;
	s->status = r.status;
	s->fn_error = r.function_error[0] != '\0';
	parse_tail(r.log_result, s);
	parse_phases(r.start_phases, s);
	cli_resp_free(&r);
}

static void progress(struct bench *b)
{
	unsigned done = atomic_load(&b->done), fill;

	if (!b->progress)
		return;
	if (!b->drawn && (now_ms() - b->t0 < 1000 || done >= b->n))
		return; /* runs shorter than a second draw no bar */
	b->drawn = true;
	fill = b->n ? done * BENCH_BAR_WIDTH / b->n : 0;
	fprintf(stderr, "\r[%.*s%*s] %u/%u%s", (int)fill,
		"########################################", (int)(BENCH_BAR_WIDTH - fill), "", done,
		b->n, done >= b->n ? "\n" : "");
	if (done >= b->n)
		b->progress = false;
}

/* One run of threads. A round's k requests start together: the threads wait
 * until `open`. Each thread counts itself out in `exited` as it ends, which
 * is what the caller waits for (never a count of samples: a fast answer, a
 * 429 say, may come before the caller looks). */
struct run {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* open, or one more exited */
	bool open, round;
	unsigned exited;
};

struct worker {
	struct bench *b;
	unsigned slot; /* a round: this thread's one sample */
	struct run *run;
};

static void worker_samples(struct worker *w)
{
	struct bench *b = w->b;

	if (w->run->round) {
		invoke_one(b, &b->s[w->slot]);
		atomic_fetch_add(&b->done, 1);
		return;
	}
	for (;;) {
		unsigned i = atomic_fetch_add(&b->next, 1);

		if (i >= b->n)
			return;
		invoke_one(b, &b->s[i]);
		atomic_fetch_add(&b->done, 1);
	}
}

/* Warm: pull sample slots until n are taken. A round: one slot, once open. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;

	pthread_mutex_lock(&run->mu);
	while (!run->open)
		pthread_cond_wait(&run->cv, &run->mu);
	pthread_mutex_unlock(&run->mu);
	worker_samples(w);
	pthread_mutex_lock(&run->mu);
	run->exited++;
	pthread_cond_broadcast(&run->cv);
	pthread_mutex_unlock(&run->mu);
	return NULL;
}

/* The function's pools in /ember/status: live instances, and whether any has a snapshot. */
static int pool_state(struct bench *b, unsigned *live, bool *snapshot)
{
	struct cli_resp r;
	const cJSON *it;
	cJSON *j;

	*live = 0;
	*snapshot = false;
	if (cli_request(b->c, "GET", "/ember/status", NULL, 0, NULL, &r) < 0)
		return -EIO;
	j = r.status == 200 ? cJSON_ParseWithLength(r.body, r.len) : NULL;
	cli_resp_free(&r);
	if (j == NULL)
		return -EPROTO;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "Pools"))
	{
		static const char *const keys[] = { "Starting", "Idle", "Busy", "Draining" };
		const char *fn =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "FunctionName"));

		if (fn == NULL || strcmp(fn, b->name) != 0)
			continue;
		for (int k = 0; k < 4; k++)
			*live += (unsigned)cJSON_GetNumberValue(
				cJSON_GetObjectItemCaseSensitive(it, keys[k]));
		*snapshot |= cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "Snapshot"));
	}
	cJSON_Delete(j);
	return 0;
}

/* Before a cold or restore round: no instance of the function is left, and
 * a snapshot exists (restore) or none does (cold). Waits with a deadline. */
static int settle(struct bench *b)
{
	char path[BENCH_PATH_LEN];
	struct timespec pause = { 0, BENCH_POLL_NS };
	double deadline = now_ms() + BENCH_SETTLE_S * 1e3;
	bool want_snap = b->mode == MODE_RESTORE;
	double no_snap_since = -1;

	snprintf(path, sizeof(path), "/ember/functions/%s/instances%s", b->name_esc,
		 want_snap ? "" : "?snapshot=drop");
	while (now_ms() < deadline) {
		struct cli_resp r;
		unsigned live;
		bool snap;

		if (cli_request(b->c, "DELETE", path, NULL, 0, NULL, &r) < 0)
			return -EIO;
		if (r.status != 200) {
			cli_api_error(&r);
			cli_resp_free(&r);
			return -EPROTO;
		}
		cli_resp_free(&r);
		if (pool_state(b, &live, &snap) < 0)
			return -EIO;
		if (live == 0 && snap == want_snap)
			return 0;
		/* A snapshot is stored a little after its instance serves; none for
		 * this long means emberd takes none. */
		if (live == 0 && want_snap && no_snap_since < 0)
			no_snap_since = now_ms();
		if (live == 0 && want_snap && now_ms() - no_snap_since > BENCH_NO_SNAP_S * 1e3) {
			fprintf(stderr,
				"ember bench: %s has no snapshot to restore (emberd runs "
				"with --no-snapstart, or snapshots fail: see its log)\n",
				b->name);
			return -ENOENT;
		}
		nanosleep(&pause, NULL);
	}
	fprintf(stderr, "ember bench: %s: instances still running after %d s\n", b->name,
		BENCH_SETTLE_S);
	return -ETIMEDOUT;
}

/* Runs the threads: warm, all n samples over conc workers; a round, k
 * requests at once into slots first..first+k-1. Returns how many slots it
 * filled (threads that could not start leave theirs empty). */
static unsigned run_threads(struct bench *b, unsigned first, unsigned k, bool round)
{
	static pthread_t tid[BENCH_C_MAX];
	static struct worker w[BENCH_C_MAX];
	struct run run = { .mu = PTHREAD_MUTEX_INITIALIZER, .round = round };
	pthread_condattr_t ca;
	unsigned nt = round ? k : b->conc, started = 0;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&run.cv, &ca);
	pthread_condattr_destroy(&ca);
	for (; started < nt; started++) {
		w[started] = (struct worker){ .b = b, .slot = first + started, .run = &run };
		if (pthread_create(&tid[started], NULL, worker_main, &w[started]) != 0) {
			fprintf(stderr, "ember bench: only %u of %u threads started\n", started,
				nt);
			break;
		}
	}
	/* Open the gate, then wait for every thread to end, redrawing the bar
	 * every BENCH_BAR_NS meanwhile. */
	pthread_mutex_lock(&run.mu);
	run.open = true;
	pthread_cond_broadcast(&run.cv);
	while (run.exited < started) {
		struct timespec until;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += BENCH_BAR_NS;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&run.cv, &run.mu, &until);
		pthread_mutex_unlock(&run.mu);
		progress(b);
		pthread_mutex_lock(&run.mu);
	}
	pthread_mutex_unlock(&run.mu);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_cond_destroy(&run.cv);
	progress(b);
	return round ? started : b->n;
}

/* Warm: `warmup` rounds of conc requests, so that conc instances are warm.
 * Cold/restore: one request, which leaves a snapshot behind (restore). */
static int warm_up(struct bench *b)
{
	struct sample *keep = b->s, *wu = calloc(b->conc, sizeof(*wu));
	bool prog = b->progress;
	unsigned rounds = b->mode == MODE_WARM ? b->warmup : (b->warmup > 0);
	unsigned extra = b->mode == MODE_WARM && b->warmup > 0 ? BENCH_WARM_EXTRA : 0, had = 0;
	int ret = 0;

	if (wu == NULL)
		return -ENOMEM;
	b->s = wu;
	b->progress = false;
	for (unsigned r = 0; r < rounds + extra && ret == 0; r++) {
		unsigned k = b->mode == MODE_WARM ? b->conc : 1, live;
		bool snap;

		/* Warm: a fast instance may take two of a round's requests; more
		 * rounds until conc instances exist (a few at most). */
		if (r >= rounds &&
		    (pool_state(b, &live, &snap) < 0 || live >= b->conc || live <= had))
			break; /* enough, or no more fit (the memory budget) */
		had = r >= rounds ? live : 0;

		unsigned got = run_threads(b, 0, k, true), good = 0, bad = 0;

		/* One good answer is enough: beyond the memory budget the rest of a
		 * large round is throttled (429), which the run itself counts. */
		for (unsigned i = 0; i < got; i++) {
			if (wu[i].status == 200 && !wu[i].fn_error)
				good++;
			else if (wu[i].status != 429)
				bad = i + 1;
		}
		if (good == 0 && got > 0 && wu[bad ? bad - 1 : 0].status == 0)
			ret = -EIO;
		else if (good == 0) {
			const struct sample *w = &wu[bad ? bad - 1 : 0];

			fprintf(stderr, "ember bench: the warm-up invocation failed (HTTP %ld%s)\n",
				w->status, w->fn_error ? ", function error" : "");
			ret = -EPROTO;
		}
	}
	atomic_store(&b->done, 0);
	b->s = keep;
	b->progress = prog;
	free(wu);
	return ret;
}

/* 0, or 1 with emberd's error printed (no such function, say). */
static int function_exists(struct bench *b)
{
	char path[BENCH_PATH_LEN];
	struct cli_resp r;
	int ret = 0;

	snprintf(path, sizeof(path), "/2015-03-31/functions/%s/configuration", b->name_esc);
	if (cli_request(b->c, "GET", path, NULL, 0, NULL, &r) < 0)
		return 1;
	if (r.status >= 300)
		ret = cli_api_error(&r);
	cli_resp_free(&r);
	return ret;
}

static int usage_err(const char *msg)
{
	fprintf(stderr, "ember bench: %s (ember help)\n", msg);
	return 2;
}

static bool parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *s == '\0' || *s == '-' || *end != '\0' || v < lo || v > hi)
		return false;
	*out = (unsigned)v;
	return true;
}

enum { O_MODE = 256, O_PAYLOAD, O_JSON, O_CSV, O_WARMUP, O_QUALIFIER, O_NO_PROGRESS };

int cli_cmd_bench(struct cli_conn *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, O_MODE },
		{ "payload", required_argument, NULL, O_PAYLOAD },
		{ "json", required_argument, NULL, O_JSON },
		{ "csv", required_argument, NULL, O_CSV },
		{ "warmup", required_argument, NULL, O_WARMUP },
		{ "qualifier", required_argument, NULL, O_QUALIFIER },
		{ "no-progress", no_argument, NULL, O_NO_PROGRESS },
		{ NULL, 0, NULL, 0 },
	};
	struct bench b = { .c = c, .mode = MODE_WARM, .n = 50, .conc = 1, .warmup = 1 };
	const char *payload_file = NULL, *json = NULL, *csv = NULL, *qualifier = NULL;
	uint8_t *payload = NULL;
	struct summary m = { 0 };
	double t0;
	char *e;
	int opt, ret = 1;

	b.progress = isatty(STDERR_FILENO);
	optind = 0; /* 0: glibc starts over (the "+" of main's parse is forgotten) */
	while ((opt = getopt_long(argc, argv, "n:c:", opts, NULL)) != -1) {
		switch (opt) {
		case O_MODE:
			if (strcmp(optarg, "warm") == 0)
				b.mode = MODE_WARM;
			else if (strcmp(optarg, "restore") == 0)
				b.mode = MODE_RESTORE;
			else if (strcmp(optarg, "cold") == 0)
				b.mode = MODE_COLD;
			else
				return usage_err("--mode: expected cold, restore or warm");
			break;
		case 'n':
			if (!parse_uint(optarg, 1, BENCH_N_MAX, &b.n))
				return usage_err("-n: expected 1 to 1000000 requests");
			break;
		case 'c':
			if (!parse_uint(optarg, 1, BENCH_C_MAX, &b.conc))
				return usage_err("-c: expected a concurrency of 1 to 1024");
			break;
		case O_WARMUP:
			if (!parse_uint(optarg, 0, 1000, &b.warmup))
				return usage_err("--warmup: expected 0 to 1000 rounds");
			break;
		case O_PAYLOAD:
			payload_file = optarg;
			break;
		case O_JSON:
			json = optarg;
			break;
		case O_CSV:
			csv = optarg;
			break;
		case O_QUALIFIER:
			qualifier = optarg;
			break;
		case O_NO_PROGRESS:
			b.progress = false;
			break;
		default:
			return 2;
		}
	}
	if (optind + 1 != argc)
		return usage_err("expected one function NAME");
	if (json != NULL && csv != NULL)
		return usage_err("--json and --csv: pick one");
	b.name = argv[optind];
	e = cli_escape(b.name);
	if (e == NULL || strlen(e) >= sizeof(b.name_esc))
		goto out;
	snprintf(b.name_esc, sizeof(b.name_esc), "%s", e);
	snprintf(b.invoke_path, sizeof(b.invoke_path),
		 "/2015-03-31/functions/%s/invocations%s%.32s", e, qualifier ? "?Qualifier=" : "",
		 qualifier ? qualifier : "");
	if (payload_file != NULL) {
		size_t len;

		if (cli_read_file(payload_file, BENCH_PAYLOAD_MAX, &payload, &len) < 0)
			goto out;
		b.payload = (const char *)payload;
		b.payload_len = len;
	} else {
		b.payload = "{}";
		b.payload_len = 2;
	}
	if (function_exists(&b) != 0)
		goto out;
	b.s = calloc(b.n, sizeof(*b.s));
	if (b.s == NULL || warm_up(&b) < 0)
		goto out;
	b.t0 = t0 = now_ms();
	if (b.mode == MODE_WARM) {
		run_threads(&b, 0, 0, false);
	} else {
		/* Rounds of conc starts at once, each after the instances are gone. The
		 * time between rounds (settling) is not part of the wall time. */
		double wall = 0;

		for (unsigned first = 0; first < b.n;) {
			unsigned k = b.n - first < b.conc ? b.n - first : b.conc;
			double r0;

			if (settle(&b) < 0)
				goto out;
			r0 = now_ms();
			first += run_threads(&b, first, k, true);
			wall += now_ms() - r0;
		}
		t0 = now_ms() - wall;
	}
	if (cli_bench_summarize(&b, &m) < 0)
		goto out;
	cli_bench_print(&b, &m, now_ms() - t0);
	ret = 0;
	if (json != NULL && cli_bench_write_json(&b, &m, now_ms() - t0, json) < 0)
		ret = 1;
	if (csv != NULL && cli_bench_write_csv(&b, csv) < 0)
		ret = 1;
	if (m.ok == 0) {
		fprintf(stderr, "ember bench: no request gave a %s start\n",
			cli_bench_modes[b.mode]);
		ret = 1;
	}
out:
	free(m.v);
	free(b.s);
	free(payload);
	free(e);
	return ret;
}
