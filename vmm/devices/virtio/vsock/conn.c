/* conn: vsock connections: state machine, credit both ways, bounded buffering, RST replies. */
#include "vmm/devices/virtio/vsock/conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vmm/devices/virtio/vsock/hybrid.h"
#include "lib/util/log.h"

void vsock_conns_init(struct vsock_conns *t, uint64_t guest_cid, int epfd, int timerfd,
		      const char *uds_path)
{
	memset(t, 0, sizeof(*t));
	t->guest_cid = guest_cid;
	t->epfd = epfd;
	t->timerfd = timerfd;
	t->line_timeout_ms = VSOCK_LINE_TIMEOUT_MS;
	t->next_port = VSOCK_PORT_FIRST;
	snprintf(t->uds_path, sizeof(t->uds_path), "%s", uds_path);
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		t->c[i].fd = -1;
}

void vsock_conns_clear(struct vsock_conns *t)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (t->c[i].state != VSOCK_CONN_FREE)
			vsock_conn_free(t, &t->c[i]);
	t->nrst = 0;
}

struct vsock_conn *vsock_conn_alloc(struct vsock_conns *t, int fd, enum vsock_conn_state st)
{
	struct epoll_event e = { .events = EPOLLIN };

	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &t->c[i];

		if (c->state != VSOCK_CONN_FREE)
			continue;
		t->gen++;
		e.data.u64 = (uint64_t)t->gen << 32 | (VSOCK_TAG_CONN + i);
		if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &e) < 0)
			return NULL;
		memset(c, 0, sizeof(*c));
		c->gen = t->gen;
		c->state = st;
		c->fd = fd;
		c->events = EPOLLIN;
		t->nconns++;
		t->stats.conns++;
		return c;
	}
	return NULL;
}

