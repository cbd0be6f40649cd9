/* queue: split virtqueue (virtio 1.x 2.7): activation, chain validation, used ring, EVENT_IDX. */
#include "vmm/devices/virtio/queue.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "lib/util/log.h"

/* A descriptor as copied out of guest memory (2.7.5). Once copied, the guest
 * can no longer change what we check. */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* Where a chain walk stands: which table, how big, how many steps remain. */
struct walk {
	const uint8_t *table;
	uint32_t entries;
	uint32_t ttl;
	bool indirect;
	bool seen_write;
};

static int broken(struct vq *vq, const char *why)
{
	vq->broken = true;
	log_ratelimited(LOG_WARN, "virtq %s: %s; queue broken, device needs reset",
			vq->name ? vq->name : "?", why);
	return -EIO;
}

/* Guest-shared ring fields: single aligned loads and stores (alignment is
 * checked at activation), so the compiler neither tears nor repeats them. */
static uint16_t load16(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_RELAXED));
}

static void store16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)(void *)p, htole16(v), __ATOMIC_RELAXED);
}

static void store32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)p, htole32(v), __ATOMIC_RELAXED);
}

static bool is_pow2(uint32_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

static bool has(const struct vq *vq, unsigned bit)
{
	return (vq->features & VIRTIO_BIT(bit)) != 0;
}

static uint8_t *ring_slice(const struct gmem *gm, gpa_t gpa, uint64_t len, uint64_t align)
{
	if (gpa % align != 0)
		return NULL;
	return gmem_slice(gm, gpa, len);
}

int vq_activate(struct vq *vq, const struct gmem *gm, uint16_t max_size)
{
	uint8_t *desc, *avail, *used;

	vq->active = false;
	if (max_size > VQ_SIZE_MAX || !is_pow2(vq->size) || vq->size > max_size)
		return -EINVAL;
	desc = ring_slice(gm, vq->desc_gpa, (uint64_t)VIRTQ_DESC_SIZE * vq->size, VIRTQ_DESC_ALIGN);
	avail = ring_slice(gm, vq->avail_gpa, VIRTQ_AVAIL_BYTES(vq->size), VIRTQ_AVAIL_ALIGN);
	used = ring_slice(gm, vq->used_gpa, VIRTQ_USED_BYTES(vq->size), VIRTQ_USED_ALIGN);
	if (desc == NULL || avail == NULL || used == NULL)
		return -EINVAL;
	vq->gm = gm;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->last_avail = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->broken = false;
	vq->active = true;
	return 0;
}

void vq_reset(struct vq *vq)
{
	const char *name = vq->name;

	memset(vq, 0, sizeof(*vq));
	vq->name = name;
}

void vq_set_broken(struct vq *vq)
{
	vq->broken = true;
}

/* Copy once (rule 2 of the untrusted boundary): everything below looks only at d. */
static void read_desc(const uint8_t *table, uint32_t idx, struct desc *d)
{
	uint8_t raw[VIRTQ_DESC_SIZE];
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;

	memcpy(raw, table + (size_t)idx * VIRTQ_DESC_SIZE, sizeof(raw));
	memcpy(&addr, raw, 8);
	memcpy(&len, raw + 8, 4);
	memcpy(&flags, raw + 12, 2);
	memcpy(&next, raw + 14, 2);
	d->addr = le64toh(addr);
	d->len = le32toh(len);
	d->flags = le16toh(flags);
	d->next = le16toh(next);
}

/* Switches the walk to the indirect table d describes (2.7.5.3). */
static int enter_indirect(struct vq *vq, struct walk *w, const struct desc *d)
{
	if (!has(vq, VIRTIO_RING_F_INDIRECT_DESC))
		return broken(vq, "indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC");
	if (w->indirect)
		return broken(vq, "nested indirect descriptor");
	if (d->flags & VIRTQ_DESC_F_NEXT)
		return broken(vq, "indirect descriptor with NEXT");
	if (d->len == 0 || d->len % VIRTQ_DESC_SIZE != 0)
		return broken(vq, "indirect table length not a non-zero multiple of 16");
	if (d->len > VIRTQ_DESC_SIZE * VQ_MAX_SEGS)
		return broken(vq, "indirect table longer than VQ_MAX_SEGS entries");
	w->table = gmem_slice(vq->gm, d->addr, d->len);
	if (w->table == NULL)
		return broken(vq, "indirect table outside guest memory");
	w->entries = d->len / VIRTQ_DESC_SIZE;
	w->ttl = w->entries;
	w->indirect = true;
	return 0;
}

/* Adds one data buffer to the chain, in readable-then-writable order. */
static int add_buffer(struct vq *vq, struct walk *w, const struct desc *d, struct vq_chain *c)
{
	bool writable = (d->flags & VIRTQ_DESC_F_WRITE) != 0;
	uint32_t *total = writable ? &c->write_len : &c->read_len;
	struct vq_seg *seg;

	/* 2.7.4.2: "The driver MUST place any device-writable descriptor elements
	 * after any device-readable descriptor elements." */
	if (writable)
		w->seen_write = true;
	else if (w->seen_write)
		return broken(vq, "device-readable buffer after a writable one");
	if (d->len == 0)
		return 0; /* carries no bytes; skipped */
	if (c->nread + c->nwrite >= VQ_MAX_SEGS)
		return broken(vq, "chain has more than VQ_MAX_SEGS buffers");
	if ((uint64_t)*total + d->len > UINT32_MAX)
		return broken(vq, "chain length overflows 32 bits");
	seg = &c->seg[c->nread + c->nwrite];
	seg->host = gmem_slice(vq->gm, d->addr, d->len);
	if (seg->host == NULL)
		return broken(vq, "buffer outside guest memory");
	seg->len = d->len;
	seg->gpa = d->addr;
	*total += d->len;
	if (writable) {
		/* The device may write all of it: a Diff snapshot must hold it. */
		gmem_mark_dirty(vq->gm, d->addr, d->len);
		c->nwrite++;
	} else
		c->nread++;
	return 0;
}

/* Walks the chain at head. Bounded: every step costs one TTL unit, the main
 * table grants `size`, an indirect table its entry count, and an indirect
 * table can be entered once. */
static int walk_chain(struct vq *vq, uint16_t head, struct vq_chain *c)
{
	struct walk w = { .table = vq->desc, .entries = vq->size, .ttl = vq->size };
	uint32_t idx = head;
	struct desc d;
	int ret;

	c->head = head;
	c->nread = c->nwrite = 0;
	c->read_len = c->write_len = 0;
	for (;;) {
		if (w.ttl == 0)
			return broken(vq, "descriptor chain loops or exceeds its table");
		w.ttl--;
		read_desc(w.table, idx, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* 2.7.5.3.2: the device ignores WRITE on the indirect descriptor itself. */
			ret = enter_indirect(vq, &w, &d);
			if (ret < 0)
				return ret;
			idx = 0;
			continue;
		}
		ret = add_buffer(vq, &w, &d, c);
		if (ret < 0)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= w.entries)
			return broken(vq, "descriptor next out of range");
		idx = d.next;
	}
}

