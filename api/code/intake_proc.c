/* intake_proc: intake_run() in its own process, ember-intake (see intake.h). */
#include "api/code/intake.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "lib/util/log.h"

#define RESULT_MAX 2048 /* bytes: one line of JSON, its msg bounded by ZIP_MSG_LEN */

extern char **environ;

static void service(struct intake *in, const char *what, const char *detail)
{
	in->fault = INTAKE_SERVICE;
	snprintf(in->msg, sizeof(in->msg), "%s: %.200s", what, detail);
	log_err("code intake: %s", in->msg);
}

/* The whole zip to the child's stdin. The child reads it all before it
 * writes anything, so this cannot deadlock against the result pipe. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The child's stdout, up to RESULT_MAX bytes (the rest is read and dropped). */
static size_t read_result(int fd, char *out, size_t cap)
{
	size_t got = 0;

	for (;;) {
		char chunk[512];
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (got + (size_t)n < cap) {
			memcpy(out + got, chunk, (size_t)n);
			got += (size_t)n;
		} else {
			got = cap; /* too long: not a result */
		}
	}
	if (got >= cap)
		return 0;
	out[got] = '\0';
	return got;
}

static const char *str_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The result line into in; -EBADMSG if it is not one. */
static int parse_result(struct intake *in, const char *text)
{
	static const char *const faults[] = { "ok", "too_large", "bad_zip", "service" };
	cJSON *o = cJSON_Parse(text);
	const cJSON *unz = cJSON_GetObjectItemCaseSensitive(o, "unzipped");
	const char *fault = str_of(o, "fault"), *sha = str_of(o, "sha256"), *msg = str_of(o, "msg");
	int ret = -EBADMSG;

	for (size_t i = 0; fault != NULL && i < sizeof(faults) / sizeof(faults[0]); i++) {
		if (strcmp(fault, faults[i]) != 0 || sha == NULL || msg == NULL ||
		    !cJSON_IsNumber(unz) || unz->valuedouble < 0)
			continue;
		if (i == INTAKE_OK && strlen(sha) != DIGEST_SHA256_B64_LEN)
			break;
		in->fault = (enum intake_fault)i;
		snprintf(in->sha256, sizeof(in->sha256), "%s", sha);
		snprintf(in->msg, sizeof(in->msg), "%s", msg);
		in->unzipped = (uint64_t)unz->valuedouble;
		ret = 0;
		break;
	}
	cJSON_Delete(o);
	return ret;
}

void intake_in_child(struct intake *in, const char *exe)
{
	char size[32], result[RESULT_MAX];
	char *const argv[] = { "ember-intake", (char *)in->home, in->image_path, size, NULL };
	posix_spawn_file_actions_t fa;
	int to_child[2], from_child[2], status, ret;
	size_t got;
	pid_t pid, waited;

	in->fault = INTAKE_OK;
	in->msg[0] = '\0';
	in->unzipped = 0;
	snprintf(size, sizeof(size), "%zu", in->zip_len);
	if (pipe2(to_child, O_CLOEXEC) < 0) {
		service(in, "pipe", strerror(errno));
		return;
	}
	if (pipe2(from_child, O_CLOEXEC) < 0) {
		service(in, "pipe", strerror(errno));
		close(to_child[0]);
		close(to_child[1]);
		return;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, to_child[0], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, from_child[1], STDOUT_FILENO);
	/* Nothing else of emberd's (sockets, the store) reaches the parser. */
	posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
	ret = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(to_child[0]);
	close(from_child[1]);
	if (ret != 0) {
		close(to_child[1]);
		close(from_child[0]);
		in->fault = INTAKE_SERVICE;
		snprintf(in->msg, sizeof(in->msg), "running %.200s: %s", exe, strerror(ret));
		log_err("code intake: %s", in->msg);
		return;
	}
	/* Over the limit the child does not read: it answers at once (EPIPE here). */
	ret = in->zip_len <= ZIP_ZIPPED_MAX ? write_all(to_child[1], in->zip, in->zip_len) : 0;
	close(to_child[1]);
	got = read_result(from_child[0], result, sizeof(result));
	close(from_child[0]);
	while ((waited = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (waited < 0) {
		service(in, "waiting for ember-intake", strerror(errno));
	} else if (WIFSIGNALED(status)) {
		in->fault = INTAKE_SERVICE;
		snprintf(in->msg, sizeof(in->msg), "ember-intake was killed by signal %d",
			 WTERMSIG(status));
		log_err("code intake: %s", in->msg);
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		in->fault = INTAKE_SERVICE;
		snprintf(in->msg, sizeof(in->msg), "ember-intake exited with %d%s%s",
			 WEXITSTATUS(status), ret < 0 ? ": " : "", ret < 0 ? strerror(-ret) : "");
		log_err("code intake: %s", in->msg);
	} else if (got == 0 || parse_result(in, result) < 0) {
		service(in, "ember-intake gave no result", got > 0 ? result : "nothing");
	}
}
