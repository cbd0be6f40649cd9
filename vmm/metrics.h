/* metrics: Firecracker-style metrics, one JSON line per flush appended to the metrics file.
 *
 * Contract: metrics_open() sets the file once (PUT /metrics; a second call
 * is -EEXIST). It is opened O_APPEND | O_NONBLOCK, so a FIFO with no reader
 * yet works and a full one drops a line instead of blocking. API request
 * counters are atomics any thread may bump. metrics_flush() writes one line
 * in one write(2):
 *   {"utc_timestamp_ms": N, "boot_time_us": N,
 *    "api_requests": {"<METHOD> <route>": N, ..., "errors": N},
 *    "vcpu": {"exits", "io_exits", "mmio_exits", "intr_exits", "unclaimed"},
 *    "block": {"<drive_id>": {"read_ops", "read_bytes", "write_ops",
 *              "write_bytes", "flush_ops"}, ...},
 *    "vsock": {"conns", "host_to_guest_bytes", "guest_to_host_bytes"}}
 * Every counter is a total since the process started (not a delta). Before
 * the VM exists (vs == NULL) only the API counters and the timestamp are
 * written. Flushes are serialised by the lock. Errors: negative errno, and a
 * message in err. */
#ifndef EMBER_METRICS_H
#define EMBER_METRICS_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include "vmm/stats.h"

#define METRICS_API_MAX	       64
#define METRICS_PERIOD_SECONDS 60

struct metrics {
	pthread_mutex_t lock;
	int fd; /* -1 until configured */
	char path[PATH_MAX];
	const char *const *api_names; /* METRICS_API_MAX at most */
	unsigned napi;
	uint64_t api[METRICS_API_MAX]; /* bumped with __atomic_fetch_add */
	uint64_t api_errors;
};

void metrics_init(struct metrics *m, const char *const *api_names, unsigned napi);
void metrics_destroy(struct metrics *m);
int metrics_open(struct metrics *m, const char *path, char *err, size_t errlen);
bool metrics_enabled(struct metrics *m);
void metrics_count_api(struct metrics *m, unsigned route, bool error);
int metrics_flush(struct metrics *m, const struct machine_stats *vs, char *err, size_t errlen);

#endif