static void close_host(struct vsock_conns *t, struct vsock_conn *c)
{
	if (c->fd < 0)
		return;
	if (!c->hup)
		(void)epoll_ctl(t->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
}

void vsock_conn_free(struct vsock_conns *t, struct vsock_conn *c)
{
	close_host(t, c);
	free(c->ring);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->state = VSOCK_CONN_FREE;
	t->nconns--;
}

void vsock_conn_reset(struct vsock_conns *t, struct vsock_conn *c)
{
	/* The guest knows the connection once we answered or sent REQUEST. */
	bool known = c->state == VSOCK_CONN_ESTABLISHED ||
		     (c->state == VSOCK_CONN_REQUESTED && !(c->pending & VSOCK_PEND_REQUEST));

	if (!known || c->state == VSOCK_CONN_DYING) {
		if (c->state != VSOCK_CONN_DYING)
			vsock_conn_free(t, c);
		return;
	}
	close_host(t, c);
	free(c->ring);
	c->ring = NULL;
	c->ring_len = 0;
	c->state = VSOCK_CONN_DYING;
	c->pending = VSOCK_PEND_RST;
}

static uint32_t guest_credit(const struct vsock_conn *c)
{
	uint32_t inflight = c->tx_cnt - c->peer_fwd_cnt;

	return inflight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - inflight;
}

void vsock_conn_arm(struct vsock_conns *t, struct vsock_conn *c)
{
	uint32_t want = 0;
	struct epoll_event e;

	if (c->fd < 0 || c->hup)
		return;
	if (c->state == VSOCK_CONN_HOST_LINE)
		want |= EPOLLIN;
	if (c->state == VSOCK_CONN_ESTABLISHED && !c->readable &&
	    !(c->guest_shut & VSOCK_SHUTDOWN_RCV) && guest_credit(c) > 0)
		want |= EPOLLIN;
	if (c->ring_len > 0)
		want |= EPOLLOUT;
	if (want == c->events)
		return;
	e.events = want;
	e.data.u64 = (uint64_t)c->gen << 32 | (VSOCK_TAG_CONN + (uint64_t)(c - t->c));
	if (epoll_ctl(t->epfd, EPOLL_CTL_MOD, c->fd, &e) == 0)
		c->events = want;
}

static void maybe_credit(struct vsock_conn *c)
{
	uint32_t unseen = c->rx_cnt - c->sent_fwd_cnt; /* what the guest thinks we hold */

	if (c->state != VSOCK_CONN_ESTABLISHED || c->fwd_cnt == c->sent_fwd_cnt)
		return;
	if (unseen > VSOCK_BUF_ALLOC || VSOCK_BUF_ALLOC - unseen < VSOCK_CREDIT_LOW)
		c->pending |= VSOCK_PEND_CREDIT;
}

/* Copies n bytes into the ring: from chain c at off, or from src if c is NULL. */
static int ring_put(struct vsock_conn *c, const struct vq_chain *ch, size_t off, const void *src,
		    uint32_t n)
{
	uint32_t done = 0;

	if (n > VSOCK_RING - c->ring_len)
		return -ENOBUFS;
	if (c->ring == NULL && (c->ring = malloc(VSOCK_RING)) == NULL)
		return -ENOMEM;
	while (done < n) {
		uint32_t tail = (c->ring_head + c->ring_len) % VSOCK_RING;
		uint32_t k = VSOCK_RING - tail < n - done ? VSOCK_RING - tail : n - done;

		if (ch != NULL)
			k = (uint32_t)vq_chain_read(ch, off + done, c->ring + tail, k);
		else
			memcpy(c->ring + tail, (const uint8_t *)src + done, k);
		if (k == 0)
			return -EIO; /* cannot happen: len was checked against read_len */
		c->ring_len += k;
		done += k;
	}
	return 0;
}

/* Writes the ring to the host socket until it would block. */
static void flush(struct vsock_conns *t, struct vsock_conn *c)
{
	while (c->ring_len > 0) {
		uint32_t k = VSOCK_RING - c->ring_head;
		ssize_t w;

		if (k > c->ring_len)
			k = c->ring_len;
		w = send(c->fd, c->ring + c->ring_head, k, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (w <= 0) {
			vsock_conn_reset(t, c);
			return;
		}
		c->ring_head = (c->ring_head + (uint32_t)w) % VSOCK_RING;
		c->ring_len -= (uint32_t)w;
		if ((uint32_t)w <= c->ring_ctl) {
			c->ring_ctl -= (uint32_t)w;
		} else {
			c->fwd_cnt += (uint32_t)w - c->ring_ctl;
			c->ring_ctl = 0;
		}
	}
	if (c->ring_len == 0) {
		if (c->close_after_flush) {
			vsock_conn_reset(t, c);
			return;
		}
		if (c->shut_wr_after_flush) {
			(void)shutdown(c->fd, SHUT_WR);
			c->shut_wr_after_flush = false;
		}
	}
	maybe_credit(c);
	vsock_conn_arm(t, c);
}

/* Guest payload of an RW packet: straight to the socket, the rest to the ring. */
static void guest_rw(struct vsock_conns *t, struct vsock_conn *c, const struct vsock_hdr *h,
		     const struct vq_chain *ch)
{
	uint32_t held = c->rx_cnt - c->fwd_cnt;
	uint32_t sent = 0;

	if (held > VSOCK_BUF_ALLOC || h->len > VSOCK_BUF_ALLOC - held) {
		log_ratelimited(LOG_WARN, "vsock: guest port %u overran its credit, reset",
				h->src_port);
		vsock_conn_reset(t, c);
		return;
	}
	if (h->len == 0)
		return;
	if (c->ring_len == 0) {
		struct iovec iov[VQ_MAX_SEGS];
		struct msghdr m = { .msg_iov = iov };
		size_t skip = VSOCK_HDR_SIZE, left = h->len;
		ssize_t w;

		m.msg_iovlen = vq_chain_iov(ch, false, skip, left, iov);
		w = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			vsock_conn_reset(t, c);
			return;
		}
		sent = w > 0 ? (uint32_t)w : 0;
	}
	c->rx_cnt += h->len;
	c->fwd_cnt += sent;
	t->stats.guest_to_host_bytes += h->len;
	if (sent < h->len && ring_put(c, ch, VSOCK_HDR_SIZE + sent, NULL, h->len - sent) < 0) {
		vsock_conn_reset(t, c);
		return;
	}
	maybe_credit(c);
}

static void guest_shutdown(struct vsock_conns *t, struct vsock_conn *c, uint32_t flags)
{
	c->guest_shut |= flags & (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
	if (c->guest_shut == (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND)) {
		/* 5.10.6.5: a full shutdown is answered by RST, after our data left. */
		c->close_after_flush = true;
		flush(t, c);
	} else if (c->guest_shut & VSOCK_SHUTDOWN_SEND) {
		c->shut_wr_after_flush = true;
		flush(t, c);
	}
}

static struct vsock_conn *find(struct vsock_conns *t, uint32_t host_port, uint32_t guest_port)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &t->c[i];

		if (c->state >= VSOCK_CONN_REQUESTED && c->host_port == host_port &&
		    c->guest_port == guest_port)
			return c;
	}
	return NULL;
}

