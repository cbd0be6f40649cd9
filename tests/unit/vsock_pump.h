/* vsock_pump: runs a vsock device until it has nothing left to do, for unit tests.
 *
 * The tests play the event loop: vsock_run() while the device's epoll fd is
 * ready, bounded so that a device that never goes idle fails the test instead
 * of hanging it. Include after <cmocka.h>. */
#ifndef EMBER_TEST_VSOCK_PUMP_H
#define EMBER_TEST_VSOCK_PUMP_H

#include <poll.h>

#include "vmm/devices/virtio/vsock/vsock.h"

static inline void vsock_pump(struct vsock_dev *d)
{
	for (int i = 0; i < 10000; i++) {
		struct pollfd p = { .fd = vsock_fd(d), .events = POLLIN };

		if (poll(&p, 1, 0) <= 0)
			return;
		vsock_run(d);
	}
	fail_msg("device never went idle");
}

#endif
