/* virtq_driver: a mock virtio driver that builds split rings in fake guest memory, for unit tests.
 *
 * The driver side of 2.7 only, written the way a guest would: descriptors,
 * available ring entries and idx go into a gmem made with gmem_create(); the
 * test then reads the used ring back. It does no checking of its own, so
 * tests can build every malformed ring on purpose. Single-threaded. */
#ifndef EMBER_TEST_VIRTQ_DRIVER_H
#define EMBER_TEST_VIRTQ_DRIVER_H

#include <stdint.h>

#include "vmm/core/gmem.h"
#include "vmm/devices/virtio/queue.h"

struct vqd {
	struct gmem *gm;
	uint16_t size;
	gpa_t desc, avail, used;
	uint16_t avail_idx; /* the driver's next avail index */
};

/* Rings at base: descriptor table, then the avail ring, then the used ring (4-aligned). */
void vqd_init(struct vqd *d, struct gmem *gm, uint16_t size, gpa_t base);
/* Copies the driver's layout into a queue, as the transport would. */
void vqd_configure(const struct vqd *d, struct vq *vq, uint64_t features);

/* Writes descriptor i of the main table, or of an indirect table at `table`. */
void vqd_desc(const struct vqd *d, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
	      uint16_t next);
void vqd_table_desc(const struct vqd *d, gpa_t table, uint16_t i, uint64_t addr, uint32_t len,
		    uint16_t flags, uint16_t next);

/* Puts head in the next avail slot and publishes it (idx + 1). */
void vqd_make_avail(struct vqd *d, uint16_t head);
void vqd_set_avail_idx(struct vqd *d, uint16_t idx);
void vqd_set_avail_flags(const struct vqd *d, uint16_t flags);
void vqd_set_used_event(const struct vqd *d, uint16_t ev);

uint16_t vqd_used_idx(const struct vqd *d);
void vqd_used_elem(const struct vqd *d, uint16_t slot, uint32_t *id, uint32_t *len);
uint16_t vqd_avail_event(const struct vqd *d);

#endif
