/* metrics: counters to one JSON line per flush (see metrics.h). */
#include "vmm/metrics.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void metrics_init(struct metrics *m, const char *const *api_names, unsigned napi)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	m->fd = -1;
	m->api_names = api_names;
	m->napi = napi < METRICS_API_MAX ? napi : METRICS_API_MAX;
}

void metrics_destroy(struct metrics *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	pthread_mutex_destroy(&m->lock);
}

int metrics_open(struct metrics *m, const char *path, char *err, size_t errlen)
{
	int fd, ret = 0;

	pthread_mutex_lock(&m->lock);
	if (m->fd >= 0) {
		snprintf(err, errlen, "metrics are already configured (metrics_path %.128s)",
			 m->path);
		ret = -EEXIST;
		goto out;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "metrics_path: cannot open %.128s: %s", path,
			 strerror(errno));
		goto out;
	}
	m->fd = fd;
	snprintf(m->path, sizeof(m->path), "%s", path);
out:
	pthread_mutex_unlock(&m->lock);
	return ret;
}

bool metrics_enabled(struct metrics *m)
{
	bool on;

	pthread_mutex_lock(&m->lock);
	on = m->fd >= 0;
	pthread_mutex_unlock(&m->lock);
	return on;
}

void metrics_count_api(struct metrics *m, unsigned route, bool error)
{
	if (route < m->napi)
		__atomic_fetch_add(&m->api[route], 1, __ATOMIC_RELAXED);
	if (error)
		__atomic_fetch_add(&m->api_errors, 1, __ATOMIC_RELAXED);
}

/* cJSON numbers are doubles: exact up to 2^53, far beyond these counters. */
static void add_u64(cJSON *o, const char *name, uint64_t v)
{
	cJSON_AddNumberToObject(o, name, (double)v);
}

static void add_vm(cJSON *root, const struct machine_stats *vs)
{
	cJSON *vcpu = cJSON_AddObjectToObject(root, "vcpu");
	cJSON *block = cJSON_AddObjectToObject(root, "block");

	add_u64(vcpu, "exits", vs->vcpu.exits);
	add_u64(vcpu, "io_exits", vs->vcpu.io_exits);
	add_u64(vcpu, "mmio_exits", vs->vcpu.mmio_exits);
	add_u64(vcpu, "intr_exits", vs->vcpu.intr_exits);
	add_u64(vcpu, "unclaimed", vs->vcpu.unclaimed);
	for (unsigned i = 0; i < vs->ndrives; i++) {
		const struct vblk_stats *s = &vs->drives[i].s;
		cJSON *d = cJSON_AddObjectToObject(block, vs->drives[i].id);

		add_u64(d, "read_ops", s->read_ops);
		add_u64(d, "read_bytes", s->read_bytes);
		add_u64(d, "write_ops", s->write_ops);
		add_u64(d, "write_bytes", s->write_bytes);
		add_u64(d, "flush_ops", s->flush_ops);
	}
	if (vs->vsock_enabled) {
		cJSON *v = cJSON_AddObjectToObject(root, "vsock");

		add_u64(v, "conns", vs->vsock.conns);
		add_u64(v, "host_to_guest_bytes", vs->vsock.host_to_guest_bytes);
		add_u64(v, "guest_to_host_bytes", vs->vsock.guest_to_host_bytes);
	}
}

static char *render(struct metrics *m, const struct machine_stats *vs)
{
	cJSON *root = cJSON_CreateObject(), *api;
	struct timespec ts;
	char *line = NULL;

	if (root == NULL)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	add_u64(root, "utc_timestamp_ms",
		(uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
	add_u64(root, "boot_time_us", vs != NULL ? vs->boot_us : 0);
	api = cJSON_AddObjectToObject(root, "api_requests");
	for (unsigned i = 0; api != NULL && i < m->napi; i++)
		add_u64(api, m->api_names[i], __atomic_load_n(&m->api[i], __ATOMIC_RELAXED));
	if (api != NULL)
		add_u64(api, "errors", __atomic_load_n(&m->api_errors, __ATOMIC_RELAXED));
	if (vs != NULL)
		add_vm(root, vs);
	line = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return line;
}

int metrics_flush(struct metrics *m, const struct machine_stats *vs, char *err, size_t errlen)
{
	char *line;
	size_t len;
	ssize_t n;
	int ret = 0;

	pthread_mutex_lock(&m->lock);
	if (m->fd < 0) {
		snprintf(err, errlen, "metrics are not configured: PUT /metrics first");
		ret = -ENOENT;
		goto out;
	}
	line = render(m, vs);
	if (line == NULL) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	len = strlen(line);
	line[len] = '\n'; /* replaces the NUL; the write below is bounded by len + 1 */
	n = write(m->fd, line, len + 1);
	if (n < 0) {
		ret = -errno;
		snprintf(err, errlen, "writing metrics to %.128s: %s", m->path, strerror(errno));
	} else if ((size_t)n != len + 1) {
		ret = -EAGAIN;
		snprintf(err, errlen, "writing metrics to %.128s: short write", m->path);
	}
	free(line);
out:
	pthread_mutex_unlock(&m->lock);
	return ret;
}