bool vsock_conns_rst_full(const struct vsock_conns *t)
{
	return t->nrst >= VSOCK_RST_QUEUE;
}

bool vsock_conns_queue_rst(struct vsock_conns *t, const struct vsock_hdr *h)
{
	if (h->op == VSOCK_OP_RST)
		return true; /* never answer an RST */
	if (vsock_conns_rst_full(t)) {
		log_ratelimited(LOG_WARN, "vsock: RST queue full, reply to port %u dropped",
				h->src_port);
		return false;
	}
	t->rst[t->nrst].host_port = h->dst_port;
	t->rst[t->nrst].guest_port = h->src_port;
	t->nrst++;
	return true;
}

void vsock_conn_guest_pkt(struct vsock_conns *t, const struct vsock_hdr *h,
			  const struct vq_chain *ch)
{
	struct vsock_conn *c = find(t, h->dst_port, h->src_port);

	if (c == NULL) {
		if (h->op == VSOCK_OP_REQUEST)
			vsock_hybrid_guest_connect(t, h);
		else
			(void)vsock_conns_queue_rst(t, h);
		return;
	}
	if (c->state == VSOCK_CONN_DYING)
		return; /* our RST is on its way */
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case VSOCK_OP_RESPONSE:
		if (c->state == VSOCK_CONN_REQUESTED && !(c->pending & VSOCK_PEND_REQUEST)) {
			char ok[VSOCK_LINE_MAX];
			int n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);

			c->state = VSOCK_CONN_ESTABLISHED;
			if (ring_put(c, NULL, 0, ok, (uint32_t)n) < 0) {
				vsock_conn_reset(t, c);
				return;
			}
			c->ring_ctl = (uint32_t)n;
			flush(t, c);
			return;
		}
		vsock_conn_reset(t, c);
		return;
	case VSOCK_OP_RST:
		vsock_conn_free(t, c);
		return;
	case VSOCK_OP_RW:
		if (c->state != VSOCK_CONN_ESTABLISHED || (c->guest_shut & VSOCK_SHUTDOWN_SEND)) {
			vsock_conn_reset(t, c);
			return;
		}
		guest_rw(t, c, h, ch);
		break;
	case VSOCK_OP_SHUTDOWN:
		if (c->state != VSOCK_CONN_ESTABLISHED) {
			vsock_conn_reset(t, c);
			return;
		}
		guest_shutdown(t, c, h->flags);
		return;
	case VSOCK_OP_CREDIT_REQUEST:
		c->pending |= VSOCK_PEND_CREDIT;
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		break;
	default: /* REQUEST on a live connection */
		vsock_conn_reset(t, c);
		return;
	}
	if (c->state != VSOCK_CONN_FREE && c->state != VSOCK_CONN_DYING)
		vsock_conn_arm(t, c);
}

