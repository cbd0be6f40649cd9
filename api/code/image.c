/* image: mkfs.erofs as a child process, its stderr kept for the error message (see image.h). */
#include "api/code/image.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define STDERR_KEEP 512

extern char **environ;

/* The last line of text (trailing newlines dropped). */
static const char *last_line(char *text)
{
	size_t n = strlen(text);
	char *nl;

	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		text[--n] = '\0';
	nl = strrchr(text, '\n');
	return nl != NULL ? nl + 1 : text;
}

int image_build(const char *src_dir, const char *out_path, char *msg, size_t cap)
{
	char *const argv[] = { IMAGE_MKFS,   "--quiet",	       "-T0",		"-x-1",
			       "--all-root", (char *)out_path, (char *)src_dir, NULL };
	posix_spawn_file_actions_t fa;
	char err[STDERR_KEEP + 1] = "";
	size_t kept = 0;
	int pipefd[2], status, ret;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		ret = -errno;
		snprintf(msg, cap, "pipe: %s", strerror(errno));
		return ret;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	ret = -posix_spawnp(&pid, IMAGE_MKFS, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (ret < 0) {
		close(pipefd[0]);
		snprintf(msg, cap, "running " IMAGE_MKFS ": %s", strerror(-ret));
		return ret;
	}
	/* Keep the tail of stderr: the error is usually the last line. */
	for (;;) {
		char chunk[256];
		ssize_t n = read(pipefd[0], chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		/* sizeof(chunk) < STDERR_KEEP: a read never overfills err alone. */
		if (kept + (size_t)n > STDERR_KEEP) {
			size_t drop = kept + (size_t)n - STDERR_KEEP;

			memmove(err, err + drop, kept - drop);
			kept -= drop;
		}
		memcpy(err + kept, chunk, (size_t)n);
		kept += (size_t)n;
		err[kept] = '\0';
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			ret = -errno;
			snprintf(msg, cap, "waiting for " IMAGE_MKFS ": %s", strerror(errno));
			return ret;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		snprintf(msg, cap, IMAGE_MKFS " exited with %d: %.200s", WEXITSTATUS(status),
			 last_line(err));
	else
		snprintf(msg, cap, IMAGE_MKFS " was killed by signal %d", WTERMSIG(status));
	return -EIO;
}
