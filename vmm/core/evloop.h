/* evloop: the VMM's event-loop thread: epoll over fds, each with a callback.
 *
 * Contract: evloop_add/mod/del are called from the loop thread (or before it
 * runs). evloop_run() dispatches ready fds until evloop_stop() is called;
 * evloop_stop() is async-safe and callable from any thread (it writes an
 * eventfd). A callback runs on the loop thread and may add or delete fds,
 * including its own. At most EVLOOP_MAX_HANDLERS fds. Errors: negative errno. */
#ifndef EMBER_EVLOOP_H
#define EMBER_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

#define EVLOOP_MAX_HANDLERS 64

typedef void (*evloop_cb)(void *opaque, int fd, uint32_t events);

struct evloop_handler {
	int fd; /* -1: free slot */
	evloop_cb cb;
	void *opaque;
};

struct evloop {
	int epfd;
	int stopfd;
	bool stop;
	struct evloop_handler h[EVLOOP_MAX_HANDLERS];
};

int evloop_create(struct evloop **out);
void evloop_destroy(struct evloop *ev);
int evloop_add(struct evloop *ev, int fd, uint32_t events, evloop_cb cb, void *opaque);
int evloop_mod(struct evloop *ev, int fd, uint32_t events);
int evloop_del(struct evloop *ev, int fd);
int evloop_run(struct evloop *ev);
void evloop_stop(struct evloop *ev);

#endif
