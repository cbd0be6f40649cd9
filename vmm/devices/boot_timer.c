/* boot_timer: measure process start to guest init (see boot_timer.h). */
#include "vmm/devices/boot_timer.h"

#include <string.h>
#include <time.h>

#include "lib/util/boot_timer.h"
#include "lib/util/log.h"

uint64_t boot_timer_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void boot_timer_init(struct boot_timer *bt, uint64_t start_ns)
{
	bt->start_ns = start_ns;
	atomic_init(&bt->boot_us, 0);
}

static void bt_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
	(void)opaque;
	(void)offset;
	memset(data, 0xff, size);
}

static void bt_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
	struct boot_timer *bt = opaque;
	uint64_t us, expected = 0;

	(void)size;
	if (offset != 0 || data[0] != BOOT_TIMER_VALUE)
		return;
	us = (boot_timer_now_ns() - bt->start_ns) / 1000;
	if (us == 0)
		us = 1;
	if (atomic_compare_exchange_strong(&bt->boot_us, &expected, us))
		log_info("guest booted in %llu us", (unsigned long long)us);
	else
		log_ratelimited(LOG_INFO, "guest reported boot again, %llu us after start",
				(unsigned long long)us);
}

const struct bus_ops boot_timer_ops = { .read = bt_read, .write = bt_write };
