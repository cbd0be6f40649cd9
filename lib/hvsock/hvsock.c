/* hvsock: hybrid vsock client handshake: "CONNECT <port>\n" out, "OK <n>\n" back (see hvsock.h). */
#include "lib/hvsock/hvsock.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int hvsock_format_request(uint32_t port, char *buf, size_t cap, size_t *len)
{
	int n = snprintf(buf, cap, "CONNECT %u\n", port);

	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	*len = (size_t)n;
	return 0;
}

int hvsock_start(const char *path, uint32_t port, int *fd)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char req[HVSOCK_REQUEST_MAX];
	size_t len;
	ssize_t n;
	int s, ret;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	memcpy(a.sun_path, path, strlen(path) + 1);
	ret = hvsock_format_request(port, req, sizeof(req), &len);
	if (ret < 0)
		return ret;
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		ret = -errno;
		goto err_close;
	}
	/* A fresh socket's send buffer is empty: the whole line goes at once. */
	n = send(s, req, len, MSG_NOSIGNAL);
	if (n != (ssize_t)len) {
		ret = n < 0 ? -errno : -EIO;
		goto err_close;
	}
	*fd = s;
	return 0;

err_close:
	close(s);
	return ret;
}

int hvsock_parse_reply(const void *data, size_t len, uint32_t *host_port, size_t *used)
{
	const char *p = data;
	const char *nl = memchr(p, '\n', len < HVSOCK_REPLY_MAX ? len : HVSOCK_REPLY_MAX);
	uint64_t v = 0;
	size_t i;

	if (nl == NULL) {
		/* Reject early what can no longer become "OK ": no need to wait. */
		for (i = 0; i < len && i < 3; i++)
			if (p[i] != "OK "[i])
				return -EPROTO;
		return len >= HVSOCK_REPLY_MAX ? -EPROTO : 0;
	}
	if (nl - p < 4 || memcmp(p, "OK ", 3) != 0)
		return -EPROTO;
	for (i = 3; p + i < nl; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EPROTO;
		v = v * 10 + (uint64_t)(p[i] - '0');
		if (v > UINT32_MAX)
			return -EPROTO;
	}
	*host_port = (uint32_t)v;
	*used = (size_t)(nl - p) + 1;
	return 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int hvsock_connect(const char *path, uint32_t port, int timeout_ms, int *fd, uint32_t *host_port)
{
	int64_t deadline = now_ms() + timeout_ms;
	char buf[HVSOCK_REPLY_MAX];
	size_t have = 0, used = 0;
	int s, ret;

	ret = hvsock_start(path, port, &s);
	if (ret < 0)
		return ret;
	/* One byte at a time: whatever follows the reply is the guest's. */
	do {
		struct pollfd pfd = { .fd = s, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left <= 0) {
			ret = -ETIMEDOUT;
			goto err_close;
		}
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR) {
			ret = -errno;
			goto err_close;
		}
		n = read(s, buf + have, 1);
		if (n == 0) {
			ret = -ECONNREFUSED;
			goto err_close;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			ret = -errno;
			goto err_close;
		}
		have++;
		ret = hvsock_parse_reply(buf, have, host_port, &used);
		if (ret < 0)
			goto err_close;
	} while (ret == 0);
	*fd = s;
	return 0;

err_close:
	close(s);
	return ret;
}