void vsock_conn_host_event(struct vsock_conns *t, struct vsock_conn *c, uint32_t events)
{
	if (c->state == VSOCK_CONN_HOST_LINE) {
		vsock_hybrid_line(t, c);
		return;
	}
	if (c->fd < 0)
		return;
	if (events & (EPOLLHUP | EPOLLERR)) {
		/* Always reported, whatever the interest: take the fd out of epoll
		 * so it cannot spin, then let a read find the EOF. */
		(void)epoll_ctl(t->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		c->hup = true;
		if (c->state != VSOCK_CONN_ESTABLISHED || (c->guest_shut & VSOCK_SHUTDOWN_RCV)) {
			vsock_conn_reset(t, c);
			return;
		}
		c->readable = true;
		if (c->ring_len > 0)
			flush(t, c);
		return;
	}
	if (events & EPOLLOUT)
		flush(t, c);
	if (c->state == VSOCK_CONN_ESTABLISHED && (events & EPOLLIN)) {
		c->readable = true;
		vsock_conn_arm(t, c);
	}
}

static bool has_work(const struct vsock_conn *c)
{
	if (c->pending != 0)
		return true;
	return c->state == VSOCK_CONN_ESTABLISHED && c->readable &&
	       !(c->guest_shut & VSOCK_SHUTDOWN_RCV) && guest_credit(c) > 0;
}

/* Reads host bytes into the chain after the header. >0 bytes, 0 EOF, -errno. */
static ssize_t read_host(struct vsock_conn *c, const struct vq_chain *ch, uint32_t max)
{
	struct iovec iov[VQ_MAX_SEGS];
	struct msghdr m = { .msg_iov = iov };
	size_t skip = VSOCK_HDR_SIZE, left = max;
	ssize_t r;

	m.msg_iovlen = vq_chain_iov(ch, true, skip, left, iov);
	r = recvmsg(c->fd, &m, MSG_DONTWAIT);
	return r < 0 ? -errno : r;
}

/* One packet for connection c, or false (nothing could be produced). */
static bool produce(struct vsock_conns *t, struct vsock_conn *c, const struct vq_chain *ch,
		    struct vsock_hdr *h)
{
	h->src_port = c->host_port;
	h->dst_port = c->guest_port;
	if (c->pending & VSOCK_PEND_RST) {
		h->op = VSOCK_OP_RST;
		vsock_conn_free(t, c);
		return true;
	}
	h->buf_alloc = VSOCK_BUF_ALLOC;
	h->fwd_cnt = c->fwd_cnt;
	if (c->pending & VSOCK_PEND_REQUEST) {
		h->op = VSOCK_OP_REQUEST;
		c->pending &= ~VSOCK_PEND_REQUEST;
	} else if (c->pending & VSOCK_PEND_RESPONSE) {
		h->op = VSOCK_OP_RESPONSE;
		c->pending &= ~VSOCK_PEND_RESPONSE;
	} else if (has_work(c) && c->readable) {
		uint32_t max = guest_credit(c);
		ssize_t r;

		if (max > VSOCK_MAX_PKT)
			max = VSOCK_MAX_PKT;
		if (max > ch->write_len - VSOCK_HDR_SIZE)
			max = ch->write_len - VSOCK_HDR_SIZE;
		if (max == 0) {
			/* Header-only buffer: keep `readable` (re-arming IN now would
			 * spin on a level-triggered fd); it waits for a bigger one. */
			if (!(c->pending & VSOCK_PEND_CREDIT))
				return false;
			h->op = VSOCK_OP_CREDIT_UPDATE;
			goto sent;
		}
		r = read_host(c, ch, max);
		if (r == 0 || (r < 0 && r != -EAGAIN && r != -EINTR)) {
			/* The host peer went away: the guest gets RST. */
			vsock_conn_reset(t, c);
			if (c->state == VSOCK_CONN_FREE)
				return false;
			h->op = VSOCK_OP_RST;
			vsock_conn_free(t, c);
			return true;
		}
		if (r < 0) {
			c->readable = false;
			vsock_conn_arm(t, c);
			if (!(c->pending & VSOCK_PEND_CREDIT))
				return false;
			h->op = VSOCK_OP_CREDIT_UPDATE;
		} else {
			h->op = VSOCK_OP_RW;
			h->len = (uint32_t)r;
			c->tx_cnt += (uint32_t)r;
			t->stats.host_to_guest_bytes += (uint64_t)r;
		}
	} else if (c->pending & VSOCK_PEND_CREDIT) {
		h->op = VSOCK_OP_CREDIT_UPDATE;
	} else {
		return false;
	}
sent:
	c->pending &= ~VSOCK_PEND_CREDIT; /* every packet carries fwd_cnt */
	c->sent_fwd_cnt = c->fwd_cnt;
	vsock_conn_arm(t, c);
	return true;
}

bool vsock_conns_fill_rx(struct vsock_conns *t, const struct vq_chain *ch, uint32_t *written)
{
	struct vsock_hdr h = {
		.src_cid = VSOCK_HOST_CID,
		.dst_cid = t->guest_cid,
		.type = VSOCK_TYPE_STREAM,
	};
	uint8_t raw[VSOCK_HDR_SIZE];
	bool made = false;

	if (t->nrst > 0) {
		t->nrst--;
		h.op = VSOCK_OP_RST;
		h.src_port = t->rst[t->nrst].host_port;
		h.dst_port = t->rst[t->nrst].guest_port;
		made = true;
	}
	for (unsigned i = 0; !made && i < VSOCK_MAX_CONNS; i++) {
		unsigned idx = (t->rr + i) % VSOCK_MAX_CONNS;
		struct vsock_conn *c = &t->c[idx];

		if (c->state == VSOCK_CONN_FREE || c->state == VSOCK_CONN_HOST_LINE || !has_work(c))
			continue;
		made = produce(t, c, ch, &h);
		if (made)
			t->rr = idx + 1; /* round robin: the next call starts after it */
	}
	if (!made)
		return false;
	vsock_hdr_encode(&h, raw);
	(void)vq_chain_write(ch, 0, raw, sizeof(raw));
	*written = VSOCK_HDR_SIZE + h.len;
	return true;
}
