/* zip: libarchive reads the zip; each entry is checked, then written with *at() calls under the staging folder (see zip.h). */
#include "api/code/zip.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COMPONENT_MAX 255
#define COPY_BUF      65536

struct unzip {
	struct archive *a;
	int root;
	uint64_t written, max;
	char *msg;
	size_t cap;
	char buf[COPY_BUF];
};

static int refuse(struct unzip *u, const char *path, const char *why)
{
	snprintf(u->msg, u->cap, "Zip entry '%.200s' %s", path, why);
	return -EINVAL;
}

/* Normalises path into out: no "./" or empty components, no trailing '/'.
 * Refuses absolute paths, ".." and over-long names. *depth = components. */
static int clean_path(struct unzip *u, const char *path, char *out, unsigned *depth)
{
	size_t len = strlen(path), o = 0;
	const char *p = path;

	*depth = 0;
	if (len == 0 || len >= ZIP_PATH_MAX)
		return refuse(u, path, "has an empty or over-long path");
	if (path[0] == '/' || path[0] == '\\')
		return refuse(u, path, "has an absolute path");
	while (*p != '\0') {
		const char *end = strchr(p, '/');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return refuse(u, path,
				      "has a '..' component (outside the function's folder)");
		if (n > COMPONENT_MAX)
			return refuse(u, path, "has a name over 255 bytes");
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (o > 0)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
			(*depth)++;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	out[o] = '\0';
	if (o == 0)
		return refuse(u, path, "names the zip's root");
	return 0;
}

/* Does a symlink at `path` (depth components) pointing at target stay inside? */
static bool link_stays_inside(const char *target, unsigned depth)
{
	long level = (long)depth - 1; /* the link's folder */
	const char *p = target;

	if (target[0] == '\0' || target[0] == '/')
		return false;
	while (*p != '\0') {
		const char *end = strchr(p, '/');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (--level < 0)
				return false;
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			level++;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	return true;
}

/* Opens (creating as needed) the folder that holds the last component of
 * path; *base points at that component. Never follows a symlink. */
static int open_parent(struct unzip *u, const char *shown, char *path, const char **base, int *out)
{
	int fd = dup(u->root);
	char *p = path, *slash;

	if (fd < 0)
		return -errno;
	while ((slash = strchr(p, '/')) != NULL) {
		int next;

		*slash = '\0';
		next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT) {
			if (mkdirat(fd, p, 0755) < 0 && errno != EEXIST) {
				int ret = -errno;

				snprintf(u->msg, u->cap, "creating a folder for '%.200s': %s",
					 shown, strerror(errno));
				*slash = '/';
				close(fd);
				return ret;
			}
			next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		*slash = '/';
		close(fd);
		if (next < 0)
			return refuse(u, shown, "goes through a symlink or a file");
		fd = next;
		p = slash + 1;
	}
	*base = p;
	*out = fd;
	return 0;
}

static int make_dir(struct unzip *u, const char *shown, char *path, mode_t perm)
{
	const char *base;
	int parent, fd, ret = open_parent(u, shown, path, &base, &parent);

	if (ret < 0)
		return ret;
	if (mkdirat(parent, base, 0700) < 0 && errno != EEXIST) {
		ret = -errno;
		snprintf(u->msg, u->cap, "creating '%.200s': %s", shown, strerror(errno));
		goto out;
	}
	fd = openat(parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		ret = refuse(u, shown, "is a folder, and another entry of that name is not");
		goto out;
	}
	if (fchmod(fd, (perm & 0777) | 0700) < 0)
		ret = -errno;
	close(fd);
out:
	close(parent);
	return ret;
}

static int copy_data(struct unzip *u, const char *shown, int fd)
{
	for (;;) {
		la_ssize_t n = archive_read_data(u->a, u->buf, sizeof(u->buf));

		if (n == 0)
			return 0;
		if (n < 0) {
			snprintf(u->msg, u->cap, "%s", ZIP_MSG_CORRUPT);
			return -EINVAL;
		}
		u->written += (uint64_t)n;
		if (u->written > u->max) {
			snprintf(u->msg, u->cap, "Unzipped size must be smaller than %llu bytes",
				 (unsigned long long)u->max);
			return -EINVAL;
		}
		for (la_ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, u->buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				int ret = -errno;

				snprintf(u->msg, u->cap, "writing '%.200s': %s", shown,
					 strerror(errno));
				return ret;
			}
			off += w;
		}
	}
}

static int make_file(struct unzip *u, const char *shown, char *path, mode_t perm)
{
	const char *base;
	int parent, fd, ret = open_parent(u, shown, path, &base, &parent);

	if (ret < 0)
		return ret;
	fd = openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = errno == EEXIST ? refuse(u, shown, "appears twice in the zip") : -errno;
		if (ret != -EINVAL)
			snprintf(u->msg, u->cap, "creating '%.200s': %s", shown, strerror(-ret));
		goto out;
	}
	ret = copy_data(u, shown, fd);
	if (ret == 0 && fchmod(fd, perm & 0777) < 0)
		ret = -errno;
	close(fd);
out:
	close(parent);
	return ret;
}

