/* emberd: the Lambda API and function runner (wiring only: argv -> store, workers, invoker, API on one loop). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "api/async/async.h"
#include "api/emberd/args.h"
#include "api/invoke/invoke.h"
#include "api/lambda/lambda.h"
#include "api/metrics/metrics.h"
#include "api/store/runtimes.h"
#include "api/store/db.h"
#include "api/store/store.h"
#include "api/work/work.h"
#include "lib/util/log.h"

#define LOCK_FILE "emberd.lock"
#define FLUSH_MS  100 /* after the drain: answers still in socket buffers go out */

/* What the signal handlers need: the drain stops the API and the
 * dispatcher, then waits (on events) for the running invocations. */
struct daemon {
	struct event_base *base;
	struct lambda *api;
	struct async *async;
	struct invoker *inv;
	struct event *drain_timer;
	double drain_timeout_s;
	const char *log_file;
	bool draining;
};

static void stop_loop(struct daemon *d, const char *why)
{
	struct timeval flush = { 0, FLUSH_MS * 1000 };

	log_info("drain: %s: exiting", why);
	invoker_when_idle(d->inv, NULL, NULL);
	event_base_loopexit(d->base, &flush);
}

static void on_idle(void *arg)
{
	stop_loop(arg, "no invocation is running");
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd, (void)what;
	log_warn("drain: %u invocations still running after %.1f s: they are stopped (queued "
		 "events stay on disk)",
		 invoker_active(d->inv), d->drain_timeout_s);
	/* Their callers get an answer before the connections close. */
	lambda_abort_invocations(d->api);
	stop_loop(d, "the drain timed out");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	struct timeval tv = {
		(time_t)d->drain_timeout_s,
		(suseconds_t)((d->drain_timeout_s - (double)(time_t)d->drain_timeout_s) * 1e6),
	};

	(void)what;
	if (d->draining) {
		log_info("signal %d again: stopping now", (int)sig);
		event_base_loopbreak(d->base);
		return;
	}
	d->draining = true;
	log_info("signal %d: draining: no new requests or events; %u invocations running", (int)sig,
		 invoker_active(d->inv));
	lambda_stop(d->api);
	async_stop(d->async);
	d->drain_timer = evtimer_new(d->base, on_drain_timeout, d);
	if (d->drain_timer == NULL || evtimer_add(d->drain_timer, &tv) < 0 ||
	    invoker_when_idle(d->inv, on_idle, d) < 0)
		stop_loop(d, "out of memory");
}

/* --log-file: opened (again) onto stderr, where every log line goes. */
static int open_log(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0) {
		log_err("--log-file %s: %s", path, strerror(errno));
		return -errno;
	}
	if (dup2(fd, STDERR_FILENO) < 0) {
		close(fd);
		return -errno;
	}
	close(fd);
	return 0;
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)sig, (void)what;
	if (d->log_file[0] != '\0' && open_log(d->log_file) == 0)
		log_info("SIGHUP: reopened %s", d->log_file);
}

