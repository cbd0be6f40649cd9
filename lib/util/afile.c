/* afile: atomic file replacement by temp file, fsync and rename (see afile.h). */
#include "lib/util/afile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

int afile_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* The folder part of path ("." if it has none). */
static int dir_of(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL)
		return snprintf(out, cap, ".") < (int)cap ? 0 : -ENAMETOOLONG;
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= cap)
		return -ENAMETOOLONG;
	memcpy(out, path, n);
	out[n] = '\0';
	return 0;
}

int afile_open(struct afile *af, const char *path, mode_t mode)
{
	uint64_t rnd;
	int n;

	af->fd = -1;
	af->tmp[0] = '\0';
	n = snprintf(af->path, sizeof(af->path), "%s", path);
	if (n < 0 || (size_t)n >= sizeof(af->path))
		return -ENAMETOOLONG;
	/* A few tries: another writer of the same path may hold a name. */
	for (int tries = 0; tries < 8; tries++) {
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			return -EIO;
		n = snprintf(af->tmp, sizeof(af->tmp), "%s.%016llx" AFILE_TMP_SUFFIX, path,
			     (unsigned long long)rnd);
		if (n < 0 || (size_t)n >= sizeof(af->tmp)) {
			af->tmp[0] = '\0';
			return -ENAMETOOLONG;
		}
		af->fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
		if (af->fd >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	n = -errno;
	af->tmp[0] = '\0';
	return n;
}

void afile_abort(struct afile *af)
{
	if (af->fd >= 0)
		close(af->fd);
	af->fd = -1;
	if (af->tmp[0] != '\0')
		unlink(af->tmp);
	af->tmp[0] = '\0';
}

int afile_commit(struct afile *af)
{
	char dir[PATH_MAX];
	int ret;

	if (af->fd < 0 || af->tmp[0] == '\0')
		return -EBADF;
	ret = dir_of(af->path, dir, sizeof(dir));
	if (ret < 0)
		goto err;
	if (fsync(af->fd) < 0) {
		ret = -errno;
		goto err;
	}
	ret = close(af->fd) < 0 ? -errno : 0;
	af->fd = -1;
	if (ret < 0)
		goto err;
	if (rename(af->tmp, af->path) < 0) {
		ret = -errno;
		goto err;
	}
	af->tmp[0] = '\0';
	return afile_fsync_dir(dir);

err:
	afile_abort(af);
	return ret;
}

int afile_write(const char *path, const void *buf, size_t len, mode_t mode)
{
	struct afile af;
	const char *p = buf;
	int ret = afile_open(&af, path, mode);

	if (ret < 0)
		return ret;
	while (len > 0) {
		ssize_t n = write(af.fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			afile_abort(&af);
			return ret;
		}
		p += n;
		len -= (size_t)n;
	}
	return afile_commit(&af);
}
