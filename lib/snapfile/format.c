/* snap format: write, load and parse the state file; the bounded section reader (see format.h). */
#include "lib/snapfile/format.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "lib/util/le.h"
#include "lib/util/afile.h"
#include "lib/util/log.h"

#define WRITER_INITIAL_CAP 4096

/* ---- little-endian helpers: the file's byte order whatever the host's ---- */

/* zlib's crc32 takes a uInt length; feed it in bounded pieces. */
static uint32_t crc_of(const uint8_t *p, size_t n)
{
	uLong crc = crc32(0L, Z_NULL, 0);

	while (n > 0) {
		uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;

		crc = crc32(crc, p, chunk);
		p += chunk;
		n -= chunk;
	}
	return (uint32_t)crc;
}

const char *snap_tag_name(uint32_t tag, char buf[11])
{
	for (unsigned i = 0; i < 4; i++) {
		uint8_t c = (uint8_t)(tag >> (8 * i));

		if (c < 0x20 || c > 0x7e) {
			snprintf(buf, 11, "0x%08x", tag);
			return buf;
		}
		buf[i] = (char)c;
	}
	buf[4] = '\0';
	return buf;
}

/* ---- writer ---- */

static void w_fail(struct snap_writer *w, int err)
{
	if (w->error == 0)
		w->error = err;
}

/* Room for n more bytes, or a sticky failure. */
static uint8_t *w_reserve(struct snap_writer *w, size_t n)
{
	if (w->error != 0)
		return NULL;
	if (n > SNAP_MAX_STATE_BYTES - w->len) {
		log_err("snapshot state: more than %u bytes (SNAP_MAX_STATE_BYTES)",
			SNAP_MAX_STATE_BYTES);
		w_fail(w, -EFBIG);
		return NULL;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : WRITER_INITIAL_CAP;
		uint8_t *nb;

		while (cap < w->len + n)
			cap *= 2;
		nb = realloc(w->buf, cap);
		if (nb == NULL) {
			w_fail(w, -ENOMEM);
			return NULL;
		}
		w->buf = nb;
		w->cap = cap;
	}
	w->len += n;
	return w->buf + w->len - n;
}

static void w_le(struct snap_writer *w, uint64_t v, unsigned n)
{
	uint8_t *p = w_reserve(w, n);

	if (p != NULL)
		le_put(p, v, n);
}

void snap_w_u8(struct snap_writer *w, uint8_t v)
{
	w_le(w, v, 1);
}

void snap_w_u16(struct snap_writer *w, uint16_t v)
{
	w_le(w, v, 2);
}

void snap_w_u32(struct snap_writer *w, uint32_t v)
{
	w_le(w, v, 4);
}

void snap_w_u64(struct snap_writer *w, uint64_t v)
{
	w_le(w, v, 8);
}

void snap_w_bytes(struct snap_writer *w, const void *p, size_t n)
{
	uint8_t *d = n ? w_reserve(w, n) : NULL;

	if (d != NULL)
		memcpy(d, p, n);
}

int snap_w_init(struct snap_writer *w)
{
	memset(w, 0, sizeof(*w));
	w->section_start = SIZE_MAX;
	snap_w_bytes(w, SNAP_MAGIC, SNAP_MAGIC_LEN);
	snap_w_u16(w, SNAP_MAJOR);
	snap_w_u16(w, SNAP_MINOR);
	snap_w_u32(w, SNAP_ARCH_X86_64);
	snap_w_u64(w, 0); /* total length, patched by snap_w_finish */
	return w->error;
}

void snap_w_free(struct snap_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
	w->section_start = SIZE_MAX;
}

void snap_w_section_begin(struct snap_writer *w, uint32_t tag, uint32_t version)
{
	if (w->section_start != SIZE_MAX) {
		log_err("snapshot writer: section begun inside another (programming error)");
		w_fail(w, -EINVAL);
		return;
	}
	w->section_start = w->len;
	snap_w_u32(w, tag);
	snap_w_u32(w, version);
	snap_w_u64(w, 0); /* length, patched by snap_w_section_end */
}

void snap_w_section_end(struct snap_writer *w)
{
	if (w->section_start == SIZE_MAX) {
		log_err("snapshot writer: section end without a begin (programming error)");
		w_fail(w, -EINVAL);
		return;
	}
	if (w->error == 0)
		le_put(w->buf + w->section_start + 8,
		       w->len - w->section_start - SNAP_SECTION_HDR_LEN, 8);
	w->section_start = SIZE_MAX;
}

