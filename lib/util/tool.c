/* tool: a host tool as a child process, its stderr kept for the error message (see tool.h). */
#include "lib/util/tool.h"

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

int tool_run(char *const argv[], char *msg, size_t cap)
{
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
	ret = -posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (ret < 0) {
		close(pipefd[0]);
		snprintf(msg, cap, "running %s: %s", argv[0], strerror(-ret));
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
			snprintf(msg, cap, "waiting for %s: %s", argv[0], strerror(errno));
			return ret;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		snprintf(msg, cap, "%s exited with %d: %.200s", argv[0], WEXITSTATUS(status),
			 last_line(err));
	else
		snprintf(msg, cap, "%s was killed by signal %d", argv[0], WTERMSIG(status));
	return -EIO;
}
