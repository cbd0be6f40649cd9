/* emberd: the Lambda API and function runner (wiring only: argv -> store, workers, invoker, API on one loop). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "api/emberd/args.h"
#include "api/invoke/invoke.h"
#include "api/lambda/lambda.h"
#include "api/store/runtimes.h"
#include "api/store/store.h"
#include "api/work/work.h"
#include "lib/util/log.h"

#define LOCK_FILE "emberd.lock"

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(arg);
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
	struct event *sigterm = NULL, *sigint = NULL;
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
	if (work_pool_new(base, WORK_THREADS, &work) < 0)
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
			.jail = &a.jail,
		};
		if (invoker_new(base, &io, &inv) < 0) {
			log_err("starting the invoker failed");
			goto out;
		}
	}
	for (unsigned i = 0; i < store_count(store); i++) {
		const struct store_func *sf = store_at(store, i);

		if (sf->reserved >= 0)
			invoker_set_concurrency(inv, sf->latest->name, (uint32_t)sf->reserved);
	}
	{
		struct lambda_opts lo = {
			.base = base,
			.store = store,
			.invoker = inv,
			.work = work,
			.runtimes = rt,
			.home = a.home,
		};
		if (lambda_new(&lo, &api) < 0)
			goto out;
	}
	if (snprintf(sock, sizeof(sock), "%s/" EMBERD_SOCKET, a.home) >= (int)sizeof(sock) ||
	    lambda_listen_unix(api, sock) < 0)
		goto out;
	if (a.tcp && lambda_listen_tcp(api, a.host, a.port, bound, sizeof(bound)) < 0)
		goto out;
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) < 0 ||
	    evsignal_add(sigint, NULL) < 0) {
		log_err("setting up signal handling failed");
		goto out;
	}
	/* Tests and scripts wait for this line: the API is up. */
	log_info("ready: Lambda API on unix:%s%s%s", sock, bound[0] ? " and http://" : "", bound);
	event_base_dispatch(base);
	ret = 0;
out:
	/* Stop taking requests and release the waiting ones while the invoker
	 * still exists (their log watches are the invoker's); then the invoker
	 * and the workers, whose late callbacks find no request and drop. */
	lambda_stop(api);
	lambda_free(api);
	if (inv != NULL)
		invoker_free(inv);
	work_pool_free(work);
	store_close(store);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	if (base != NULL)
		event_base_free(base);
	free(rt);
	if (lock_fd >= 0)
		close(lock_fd);
	return ret == 0 ? 0 : 1;
}
