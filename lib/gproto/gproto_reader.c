/* gproto_reader: the guest protocol's framer (see gproto.h): turns a byte
 * stream into validated frames, with a bounded buffer per connection. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/gproto/gproto.h"

/* The framer. Its buffer grows to the frame being received and falls back to
 * READER_BASE afterwards, so an idle connection holds 64 KiB, not 6 MiB. */
#define READER_BASE 65536u

void gproto_reader_init(struct gproto_reader *r, unsigned from)
{
	memset(r, 0, sizeof(*r));
	r->from = from;
}

void gproto_reader_free(struct gproto_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = r->start = r->end = 0;
}

static int reader_fail(struct gproto_reader *r, int err, const char *why)
{
	r->err = err;
	r->why = why;
	return err;
}

/* Bytes the frame at the front needs in all (header only, if that is partial);
 * validates the header as soon as it is complete. */
static int reader_need(struct gproto_reader *r, size_t *need)
{
	struct gproto_hdr h;
	const char *why;
	int ret;

	*need = GPROTO_HDR_LEN;
	if (r->end - r->start < GPROTO_HDR_LEN)
		return 0;
	ret = gproto_decode_header(r->buf + r->start, r->end - r->start, r->from, &h, &why);
	if (ret < 0)
		return reader_fail(r, ret, why);
	*need = GPROTO_HDR_LEN + (size_t)h.len;
	return 0;
}

/* Makes room after the buffered bytes: moves them to the front and resizes. */
static int reader_reserve(struct gproto_reader *r, size_t *avail)
{
	size_t pending = r->end - r->start, need, want;
	uint8_t *nb;
	int ret;

	if (r->err)
		return r->err;
	if ((ret = reader_need(r, &need)) < 0)
		return ret;
	if (r->start) {
		memmove(r->buf, r->buf + r->start, pending);
		r->start = 0;
		r->end = pending;
	}
	want = need > READER_BASE ? need : READER_BASE;
	if (want < pending)
		want = pending;
	if (want > r->cap || (r->cap > READER_BASE && want < r->cap)) {
		nb = realloc(r->buf, want);
		if (nb == NULL)
			return -ENOMEM;
		r->buf = nb;
		r->cap = want;
	}
	*avail = r->cap - r->end;
	return 0;
}

ssize_t gproto_reader_feed(struct gproto_reader *r, const void *data, size_t n)
{
	size_t avail;
	int ret = reader_reserve(r, &avail);

	if (ret < 0)
		return ret;
	if (n > avail)
		n = avail;
	if (n)
		memcpy(r->buf + r->end, data, n);
	r->end += n;
	return (ssize_t)n;
}

ssize_t gproto_reader_read(struct gproto_reader *r, int fd)
{
	size_t avail;
	ssize_t n;
	int ret = reader_reserve(r, &avail);

	if (ret < 0)
		return ret;
	if (avail == 0)
		return -ENOBUFS; /* complete frames are waiting: call gproto_reader_next() */
	n = read(fd, r->buf + r->end, avail);
	if (n < 0)
		return -errno;
	r->end += (size_t)n;
	return n;
}

int gproto_reader_next(struct gproto_reader *r, struct gproto_frame *f)
{
	size_t pending = r->end - r->start;
	const char *why;
	int ret;

	if (r->err)
		return r->err;
	if (pending < GPROTO_HDR_LEN)
		return 0;
	ret = gproto_decode_header(r->buf + r->start, pending, r->from, &f->hdr, &why);
	if (ret < 0)
		return reader_fail(r, ret, why);
	if (pending - GPROTO_HDR_LEN < f->hdr.len)
		return 0;
	f->body = r->buf + r->start + GPROTO_HDR_LEN;
	r->start += GPROTO_HDR_LEN + (size_t)f->hdr.len;
	return 1;
}

bool gproto_reader_pending(const struct gproto_reader *r)
{
	return r->end > r->start;
}
