/* evloop: epoll dispatch for device I/O and control on one thread (see evloop.h). */
#include "vmm/core/evloop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define EVLOOP_BATCH 16

static struct evloop_handler *slot_of(struct evloop *ev, int fd)
{
	for (unsigned i = 0; i < EVLOOP_MAX_HANDLERS; i++)
		if (ev->h[i].fd == fd)
			return &ev->h[i];
	return NULL;
}

int evloop_create(struct evloop **out)
{
	struct evloop *ev = calloc(1, sizeof(*ev));
	struct epoll_event e = { .events = EPOLLIN };
	int ret;

	if (ev == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < EVLOOP_MAX_HANDLERS; i++)
		ev->h[i].fd = -1;
	ev->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ev->epfd < 0) {
		ret = -errno;
		goto err_free;
	}
	ev->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ev->stopfd < 0) {
		ret = -errno;
		goto err_epoll;
	}
	e.data.ptr = NULL; /* NULL marks the stop eventfd */
	if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, ev->stopfd, &e) < 0) {
		ret = -errno;
		goto err_stopfd;
	}
	*out = ev;
	return 0;

err_stopfd:
	close(ev->stopfd);
err_epoll:
	close(ev->epfd);
err_free:
	free(ev);
	return ret;
}

void evloop_destroy(struct evloop *ev)
{
	if (ev == NULL)
		return;
	close(ev->stopfd);
	close(ev->epfd);
	free(ev);
}

int evloop_add(struct evloop *ev, int fd, uint32_t events, evloop_cb cb, void *opaque)
{
	struct evloop_handler *h = slot_of(ev, -1);
	struct epoll_event e = { .events = events };

	if (fd < 0 || cb == NULL)
		return -EINVAL;
	if (slot_of(ev, fd) != NULL)
		return -EEXIST;
	if (h == NULL)
		return -ENOSPC;
	e.data.ptr = h;
	if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &e) < 0)
		return -errno;
	*h = (struct evloop_handler){ .fd = fd, .cb = cb, .opaque = opaque };
	return 0;
}

int evloop_mod(struct evloop *ev, int fd, uint32_t events)
{
	struct evloop_handler *h = slot_of(ev, fd);
	struct epoll_event e = { .events = events, .data.ptr = h };

	if (fd < 0 || h == NULL)
		return -ENOENT;
	return epoll_ctl(ev->epfd, EPOLL_CTL_MOD, fd, &e) < 0 ? -errno : 0;
}

int evloop_del(struct evloop *ev, int fd)
{
	struct evloop_handler *h = slot_of(ev, fd);

	if (fd < 0 || h == NULL)
		return -ENOENT;
	epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, NULL);
	h->fd = -1;
	h->cb = NULL;
	return 0;
}

int evloop_run(struct evloop *ev)
{
	struct epoll_event events[EVLOOP_BATCH];

	while (!ev->stop) {
		int n = epoll_wait(ev->epfd, events, EVLOOP_BATCH, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !ev->stop; i++) {
			struct evloop_handler *h = events[i].data.ptr;

			if (h == NULL) {
				ev->stop = true;
				break;
			}
			/* A callback earlier in this batch may have deleted this fd. */
			if (h->fd >= 0 && h->cb != NULL)
				h->cb(h->opaque, h->fd, events[i].events);
		}
	}
	return 0;
}

void evloop_stop(struct evloop *ev)
{
	uint64_t one = 1;

	/* write(2) is async-signal-safe; a full counter still wakes the loop. */
	if (write(ev->stopfd, &one, sizeof(one)) < 0) {
	}
}
