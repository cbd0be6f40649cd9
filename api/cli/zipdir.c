/* zipdir: a folder -> zip in memory with libarchive's disk reader and zip writer (see zipdir.h). */
#include "api/cli/zipdir.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct membuf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

static la_ssize_t on_write(struct archive *a, void *arg, const void *buf, size_t n)
{
	struct membuf *m = arg;

	(void)a;
	if (m->len + n > CLI_ZIP_MAX) {
		m->err = -EFBIG;
		return -1;
	}
	if (m->len + n > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 65536;
		uint8_t *g;

		while (cap < m->len + n)
			cap *= 2;
		g = realloc(m->p, cap);
		if (g == NULL) {
			m->err = -ENOMEM;
			return -1;
		}
		m->p = g;
		m->cap = cap;
	}
	memcpy(m->p + m->len, buf, n);
	m->len += n;
	return (la_ssize_t)n;
}

static int copy_entry(struct archive *disk, struct archive *zip, struct archive_entry *e)
{
	char buf[65536];
	la_ssize_t n;

	if (archive_write_header(zip, e) != ARCHIVE_OK)
		return -EIO;
	if (archive_entry_filetype(e) != AE_IFREG)
		return 0;
	while ((n = archive_read_data(disk, buf, sizeof(buf))) > 0) {
		if (archive_write_data(zip, buf, (size_t)n) != n)
			return -EIO;
	}
	return n < 0 ? -EIO : 0;
}

int cli_zip_dir(const char *dir, uint8_t **out, size_t *out_len)
{
	struct archive *disk = archive_read_disk_new(), *zip = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	struct membuf m = { 0 };
	size_t dlen = strlen(dir);
	int r, ret = -EIO;

	while (dlen > 1 && dir[dlen - 1] == '/')
		dlen--;
	if (disk == NULL || zip == NULL || e == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	archive_read_disk_set_symlink_physical(disk);
	archive_read_disk_set_standard_lookup(disk);
	/* No blocking: libarchive would pad the zip to 10240-byte blocks. */
	archive_write_set_bytes_per_block(zip, 0);
	if (archive_write_set_format_zip(zip) != ARCHIVE_OK ||
	    archive_write_zip_set_compression_deflate(zip) != ARCHIVE_OK ||
	    archive_write_open(zip, &m, NULL, on_write, NULL) != ARCHIVE_OK ||
	    archive_read_disk_open(disk, dir) != ARCHIVE_OK) {
		fprintf(stderr, "ember: zipping %s: %s\n", dir, archive_error_string(disk));
		goto out;
	}
	while ((r = archive_read_next_header2(disk, e)) != ARCHIVE_EOF) {
		const char *path;

		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			fprintf(stderr, "ember: zipping %s: %s\n", dir, archive_error_string(disk));
			goto out;
		}
		archive_read_disk_descend(disk);
		path = archive_entry_pathname(e);
		/* The folder itself is the zip's root, not an entry. */
		if (path == NULL || strncmp(path, dir, dlen) != 0 || path[dlen] != '/' ||
		    path[dlen + 1] == '\0')
			continue;
		archive_entry_set_pathname(e, path + dlen + 1);
		archive_entry_set_uid(e, 0);
		archive_entry_set_gid(e, 0);
		archive_entry_set_uname(e, NULL);
		archive_entry_set_gname(e, NULL);
		ret = copy_entry(disk, zip, e);
		if (ret < 0) {
			fprintf(stderr, "ember: zipping %s: %s\n", archive_entry_pathname(e),
				m.err == -EFBIG ? "the zip is over 50 MB"
						: archive_error_string(zip));
			if (m.err < 0)
				ret = m.err;
			goto out;
		}
	}
	if (archive_write_close(zip) != ARCHIVE_OK) {
		ret = m.err < 0 ? m.err : -EIO;
		fprintf(stderr, "ember: zipping %s: %s\n", dir,
			m.err == -EFBIG ? "the zip is over 50 MB" : archive_error_string(zip));
		goto out;
	}
	*out = m.p;
	*out_len = m.len;
	m.p = NULL;
	ret = 0;
out:
	archive_entry_free(e);
	if (disk != NULL)
		archive_read_free(disk);
	if (zip != NULL)
		archive_write_free(zip);
	free(m.p);
	return ret;
}

int cli_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	int ret;

	if (fd < 0) {
		ret = -errno;
		fprintf(stderr, "ember: %s: %s\n", path, strerror(errno));
		return ret;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			uint8_t *g;

			cap = cap ? cap * 2 : 65536;
			if (cap > max + 1)
				cap = max + 1;
			g = realloc(buf, cap);
			if (g == NULL) {
				ret = -ENOMEM;
				goto err;
			}
			buf = g;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			fprintf(stderr, "ember: %s: %s\n", path, strerror(errno));
			goto err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			fprintf(stderr, "ember: %s: larger than %zu bytes\n", path, max);
			ret = -EFBIG;
			goto err;
		}
	}
	close(fd);
	*out = buf;
	*out_len = len;
	return 0;
err:
	close(fd);
	free(buf);
	return ret;
}
