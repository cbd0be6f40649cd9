/* uds: claim and listen on an owned Unix socket path (see uds.h). */
#include "lib/util/uds.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/util/log.h"

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

int uds_claim(const char *path, const char *what)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		ret = -errno;
		log_err("%s %s: %s", what, path, strerror(errno));
		return ret;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_err("%s %s: the file exists and is not a socket", what, path);
		return -EEXIST;
	}
	ret = fill_addr(&sa, path);
	if (ret < 0) {
		log_err("%s %s: the path is too long for a Unix socket", what, path);
		return ret;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : -errno;
	close(fd);
	if (ret == -ECONNREFUSED) {
		log_info("%s %s: replacing a stale socket", what, path);
		if (unlink(path) < 0 && errno != ENOENT) {
			ret = -errno;
			log_err("%s %s: removing a stale socket: %s", what, path, strerror(errno));
			return ret;
		}
		return 0;
	}
	log_err("%s %s: the socket is in use (another VMM?)", what, path);
	return -EADDRINUSE;
}

int uds_bind(const char *path, int backlog, int *out)
{
	struct sockaddr_un sa;
	int fd, ret = fill_addr(&sa, path);

	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, backlog) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	*out = fd;
	return 0;
}

int uds_listen(const char *path, const char *what, int backlog, int *out)
{
	int ret = uds_claim(path, what);

	if (ret < 0)
		return ret;
	ret = uds_bind(path, backlog, out);
	if (ret == -ENAMETOOLONG)
		log_err("%s %s: the path is too long for a Unix socket (at most %zu bytes)", what,
			path, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	else if (ret < 0)
		log_err("%s %s: %s", what, path, strerror(-ret));
	return ret;
}
