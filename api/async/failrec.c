/* failrec: failed events as JSON objects and as lines of $home/failed/<name>/events.jsonl (see failrec.h). */
#include "api/async/failrec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "api/async/async.h"
#include "lib/util/log.h"

/* "2026-12-07T02:19:58.123Z" */
static void iso_ms(int64_t ms, char out[32])
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&s, &tm);
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

static cJSON *payload_json(const struct evfailed *f)
{
	cJSON *j;

	if (f->payload_len == 0)
		return cJSON_CreateNull();
	j = cJSON_ParseWithLength((const char *)f->payload, f->payload_len);
	if (j != NULL)
		return j;
	/* Accepted payloads are JSON; a string keeps anything else readable. */
	char *s = strndup((const char *)f->payload, f->payload_len);

	j = s != NULL ? cJSON_CreateString(s) : NULL;
	free(s);
	return j;
}

cJSON *failrec_json(const struct evfailed *f)
{
	cJSON *o = cJSON_CreateObject(), *p = payload_json(f);
	char enq[32], failed[32];

	iso_ms(f->enqueued_ms, enq);
	iso_ms(f->failed_ms, failed);
	if (o == NULL || p == NULL || cJSON_AddNumberToObject(o, "id", (double)f->id) == NULL ||
	    cJSON_AddStringToObject(o, "requestId", f->request_id) == NULL ||
	    cJSON_AddStringToObject(o, "functionName", f->name) == NULL ||
	    cJSON_AddStringToObject(o, "qualifier", f->qualifier) == NULL ||
	    cJSON_AddStringToObject(o, "condition", f->condition) == NULL ||
	    cJSON_AddNumberToObject(o, "attempts", f->attempts) == NULL ||
	    cJSON_AddStringToObject(o, "errorType", f->error_type) == NULL ||
	    cJSON_AddStringToObject(o, "errorMessage", f->error_message) == NULL ||
	    cJSON_AddStringToObject(o, "enqueuedAt", enq) == NULL ||
	    cJSON_AddStringToObject(o, "failedAt", failed) == NULL) {
		cJSON_Delete(o);
		cJSON_Delete(p);
		return NULL;
	}
	cJSON_AddItemToObject(o, "requestPayload", p);
	return o;
}

static int mkdir_ok(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		log_err("%s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

int failrec_append(const char *home, const struct evfailed *f)
{
	char path[PATH_MAX];
	cJSON *o = failrec_json(f);
	char *line = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
	struct iovec iov[2];
	int fd = -1, ret;

	cJSON_Delete(o);
	if (line == NULL)
		return -ENOMEM;
	ret = -ENAMETOOLONG;
	if (snprintf(path, sizeof(path), "%s/" ASYNC_FAILED_DIR, home) >= (int)sizeof(path))
		goto out;
	ret = mkdir_ok(path);
	if (ret < 0)
		goto out;
	ret = -ENAMETOOLONG;
	if (snprintf(path, sizeof(path), "%s/" ASYNC_FAILED_DIR "/%s", home, f->name) >=
	    (int)sizeof(path))
		goto out;
	ret = mkdir_ok(path);
	if (ret < 0)
		goto out;
	ret = -ENAMETOOLONG;
	if (snprintf(path, sizeof(path), "%s/" ASYNC_FAILED_DIR "/%s/" ASYNC_FAILED_FILE, home,
		     f->name) >= (int)sizeof(path))
		goto out;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		log_err("%s: %s", path, strerror(errno));
		goto out;
	}
	iov[0] = (struct iovec){ line, strlen(line) };
	iov[1] = (struct iovec){ "\n", 1 };
	/* One writev with O_APPEND: a line is never split by another writer. */
	if (writev(fd, iov, 2) != (ssize_t)(iov[0].iov_len + 1) || fdatasync(fd) < 0) {
		ret = -errno;
		log_err("%s: %s", path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(line);
	return ret;
}
