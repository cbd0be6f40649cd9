/* testbox-agent: runs commands inside the testbox's L1 for the host launcher.
 *
 * It listens on a TCP port that QEMU forwards from host loopback. Each
 * connection carries one command:
 *   request:  u32 length (LE), then NUL-terminated strings:
 *             cwd, zero or more "KEY=VALUE", an empty string, argv[0..]
 *   response: frames of u8 type + u32 length (LE) + data:
 *             'o' stdout bytes, 'e' stderr bytes, 'x' the exit status
 *             (u32: the exit code, or 128 + signal)
 * The command runs in its own session with stdin from /dev/null. If the
 * client goes away first (the launcher timed out or was interrupted), the
 * whole process group is killed. It is a test tool: it trusts its client,
 * which can only reach it through a loopback-only forward on the host. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_REQUEST (1u << 20)
#define MAX_ARGS    4096

/* Moves exactly len bytes with read(2) or write(2); -1 on error or EOF. */
static int io_all(ssize_t (*op)(int, void *, size_t), int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = op(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static ssize_t write_op(int fd, void *buf, size_t len)
{
	return write(fd, buf, len);
}

static int write_all(int fd, const void *buf, size_t len)
{
	return io_all(write_op, fd, (void *)buf, len);
}

static int read_all(int fd, void *buf, size_t len)
{
	return io_all(read, fd, buf, len);
}

static int send_frame(int fd, char type, const void *data, uint32_t len)
{
	unsigned char hdr[5] = { (unsigned char)type, len & 0xff, (len >> 8) & 0xff,
				 (len >> 16) & 0xff, len >> 24 };

	return write_all(fd, hdr, sizeof(hdr)) || write_all(fd, data, len) ? -1 : 0;
}

static void exec_request(char *req, uint32_t len)
{
	char *end = req + len, *p = req, *cwd;
	char *argv[MAX_ARGS + 1];
	int argc = 0, null;

	cwd = p;
	p += strlen(p) + 1;
	while (p < end && *p != '\0') {
		putenv(p);
		p += strlen(p) + 1;
	}
	p++;
	while (p < end && argc < MAX_ARGS) {
		argv[argc++] = p;
		p += strlen(p) + 1;
	}
	argv[argc] = NULL;
	if (argc == 0) {
		fprintf(stderr, "testbox-agent: empty command\n");
		_exit(127);
	}
	if (chdir(cwd) < 0) {
		fprintf(stderr, "testbox-agent: cd %s: %s\n", cwd, strerror(errno));
		_exit(127);
	}
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	dup2(null, 0);
	execvp(argv[0], argv);
	fprintf(stderr, "testbox-agent: %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Serves one connection: runs the command and relays its output. */
static void serve(int sock)
{
	int out[2], err[2], status;
	uint32_t len, code;
	unsigned char lenbuf[4];
	char *req, buf[65536];
	pid_t pid;

	if (read_all(sock, lenbuf, 4) < 0)
		return;
	len = lenbuf[0] | lenbuf[1] << 8 | lenbuf[2] << 16 | (uint32_t)lenbuf[3] << 24;
	if (len == 0 || len > MAX_REQUEST)
		return;
	req = calloc(1, len + 1);
	if (req == NULL || read_all(sock, req, len) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(err, O_CLOEXEC) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		setsid();
		close(sock);
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		exec_request(req, len);
	}
	close(out[1]);
	close(err[1]);
	struct pollfd fds[3] = { { out[0], POLLIN, 0 },
				 { err[0], POLLIN, 0 },
				 { sock, POLLIN, 0 } };
	int open_pipes = 2;

	while (pid > 0 && open_pipes > 0) {
		if (poll(fds, 3, -1) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (fds[i].revents == 0)
				continue;
			ssize_t n = read(fds[i].fd, buf, sizeof(buf));

			if (n <= 0) {
				fds[i].fd = -1;
				open_pipes--;
			} else if (send_frame(sock, i == 0 ? 'o' : 'e', buf, (uint32_t)n) < 0) {
				fds[2].revents = POLLHUP;
			}
		}
		/* Any input or hangup from the client means it gave up. */
		if (fds[2].revents != 0) {
			kill(-pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return;
		}
	}
	waitpid(pid, &status, 0);
	code = WIFEXITED(status) ? (uint32_t)WEXITSTATUS(status)
				 : 128u + (uint32_t)WTERMSIG(status);
	unsigned char cb[4] = { code & 0xff, (code >> 8) & 0xff, (code >> 16) & 0xff, code >> 24 };
	send_frame(sock, 'x', cb, 4);
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	int one = 1, lsock;

	if (argc != 2) {
		fprintf(stderr, "usage: testbox-agent PORT\n");
		return 1;
	}
	addr.sin_port = htons((uint16_t)atoi(argv[1]));
	/* Finished handlers are reaped by the kernel; each handler waits for
	 * its own command, so it puts SIGCHLD back to the default. */
	signal(SIGCHLD, SIG_IGN);
	lsock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(lsock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lsock < 0 || bind(lsock, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(lsock, 64) < 0) {
		perror("testbox-agent: listen");
		return 1;
	}
	/* The launcher waits for this line on the L1 console. */
	printf("testbox-agent: ready on port %s\n", argv[1]);
	fflush(stdout);
	for (;;) {
		int sock = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);

		if (sock < 0)
			continue;
		pid_t pid = fork();

		if (pid == 0) {
			close(lsock);
			signal(SIGCHLD, SIG_DFL);
			serve(sock);
			_exit(0);
		}
		close(sock);
	}
}