/* How many entries the driver has made available; > size is corruption. */
static int pending(struct vq *vq, uint16_t *n)
{
	uint16_t avail_idx = load16(vq->avail + VIRTQ_AVAIL_OFF_IDX);

	*n = (uint16_t)(avail_idx - vq->last_avail);
	if (*n > vq->size)
		return broken(vq, "avail index runs more than the queue size ahead");
	return 0;
}

/* The device wrote the used ring (avail_event included, 2.7.10): a Diff
 * snapshot must hold those pages. */
static void mark_used(const struct vq *vq)
{
	gmem_mark_dirty(vq->gm, vq->used_gpa,
			VIRTQ_USED_OFF_RING + (uint64_t)VIRTQ_USED_ELEM_SIZE * vq->size + 2);
}

int vq_pop(struct vq *vq, struct vq_chain *out)
{
	uint16_t n, head;
	int ret;

	if (vq->broken)
		return -EIO;
	if (!vq->active)
		return -EAGAIN;
	ret = pending(vq, &n);
	if (ret < 0)
		return ret;
	if (n == 0 && has(vq, VIRTIO_RING_F_EVENT_IDX)) {
		/* 2.7.10: ask for a kick when the driver makes entry last_avail
		 * available, then look again: the driver may have published one
		 * before it saw avail_event. The full fence orders our avail_event
		 * store before the idx reload (the driver does the mirror image). */
		store16(vq->used + VIRTQ_USED_OFF_RING + VIRTQ_USED_ELEM_SIZE * vq->size,
			vq->last_avail);
		mark_used(vq);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		ret = pending(vq, &n);
		if (ret < 0)
			return ret;
	}
	if (n == 0)
		return -EAGAIN;
	/* 2.7.13: the driver writes the ring entry and descriptors before idx
	 * (with a write barrier); read them only after seeing idx. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	head = load16(vq->avail + VIRTQ_AVAIL_OFF_RING + 2u * (vq->last_avail % vq->size));
	if (head >= vq->size)
		return broken(vq, "avail ring head out of range");
	ret = walk_chain(vq, head, out);
	if (ret < 0)
		return ret;
	vq->last_avail++;
	return 0;
}

int vq_unpop(struct vq *vq)
{
	if (!vq->active || vq->last_avail == vq->used_idx)
		return -EINVAL;
	vq->last_avail--;
	return 0;
}

uint16_t vq_avail_idx(const struct vq *vq)
{
	return vq->active ? load16(vq->avail + VIRTQ_AVAIL_OFF_IDX) : 0;
}

void vq_request_kick(struct vq *vq)
{
	if (!vq->active || vq->broken || !has(vq, VIRTIO_RING_F_EVENT_IDX))
		return; /* without EVENT_IDX the driver kicks on every addition */
	/* 2.7.10: a kick when the driver publishes past its current avail idx. */
	store16(vq->used + VIRTQ_USED_OFF_RING + VIRTQ_USED_ELEM_SIZE * vq->size,
		load16(vq->avail + VIRTQ_AVAIL_OFF_IDX));
	mark_used(vq);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void vq_chain_mark_written(const struct vq *vq, const struct vq_chain *c)
{
	for (unsigned i = c->nread; i < c->nread + c->nwrite && i < VQ_MAX_SEGS; i++)
		gmem_mark_dirty(vq->gm, c->seg[i].gpa, c->seg[i].len);
}

int vq_push(struct vq *vq, uint16_t head, uint32_t written)
{
	uint8_t *elem;

	if (vq->broken)
		return -EIO;
	if (!vq->active || head >= vq->size)
		return -EINVAL;
	elem = vq->used + VIRTQ_USED_OFF_RING +
	       (size_t)VIRTQ_USED_ELEM_SIZE * (vq->used_idx % vq->size);
	store32(elem, head);
	store32(elem + 4, written);
	/* 2.7.8.2 / 2.7.14: the element (and the data written into the buffers)
	 * must be visible before the driver can see the new idx: release. */
	vq->used_idx++;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	store16(vq->used + VIRTQ_USED_OFF_IDX, vq->used_idx);
	mark_used(vq);
	return 0;
}

/* 2.7.10: true if new_idx passed event since old (the spec's vring_need_event). */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool vq_should_interrupt(struct vq *vq)
{
	uint16_t old = vq->signalled_used;

	if (!vq->active || vq->broken || vq->used_idx == old)
		return false;
	vq->signalled_used = vq->used_idx;
	/* 2.7.10: our used idx store must be visible before we read the driver's
	 * used_event / flags, or both sides could wait for each other. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (has(vq, VIRTIO_RING_F_EVENT_IDX)) {
		uint16_t ev = load16(vq->avail + VIRTQ_AVAIL_OFF_RING + 2u * vq->size);

		return need_event(ev, vq->used_idx, old);
	}
	return !(load16(vq->avail + VIRTQ_AVAIL_OFF_FLAGS) & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

int vq_set_positions(struct vq *vq, uint16_t last_avail, uint16_t used_idx, uint16_t signalled_used)
{
	if (!vq->active || (uint16_t)(last_avail - used_idx) > vq->size)
		return -EINVAL;
	vq->last_avail = last_avail;
	vq->used_idx = used_idx;
	vq->signalled_used = signalled_used;
	return 0;
}

size_t vq_chain_iov(const struct vq_chain *c, bool writable, size_t off, size_t len,
		    struct iovec *iov)
{
	unsigned first = writable ? c->nread : 0, end = writable ? c->nread + c->nwrite : c->nread;
	size_t n = 0;

	for (unsigned i = first; i < end && len > 0; i++) {
		size_t l = c->seg[i].len;

		if (off >= l) {
			off -= l;
			continue;
		}
		iov[n].iov_base = c->seg[i].host + off;
		iov[n].iov_len = l - off < len ? l - off : len;
		len -= iov[n].iov_len;
		n++;
		off = 0;
	}
	return n;
}

/* Copies between a flat buffer and one part of a chain, `off` bytes in. */
static size_t copy_chain(const struct vq_chain *c, bool to_guest, size_t off, uint8_t *flat,
			 size_t len)
{
	struct iovec iov[VQ_MAX_SEGS];
	size_t n = vq_chain_iov(c, to_guest, off, len, iov), done = 0;

	for (size_t i = 0; i < n; i++) {
		if (to_guest)
			memcpy(iov[i].iov_base, flat + done, iov[i].iov_len);
		else
			memcpy(flat + done, iov[i].iov_base, iov[i].iov_len);
		done += iov[i].iov_len;
	}
	return done;
}

size_t vq_chain_read(const struct vq_chain *c, size_t off, void *dst, size_t len)
{
	return copy_chain(c, false, off, dst, len);
}

size_t vq_chain_write(const struct vq_chain *c, size_t off, const void *src, size_t len)
{
	return copy_chain(c, true, off, (uint8_t *)(uintptr_t)src, len);
}