int snap_w_finish(struct snap_writer *w)
{
	if (w->section_start != SIZE_MAX) {
		log_err("snapshot writer: finished with a section open (programming error)");
		w_fail(w, -EINVAL);
	}
	if (w_reserve(w, SNAP_CRC_LEN) == NULL)
		return w->error;
	le_put(w->buf + SNAP_MAGIC_LEN + 8, w->len, 8);
	le_put(w->buf + w->len - SNAP_CRC_LEN, crc_of(w->buf, w->len - SNAP_CRC_LEN), 4);
	return 0;
}

int snap_w_to_file(const struct snap_writer *w, const char *path)
{
	int ret;

	if (w->error != 0 || w->len < SNAP_HEADER_LEN + SNAP_CRC_LEN)
		return w->error ? w->error : -EINVAL;
	ret = afile_write(path, w->buf, w->len, 0600);
	if (ret < 0)
		log_err("snapshot %s: write failed: %s", path, strerror(-ret));
	return ret;
}

/* ---- loading and parsing ---- */

int snap_file_load(const char *path, uint8_t **buf, size_t *len)
{
	struct stat st;
	uint8_t *b;
	size_t got = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		log_err("snapshot %s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		log_err("snapshot %s: fstat: %s", path, strerror(errno));
		goto err_close;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		log_err("snapshot %s: not a regular file", path);
		goto err_close;
	}
	/* The cap is checked before a byte is read or a buffer sized. */
	if (st.st_size > (off_t)SNAP_MAX_STATE_BYTES) {
		ret = -EFBIG;
		log_err("snapshot %s: %lld bytes, over the %u-byte limit for a state file", path,
			(long long)st.st_size, SNAP_MAX_STATE_BYTES);
		goto err_close;
	}
	b = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (b == NULL) {
		ret = -ENOMEM;
		goto err_close;
	}
	while (got < (size_t)st.st_size) {
		ssize_t k = read(fd, b + got, (size_t)st.st_size - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			ret = k < 0 ? -errno : -EIO;
			log_err("snapshot %s: read: %s", path,
				k < 0 ? strerror(errno) : "file shrank while being read");
			free(b);
			goto err_close;
		}
		got += (size_t)k;
	}
	close(fd);
	*buf = b;
	*len = got;
	return 0;

err_close:
	close(fd);
	return ret;
}

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("snapshot state file: %s", msg);
	return -EBADMSG;
}

int snap_file_parse(const uint8_t *buf, size_t len, struct snap_file *f)
{
	uint64_t total;
	uint32_t crc, want;
	size_t off, end;

	memset(f, 0, sizeof(*f));
	if (len > SNAP_MAX_STATE_BYTES)
		return bad("%zu bytes, over the %u-byte limit", len, SNAP_MAX_STATE_BYTES);
	if (len < SNAP_MAGIC_LEN || memcmp(buf, SNAP_MAGIC, SNAP_MAGIC_LEN) != 0)
		return bad("bad magic (not an ember snapshot state file)");
	if (len < SNAP_HEADER_LEN + SNAP_CRC_LEN)
		return bad("truncated: %zu bytes, shorter than header and CRC", len);
	f->major = (uint16_t)le_get(buf + 8, 2);
	f->minor = (uint16_t)le_get(buf + 10, 2);
	f->arch = (uint32_t)le_get(buf + 12, 4);
	total = le_get(buf + 16, 8);
	if (f->major != SNAP_MAJOR)
		return bad("format version %u.%u; this ember reads major version %u only", f->major,
			   f->minor, SNAP_MAJOR);
	if (f->minor > SNAP_MINOR)
		return bad("format version %u.%u is newer than this ember's %u.%u", f->major,
			   f->minor, SNAP_MAJOR, SNAP_MINOR);
	if (f->arch != SNAP_ARCH_X86_64)
		return bad("architecture %u, this ember restores x86_64 (%u) only", f->arch,
			   SNAP_ARCH_X86_64);
	if (total != len)
		return bad("%s: header says %llu bytes, file has %zu",
			   total > len ? "truncated" : "trailing bytes", (unsigned long long)total,
			   len);
	end = len - SNAP_CRC_LEN;
	want = (uint32_t)le_get(buf + end, 4);
	crc = crc_of(buf, end);
	if (crc != want)
		return bad("CRC mismatch (stored %08x, computed %08x): the file is corrupt", want,
			   crc);
	for (off = SNAP_HEADER_LEN; off < end;) {
		struct snap_section *s;
		uint64_t slen;
		char name[11];

		if (f->nsections == SNAP_MAX_SECTIONS)
			return bad("more than %u sections", SNAP_MAX_SECTIONS);
		if (end - off < SNAP_SECTION_HDR_LEN)
			return bad("section header at offset %zu runs past the end", off);
		s = &f->sections[f->nsections];
		s->tag = (uint32_t)le_get(buf + off, 4);
		s->version = (uint32_t)le_get(buf + off + 4, 4);
		slen = le_get(buf + off + 8, 8);
		if (slen > end - off - SNAP_SECTION_HDR_LEN)
			return bad("section '%s' at offset %zu: length %llu runs past the end",
				   snap_tag_name(s->tag, name), off, (unsigned long long)slen);
		s->data = buf + off + SNAP_SECTION_HDR_LEN;
		s->len = (size_t)slen;
		s->offset = off;
		s->index = snap_file_count(f, s->tag);
		f->nsections++;
		off += SNAP_SECTION_HDR_LEN + (size_t)slen;
	}
	return 0;
}