static int make_link(struct unzip *u, const char *shown, char *path, const char *target)
{
	const char *base;
	int parent, ret = open_parent(u, shown, path, &base, &parent);

	if (ret < 0)
		return ret;
	if (symlinkat(target, parent, base) < 0) {
		ret = errno == EEXIST ? refuse(u, shown, "appears twice in the zip") : -errno;
		if (ret != -EINVAL)
			snprintf(u->msg, u->cap, "creating '%.200s': %s", shown, strerror(-ret));
	}
	close(parent);
	return ret;
}

static int one_entry(struct unzip *u, struct archive_entry *e)
{
	const char *shown = archive_entry_pathname(e);
	char path[ZIP_PATH_MAX];
	unsigned depth;
	mode_t type = archive_entry_filetype(e);
	mode_t perm = archive_entry_perm(e);
	const char *target;
	int ret;

	if (shown == NULL) {
		snprintf(u->msg, u->cap, "Zip entry with an unreadable name");
		return -EINVAL;
	}
	ret = clean_path(u, shown, path, &depth);
	if (ret < 0)
		return ret;
	if (archive_entry_hardlink(e) != NULL)
		return refuse(u, shown, "is a hard link");
	switch (type) {
	case AE_IFDIR:
		return make_dir(u, shown, path, perm);
	case AE_IFREG:
		return make_file(u, shown, path, perm);
	case AE_IFLNK:
		target = archive_entry_symlink(e);
		if (target == NULL || strlen(target) >= ZIP_PATH_MAX ||
		    !link_stays_inside(target, depth))
			return refuse(u, shown, "is a symlink that points outside the zip");
		return make_link(u, shown, path, target);
	case AE_IFCHR:
	case AE_IFBLK:
		return refuse(u, shown, "is a device file");
	case AE_IFIFO:
		return refuse(u, shown, "is a fifo");
	case AE_IFSOCK:
		return refuse(u, shown, "is a socket");
	default:
		return refuse(u, shown, "is not a file, folder or symlink");
	}
}

int zip_extract(const void *zip, size_t len, int dirfd, uint64_t unzipped_max, uint64_t *unzipped,
		char *msg, size_t cap)
{
	struct unzip *u;
	struct archive_entry *e;
	unsigned entries = 0;
	int r, ret = 0;

	if (len > ZIP_ZIPPED_MAX) {
		snprintf(msg, cap, "Zipped size must be smaller than %llu bytes", ZIP_ZIPPED_MAX);
		return -EFBIG;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		snprintf(msg, cap, "out of memory");
		return -ENOMEM;
	}
	u->root = dirfd;
	u->max = unzipped_max;
	u->msg = msg;
	u->cap = cap;
	u->a = archive_read_new();
	if (u->a == NULL || archive_read_support_format_zip(u->a) != ARCHIVE_OK ||
	    archive_read_open_memory(u->a, zip, len) != ARCHIVE_OK) {
		snprintf(msg, cap, "%s", ZIP_MSG_CORRUPT);
		ret = -EINVAL;
		goto out;
	}
	while ((r = archive_read_next_header(u->a, &e)) != ARCHIVE_EOF) {
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			snprintf(msg, cap, "%s", ZIP_MSG_CORRUPT);
			ret = -EINVAL;
			break;
		}
		if (++entries > ZIP_ENTRIES_MAX) {
			snprintf(msg, cap, "The zip has more than %u entries", ZIP_ENTRIES_MAX);
			ret = -EINVAL;
			break;
		}
		ret = one_entry(u, e);
		if (ret < 0)
			break;
	}
	*unzipped = u->written;
out:
	if (u->a != NULL)
		archive_read_free(u->a);
	free(u);
	return ret;
}
