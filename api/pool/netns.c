/* netns: empty network namespaces made ahead, each given to one jailed VMM (ember-jailer --netns). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/pool/pool_priv.h"
#include "lib/util/log.h"

/* Why ahead: a new network namespace costs the kernel some 0.6 ms (its
 * loopback device, its sysctl tables), the largest single step of
 * ember-jailer, and that time is on every start that spawns its VMM
 * (bench/RESULTS.md, "Jail"). A thread of emberd's makes them while
 * nothing waits; a spawn takes one and passes it to the jailer, which
 * joins it (setns) instead of making its own. Each namespace goes to one
 * VMM only and is never reused: once emberd's descriptor is closed, the
 * VMM is the only thing in it, so it is exactly as new and as empty as
 * the jailer's own. With none ready (a burst of spawns), the jailer makes
 * one as before. */
struct pool_netns {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int ready[POOL_NETNS_AHEAD];
	unsigned n;
	bool stop;
	int host; /* emberd's own network namespace, to go back to */
};

/* One new namespace, as a descriptor; the calling thread ends where it began. */
static int make_one(int host)
{
	int fd;

	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	/* Back, or this thread would hold the namespace it just handed out. */
	if (setns(host, CLONE_NEWNET) < 0) {
		int ret = -errno;

		if (fd >= 0)
			close(fd);
		return ret;
	}
	return fd;
}

static void *run(void *arg)
{
	struct pool_netns *ns = arg;

	pthread_mutex_lock(&ns->lock);
	for (;;) {
		while (!ns->stop && ns->n == POOL_NETNS_AHEAD)
			pthread_cond_wait(&ns->wake, &ns->lock);
		if (ns->stop)
			break;
		pthread_mutex_unlock(&ns->lock);
		int fd = make_one(ns->host);

		pthread_mutex_lock(&ns->lock);
		if (fd < 0) {
			/* No CAP_SYS_ADMIN, or the kernel has no network
			 * namespaces: the jailer will say so at the spawn. */
			log_warn("jail: making a network namespace ahead: %s; the jailer makes "
				 "each VMM's own",
				 strerror(-fd));
			break;
		}
		ns->ready[ns->n++] = fd;
	}
	pthread_mutex_unlock(&ns->lock);
	return NULL;
}

int pool_netns_new(struct pool_netns **out)
{
	struct pool_netns *ns = calloc(1, sizeof(*ns));
	int ret;

	if (ns == NULL)
		return -ENOMEM;
	ns->host = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (ns->host < 0) {
		ret = -errno;
		free(ns);
		return ret;
	}
	pthread_mutex_init(&ns->lock, NULL);
	pthread_cond_init(&ns->wake, NULL);
	ret = -pthread_create(&ns->thread, NULL, run, ns);
	if (ret < 0) {
		close(ns->host);
		free(ns);
		return ret;
	}
	*out = ns;
	return 0;
}

int pool_netns_take(struct pool_netns *ns)
{
	int fd = -1;

	if (ns == NULL)
		return -1;
	pthread_mutex_lock(&ns->lock);
	/* The oldest first: a refill made during a burst goes last. */
	if (ns->n > 0) {
		fd = ns->ready[0];
		memmove(ns->ready, ns->ready + 1, --ns->n * sizeof(ns->ready[0]));
	}
	pthread_cond_signal(&ns->wake);
	pthread_mutex_unlock(&ns->lock);
	return fd;
}

void pool_netns_drop(struct instance *inst)
{
	if (inst->netns_fd >= 0)
		close(inst->netns_fd);
	inst->netns_fd = -1;
}

void pool_netns_free(struct pool_netns *ns)
{
	if (ns == NULL)
		return;
	pthread_mutex_lock(&ns->lock);
	ns->stop = true;
	pthread_cond_signal(&ns->wake);
	pthread_mutex_unlock(&ns->lock);
	pthread_join(ns->thread, NULL);
	for (unsigned i = 0; i < ns->n; i++)
		close(ns->ready[i]);
	close(ns->host);
	pthread_mutex_destroy(&ns->lock);
	pthread_cond_destroy(&ns->wake);
	free(ns);
}