/* $EMBER_HOME exists, is ours alone (0700), and no other emberd uses it. */
static int claim_home(const char *home, int *lock_fd)
{
	char path[PATH_MAX];
	struct stat st;
	int fd;

	if (mkdir(home, 0700) < 0 && errno != EEXIST) {
		log_err("--home %s: %s", home, strerror(errno));
		return -errno;
	}
	if (stat(home, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_err("--home %s: not a folder", home);
		return -ENOTDIR;
	}
	if (snprintf(path, sizeof(path), "%s/" LOCK_FILE, home) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_err("%s: %s", path, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		log_err("--home %s: another emberd is using it", home);
		close(fd);
		return -EBUSY;
	}
	*lock_fd = fd;
	return 0;
}

int main(int argc, char **argv)
{
	struct emberd_args a;
	struct runtimes *rt = NULL;
	struct event_base *base = NULL;
	struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL;
	struct async *async = NULL;
	struct metrics *metrics = NULL;
	struct daemon d = { 0 };
	struct store *store = NULL;
	struct work_pool *work = NULL;
	struct invoker *inv = NULL;
	struct lambda *api = NULL;
	char sock[PATH_MAX], bound[128] = "";
	int lock_fd = -1, ret;

	log_init("emberd", LOG_INFO);
	ret = emberd_args_parse(argc, argv, &a);
	if (ret != 0)
		return ret > 0 ? 0 : 2;
	ret = -1; /* until the loop has run */
	log_set_level(a.level);
	/* A client that hangs up must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (a.log_file[0] != '\0' && open_log(a.log_file) < 0)
		return 1;
	if (claim_home(a.home, &lock_fd) < 0)
		return 1;
	rt = calloc(1, sizeof(*rt));
	base = event_base_new();
	if (rt == NULL || base == NULL) {
		log_err("out of memory");
		goto out;
	}
	if (runtimes_load(a.runtimes, rt) < 0)
		goto out;
	{
		struct store_opts so = {
			.home = a.home,
			.region = a.region,
			.account = a.account,
			.runtimes = rt,
		};
		if (store_open(&so, &store) < 0)
			goto out;
	}
	if (work_pool_new(base, WORK_THREADS, WORK_QUEUE_MAX, &work) < 0 ||
	    metrics_new(&metrics) < 0)
		goto out;
	{
		struct invoker_opts io = {
			.home = a.home,
			.vmm_path = a.vmm,
			.kernel_path = a.kernel,
			.initrd_path = a.initrd,
			.guest_args = a.has_guest_args ? a.guest_args : NULL,
			.memory_budget_mib = a.memory_budget_mib,
			.keep_warm_s = a.keep_warm_s,
			.snapstart = a.snapstart,
			.standby = a.standby,
			.jail = &a.jail,
			.metrics = metrics,
		};
		if (invoker_new(base, &io, &inv) < 0) {
			log_err("starting the invoker failed");
			goto out;
		}
	}
	for (unsigned i = 0; i < store_count(store); i++) {
		const struct store_func *sf = store_at(store, i);

		/* The runtime images in use, copied for the jails off the loop. */
		invoker_prestage(inv, sf->latest->runtime_image);
		if (sf->reserved >= 0)
			invoker_set_concurrency(inv, sf->latest->name, (uint32_t)sf->reserved);
	}
	{
		struct async_opts ao = {
			.base = base,
			.store = store,
			.invoker = inv,
			.db = db_sqlite(store_db(store)),
			.home = a.home,
			.retry_base_s = a.async_retry_base_s,
			.concurrency = a.async_concurrency,
		};
		if (async_new(&ao, &async) < 0) {
			log_err("loading the event queue failed");
			goto out;
		}
	}
	{
		struct lambda_opts lo = {
			.base = base,
			.store = store,
			.invoker = inv,
			.async = async,
			.metrics = metrics,
			.work = work,
			.runtimes = rt,
			.home = a.home,
			.intake = a.intake,
		};
		if (lambda_new(&lo, &api) < 0)
			goto out;
	}
	if (snprintf(sock, sizeof(sock), "%s/" EMBERD_SOCKET, a.home) >= (int)sizeof(sock) ||
	    lambda_listen_unix(api, sock) < 0)
		goto out;
	if (a.tcp && lambda_listen_tcp(api, a.host, a.port, bound, sizeof(bound)) < 0)
		goto out;
	d = (struct daemon){
		.base = base,
		.api = api,
		.async = async,
		.inv = inv,
		.drain_timeout_s = a.drain_timeout_s,
		.log_file = a.log_file,
	};
	sigterm = evsignal_new(base, SIGTERM, on_signal, &d);
	sigint = evsignal_new(base, SIGINT, on_signal, &d);
	sighup = evsignal_new(base, SIGHUP, on_hup, &d);
	if (sigterm == NULL || sigint == NULL || sighup == NULL ||
	    evsignal_add(sigterm, NULL) < 0 || evsignal_add(sigint, NULL) < 0 ||
	    evsignal_add(sighup, NULL) < 0) {
		log_err("setting up signal handling failed");
		goto out;
	}
	/* Tests and scripts wait for this line: the API is up. */
	log_info("ready: Lambda API on unix:%s%s%s", sock, bound[0] ? " and http://" : "", bound);
	event_base_dispatch(base);
	ret = 0;
out:
	/* Stop taking requests and events, and release the waiting requests
	 * while the invoker still exists (their log watches are the invoker's);
	 * then the invoker, which ends what still runs: the API's requests are
	 * gone and the dispatcher, stopped, leaves those events' rows queued.
	 * Then the dispatcher and the workers, whose late callbacks find no
	 * request and drop, and last the store, whose database the queue uses. */
	lambda_stop(api);
	async_stop(async);
	lambda_free(api);
	if (inv != NULL)
		invoker_free(inv);
	async_free(async);
	work_pool_free(work);
	store_close(store);
	metrics_free(metrics);
	if (d.drain_timer != NULL)
		event_free(d.drain_timer);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	if (sighup != NULL)
		event_free(sighup);
	if (base != NULL)
		event_base_free(base);
	free(rt);
	if (lock_fd >= 0)
		close(lock_fd);
	return ret == 0 ? 0 : 1;
}
