/* fuzz_virtq_pop: libFuzzer harness for the virtqueue core: activation, pop and push.
 *
 * Input layout (little-endian), everything after the header is guest memory:
 *   0      u8   queue size as log2 (mod 9: 1..256)
 *   1      u8   bit 0: INDIRECT_DESC negotiated, bit 1: EVENT_IDX negotiated
 *   2..3   u16  starting avail/used index (exercises the 16-bit wrap)
 *   4..7   u32  descriptor table gpa  (masked to twice the memory size, so
 *   8..11  u32  available ring gpa     about half the placements lie
 *   12..15 u32  used ring gpa          outside memory)
 *   16..   guest memory contents from gpa 0, at most FUZZ_MEM bytes
 * The harness activates the queue, then pops until empty or broken: it reads
 * every readable byte, fills every writable one, pushes each chain back and
 * asks whether to interrupt. Nothing may touch memory outside gmem, loop
 * without bound, or trip a sanitizer, whatever the rings say. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vmm/core/gmem.h"
#include "vmm/devices/virtio/queue.h"
#include "lib/util/log.h"

#define FUZZ_MEM    (64ull << 10)
#define FUZZ_HDR    16
#define FUZZ_GPA(x) ((gpa_t)(x) & (2 * FUZZ_MEM - 1))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Consumes one chain the way a device would. */
static void serve(struct vq *vq, const struct vq_chain *c)
{
	static uint8_t scratch[4096];
	static const uint8_t fill[512] = { 0xa5 };
	size_t off = 0, n;

	while ((n = vq_chain_read(c, off, scratch, sizeof(scratch))) > 0)
		off += n;
	off = 0;
	while ((n = vq_chain_write(c, off, fill, sizeof(fill))) > 0)
		off += n;
	if (off != c->write_len || vq_push(vq, c->head, c->write_len) < 0)
		__builtin_trap(); /* a validated chain always goes back */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gmem *gm;
	static struct vq_chain chain;
	struct vq vq = { .name = "fuzz" };
	uint16_t start;
	int ret = 0;

	if (gm == NULL) {
		log_set_level(LOG_NONE);
		if (gmem_create(FUZZ_MEM, 1ull << 30, 2ull << 30, &gm) < 0)
			return 0;
	}
	if (size < FUZZ_HDR)
		return 0;
	gmem_fill(gm, 0, 0, FUZZ_MEM);
	if (size > FUZZ_HDR)
		gmem_write(gm, 0, data + FUZZ_HDR,
			   size - FUZZ_HDR < FUZZ_MEM ? size - FUZZ_HDR : FUZZ_MEM);

	vq.size = (uint16_t)(1u << (data[0] % 9));
	vq.features = ((data[1] & 1) ? VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) : 0) |
		      ((data[1] & 2) ? VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) : 0);
	vq.desc_gpa = FUZZ_GPA(get32(data + 4));
	vq.avail_gpa = FUZZ_GPA(get32(data + 8));
	vq.used_gpa = FUZZ_GPA(get32(data + 12));
	if (vq_activate(&vq, gm, VQ_SIZE_MAX) < 0)
		return 0;
	start = (uint16_t)(data[2] | data[3] << 8);
	vq.last_avail = vq.used_idx = vq.signalled_used = start;

	/* At most size entries can be pending; a few extra rounds prove that
	 * an empty or broken queue stays so. */
	for (unsigned i = 0; i < 2u * vq.size + 4; i++) {
		ret = vq_pop(&vq, &chain);
		if (ret < 0)
			break;
		serve(&vq, &chain);
		if (i % 3 == 0)
			(void)vq_should_interrupt(&vq);
	}
	(void)vq_should_interrupt(&vq);
	/* A broken queue never yields another chain. */
	if (ret == -EIO && vq_pop(&vq, &chain) != -EIO)
		__builtin_trap();
	return 0;
}
