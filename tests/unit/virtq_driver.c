/* virtq_driver: mock virtio driver for the queue and transport unit tests (see virtq_driver.h). */
#include "tests/unit/virtq_driver.h"

#include <string.h>

static void put16(const struct vqd *d, gpa_t gpa, uint16_t v)
{
	gmem_write(d->gm, gpa, &v, sizeof(v));
}

static uint16_t get16(const struct vqd *d, gpa_t gpa)
{
	uint16_t v = 0;

	gmem_read(d->gm, &v, gpa, sizeof(v));
	return v;
}

void vqd_init(struct vqd *d, struct gmem *gm, uint16_t size, gpa_t base)
{
	memset(d, 0, sizeof(*d));
	d->gm = gm;
	d->size = size;
	d->desc = base;
	d->avail = base + (gpa_t)VIRTQ_DESC_SIZE * size;
	d->used = (d->avail + VIRTQ_AVAIL_BYTES(size) + 3) & ~(gpa_t)3;
	gmem_fill(gm, base, 0, d->used + VIRTQ_USED_BYTES(size) - base);
}

void vqd_configure(const struct vqd *d, struct vq *vq, uint64_t features)
{
	vq_reset(vq);
	vq->name = "test";
	vq->size = d->size;
	vq->desc_gpa = d->desc;
	vq->avail_gpa = d->avail;
	vq->used_gpa = d->used;
	vq->features = features;
}

void vqd_table_desc(const struct vqd *d, gpa_t table, uint16_t i, uint64_t addr, uint32_t len,
		    uint16_t flags, uint16_t next)
{
	uint8_t raw[VIRTQ_DESC_SIZE];

	memcpy(raw, &addr, 8);
	memcpy(raw + 8, &len, 4);
	memcpy(raw + 12, &flags, 2);
	memcpy(raw + 14, &next, 2);
	gmem_write(d->gm, table + (gpa_t)i * VIRTQ_DESC_SIZE, raw, sizeof(raw));
}

void vqd_desc(const struct vqd *d, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
	      uint16_t next)
{
	vqd_table_desc(d, d->desc, i, addr, len, flags, next);
}

void vqd_make_avail(struct vqd *d, uint16_t head)
{
	put16(d, d->avail + VIRTQ_AVAIL_OFF_RING + 2u * (d->avail_idx % d->size), head);
	d->avail_idx++;
	put16(d, d->avail + VIRTQ_AVAIL_OFF_IDX, d->avail_idx);
}

void vqd_set_avail_idx(struct vqd *d, uint16_t idx)
{
	d->avail_idx = idx;
	put16(d, d->avail + VIRTQ_AVAIL_OFF_IDX, idx);
}

void vqd_set_avail_flags(const struct vqd *d, uint16_t flags)
{
	put16(d, d->avail + VIRTQ_AVAIL_OFF_FLAGS, flags);
}

void vqd_set_used_event(const struct vqd *d, uint16_t ev)
{
	put16(d, d->avail + VIRTQ_AVAIL_OFF_RING + 2u * d->size, ev);
}

uint16_t vqd_used_idx(const struct vqd *d)
{
	return get16(d, d->used + VIRTQ_USED_OFF_IDX);
}

void vqd_used_elem(const struct vqd *d, uint16_t slot, uint32_t *id, uint32_t *len)
{
	gpa_t e = d->used + VIRTQ_USED_OFF_RING + (gpa_t)VIRTQ_USED_ELEM_SIZE * (slot % d->size);

	gmem_read(d->gm, id, e, 4);
	gmem_read(d->gm, len, e + 4, 4);
}

uint16_t vqd_avail_event(const struct vqd *d)
{
	return get16(d, d->used + VIRTQ_USED_OFF_RING + (gpa_t)VIRTQ_USED_ELEM_SIZE * d->size);
}