unsigned snap_file_count(const struct snap_file *f, uint32_t tag)
{
	unsigned n = 0;

	for (unsigned i = 0; i < f->nsections; i++)
		n += f->sections[i].tag == tag;
	return n;
}

const struct snap_section *snap_file_find(const struct snap_file *f, uint32_t tag, unsigned n)
{
	for (unsigned i = 0; i < f->nsections; i++)
		if (f->sections[i].tag == tag && n-- == 0)
			return &f->sections[i];
	return NULL;
}

int snap_file_check_tags(const struct snap_file *f, const uint32_t *known, size_t n)
{
	for (unsigned i = 0; i < f->nsections; i++) {
		size_t k = 0;
		char name[11];

		while (k < n && known[k] != f->sections[i].tag)
			k++;
		if (k == n)
			return bad("unknown section '%s' at offset %zu",
				   snap_tag_name(f->sections[i].tag, name), f->sections[i].offset);
	}
	return 0;
}

/* ---- reader ---- */

void snap_r_init(struct snap_reader *r, const struct snap_section *s)
{
	r->s = s;
	r->off = 0;
	r->failed = false;
}

size_t snap_r_left(const struct snap_reader *r)
{
	return r->failed ? 0 : r->s->len - r->off;
}

int snap_r_fail(struct snap_reader *r, const char *fmt, ...)
{
	char msg[200], name[11];
	va_list ap;

	if (r->failed)
		return -EBADMSG;
	r->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("snapshot state file: section '%s' #%u (version %u, at offset %zu), payload "
		"offset %zu: %s",
		snap_tag_name(r->s->tag, name), r->s->index, r->s->version, r->s->offset, r->off,
		msg);
	return -EBADMSG;
}

static const uint8_t *r_take(struct snap_reader *r, size_t n)
{
	if (r->failed)
		return NULL;
	if (n > r->s->len - r->off) {
		snap_r_fail(r, "truncated: %zu bytes wanted, %zu left", n, r->s->len - r->off);
		return NULL;
	}
	r->off += n;
	return r->s->data + r->off - n;
}

static uint64_t r_le(struct snap_reader *r, unsigned n)
{
	const uint8_t *p = r_take(r, n);

	return p ? le_get(p, n) : 0;
}

uint8_t snap_r_u8(struct snap_reader *r)
{
	return (uint8_t)r_le(r, 1);
}

uint16_t snap_r_u16(struct snap_reader *r)
{
	return (uint16_t)r_le(r, 2);
}

uint32_t snap_r_u32(struct snap_reader *r)
{
	return (uint32_t)r_le(r, 4);
}

uint64_t snap_r_u64(struct snap_reader *r)
{
	return r_le(r, 8);
}

void snap_r_bytes(struct snap_reader *r, void *dst, size_t n)
{
	const uint8_t *p = r_take(r, n);

	if (p != NULL)
		memcpy(dst, p, n);
	else if (n > 0)
		memset(dst, 0, n);
}

int snap_r_done(struct snap_reader *r)
{
	if (r->failed)
		return -EBADMSG;
	if (r->off != r->s->len)
		return snap_r_fail(r, "%zu bytes left over after the last field",
				   r->s->len - r->off);
	return 0;
}
