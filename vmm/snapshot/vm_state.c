/* snap vm: the VMST and MACH sections of a snapshot: the platform state and the machine shape (see vm_state.h). */
#include "vmm/snapshot/vm_state.h"

#include <errno.h>
#include <string.h>

#include "lib/util/log.h"

/* Field lists in struct order (X-macros: clang-format does not lay them out stably). */
// clang-format off
#define PIC_FIELDS(X) \
	X(last_irr) X(irr) X(imr) X(isr) X(priority_add) X(irq_base) X(read_reg_select) \
	X(poll) X(special_mask) X(init_state) X(auto_eoi) X(rotate_on_auto_eoi) \
	X(special_fully_nested_mode) X(init4) X(elcr) X(elcr_mask)
#define PIT_U8_FIELDS(X) \
	X(count_latched) X(status_latched) X(status) X(read_state) X(write_state) \
	X(write_latch) X(rw_mode) X(mode) X(bcd) X(gate)
// clang-format on

void snap_vm_encode(struct snap_writer *w, const struct platform_state *s)
{
	snap_w_section_begin(w, SNAP_TAG_VM, SNAP_VM_VERSION);
	for (unsigned i = 0; i < 2; i++) {
#define W(f) snap_w_u8(w, s->pic[i].f);
		PIC_FIELDS(W)
#undef W
	}
	snap_w_u64(w, s->ioapic.base_address);
	snap_w_u32(w, s->ioapic.ioregsel);
	snap_w_u32(w, s->ioapic.id);
	snap_w_u32(w, s->ioapic.irr);
	snap_w_u32(w, KVM_IOAPIC_NUM_PINS);
	for (unsigned i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
		snap_w_u64(w, s->ioapic.redirtbl[i].bits);
	for (unsigned i = 0; i < 3; i++) {
		const struct kvm_pit_channel_state *c = &s->pit.channels[i];

		snap_w_u32(w, c->count);
		snap_w_u16(w, c->latched_count);
#define W(f) snap_w_u8(w, c->f);
		PIT_U8_FIELDS(W)
#undef W
		snap_w_u64(w, (uint64_t)c->count_load_time);
	}
	snap_w_u32(w, s->pit.flags);
	snap_w_u64(w, s->clock);
	snap_w_section_end(w);
}

int snap_vm_decode(const struct snap_section *sec, struct platform_state *out)
{
	struct snap_reader r;
	uint32_t pins;

	memset(out, 0, sizeof(*out));
	snap_r_init(&r, sec);
	if (sec->version != SNAP_VM_VERSION)
		return snap_r_fail(&r, "version %u, this ember reads version %u", sec->version,
				   SNAP_VM_VERSION);
	for (unsigned i = 0; i < 2; i++) {
#define R(f) out->pic[i].f = snap_r_u8(&r);
		PIC_FIELDS(R)
#undef R
	}
	out->ioapic.base_address = snap_r_u64(&r);
	out->ioapic.ioregsel = snap_r_u32(&r);
	out->ioapic.id = snap_r_u32(&r);
	out->ioapic.irr = snap_r_u32(&r);
	pins = snap_r_u32(&r);
	if (pins != KVM_IOAPIC_NUM_PINS)
		return snap_r_fail(&r, "IOAPIC with %u pins, KVM's has %u", pins,
				   KVM_IOAPIC_NUM_PINS);
	for (unsigned i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
		out->ioapic.redirtbl[i].bits = snap_r_u64(&r);
	for (unsigned i = 0; i < 3; i++) {
		struct kvm_pit_channel_state *c = &out->pit.channels[i];

		c->count = snap_r_u32(&r);
		c->latched_count = snap_r_u16(&r);
#define R(f) c->f = snap_r_u8(&r);
		PIT_U8_FIELDS(R)
#undef R
		c->count_load_time = (int64_t)snap_r_u64(&r);
		/* Refuse what no 8254 can hold; mode 0xff is KVM's "never programmed". */
		if (!r.failed &&
		    (c->count > 0x10000 || (c->mode > 5 && c->mode != 0xff) || c->rw_mode > 3))
			return snap_r_fail(&r,
					   "PIT channel %u: count %u, mode %u or rw mode %u "
					   "out of range",
					   i, c->count, c->mode, c->rw_mode);
	}
	out->pit.flags = snap_r_u32(&r);
	if (!r.failed && (out->pit.flags &
			  ~(uint32_t)(KVM_PIT_FLAGS_HPET_LEGACY | KVM_PIT_FLAGS_SPEAKER_DATA_ON)))
		return snap_r_fail(&r, "PIT flags %#x include unknown bits", out->pit.flags);
	out->clock = snap_r_u64(&r);
	return snap_r_done(&r);
}

void snap_machine_from(const struct gmem *gm, unsigned vcpu_count, struct snap_machine *out)
{
	memset(out, 0, sizeof(*out));
	out->vcpu_count = vcpu_count;
	out->mem_size = gmem_size(gm);
	for (unsigned i = 0; i < gmem_nregions(gm) && i < SNAP_MAX_REGIONS; i++) {
		struct gmem_range r = gmem_region(gm, i);

		out->regions[i] = (struct snap_region){ .slot = i, .gpa = r.gpa, .size = r.size };
		out->nregions++;
	}
}

int snap_machine_check(const struct snap_machine *saved, const struct snap_machine *cur)
{
	if (saved->vcpu_count != cur->vcpu_count) {
		log_err("snapshot: taken with %u vCPUs, this VM has %u", saved->vcpu_count,
			cur->vcpu_count);
		return -EINVAL;
	}
	if (saved->mem_size != cur->mem_size) {
		log_err("snapshot: taken with %llu MiB of memory, this VM has %llu MiB",
			(unsigned long long)(saved->mem_size >> 20),
			(unsigned long long)(cur->mem_size >> 20));
		return -EINVAL;
	}
	if (saved->nregions != cur->nregions) {
		log_err("snapshot: taken with %u memory regions, this VM has %u", saved->nregions,
			cur->nregions);
		return -EINVAL;
	}
	for (unsigned i = 0; i < saved->nregions; i++) {
		const struct snap_region *a = &saved->regions[i], *b = &cur->regions[i];

		if (a->slot != b->slot || a->gpa != b->gpa || a->size != b->size) {
			log_err("snapshot: memory region %u is slot %u at %#llx+%#llx in the "
				"snapshot, slot %u at %#llx+%#llx here",
				i, a->slot, (unsigned long long)a->gpa, (unsigned long long)a->size,
				b->slot, (unsigned long long)b->gpa, (unsigned long long)b->size);
			return -EINVAL;
		}
	}
	return 0;
}

void snap_machine_encode(struct snap_writer *w, const struct snap_machine *m)
{
	snap_w_section_begin(w, SNAP_TAG_MACHINE, SNAP_MACHINE_VERSION);
	snap_w_u32(w, m->vcpu_count);
	snap_w_u64(w, m->mem_size);
	snap_w_u32(w, m->nregions);
	for (unsigned i = 0; i < m->nregions && i < SNAP_MAX_REGIONS; i++) {
		snap_w_u32(w, m->regions[i].slot);
		snap_w_u64(w, m->regions[i].gpa);
		snap_w_u64(w, m->regions[i].size);
	}
	snap_w_section_end(w);
}

int snap_machine_decode(const struct snap_section *sec, struct snap_machine *out)
{
	struct snap_reader r;
	uint64_t sum = 0;

	memset(out, 0, sizeof(*out));
	snap_r_init(&r, sec);
	if (sec->version != SNAP_MACHINE_VERSION)
		return snap_r_fail(&r, "version %u, this ember reads version %u", sec->version,
				   SNAP_MACHINE_VERSION);
	out->vcpu_count = snap_r_u32(&r);
	out->mem_size = snap_r_u64(&r);
	out->nregions = snap_r_u32(&r);
	if (r.failed)
		return -EBADMSG;
	if (out->vcpu_count == 0 || out->vcpu_count > SNAP_MAX_VCPUS)
		return snap_r_fail(&r, "%u vCPUs, not in 1..%u", out->vcpu_count, SNAP_MAX_VCPUS);
	if (out->mem_size == 0 || out->mem_size % GMEM_PAGE_SIZE)
		return snap_r_fail(&r, "memory size %llu is 0 or not page-aligned",
				   (unsigned long long)out->mem_size);
	if (out->nregions == 0 || out->nregions > SNAP_MAX_REGIONS)
		return snap_r_fail(&r, "%u memory regions, not in 1..%u", out->nregions,
				   SNAP_MAX_REGIONS);
	for (unsigned i = 0; i < out->nregions; i++) {
		struct snap_region *g = &out->regions[i];

		g->slot = snap_r_u32(&r);
		g->gpa = snap_r_u64(&r);
		g->size = snap_r_u64(&r);
		if (r.failed)
			return -EBADMSG;
		/* Regions are page-aligned, non-empty, ascending and disjoint. */
		if (g->size == 0 || g->gpa % GMEM_PAGE_SIZE || g->size % GMEM_PAGE_SIZE ||
		    g->gpa + g->size < g->gpa ||
		    (i > 0 && g->gpa < out->regions[i - 1].gpa + out->regions[i - 1].size))
			return snap_r_fail(&r,
					   "memory region %u (%#llx+%#llx) is empty, unaligned, "
					   "overflows or overlaps the one before",
					   i, (unsigned long long)g->gpa,
					   (unsigned long long)g->size);
		sum += g->size;
	}
	if (sum != out->mem_size)
		return snap_r_fail(&r, "regions add up to %llu bytes, memory size is %llu",
				   (unsigned long long)sum, (unsigned long long)out->mem_size);
	return snap_r_done(&r);
}
