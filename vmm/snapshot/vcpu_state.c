/* snap vcpu: the VCPU section: one vCPU's state (cpu_state.h) in a snapshot, encoded and validated (see vcpu_state.h). */
#include "vmm/snapshot/vcpu_state.h"

#include <errno.h>
#include <string.h>

#include "lib/util/log.h"

static void w_segment(struct snap_writer *w, const struct kvm_segment *g)
{
	snap_w_u64(w, g->base);
	snap_w_u32(w, g->limit);
	snap_w_u16(w, g->selector);
	snap_w_u8(w, g->type);
	snap_w_u8(w, g->present);
	snap_w_u8(w, g->dpl);
	snap_w_u8(w, g->db);
	snap_w_u8(w, g->s);
	snap_w_u8(w, g->l);
	snap_w_u8(w, g->g);
	snap_w_u8(w, g->avl);
	snap_w_u8(w, g->unusable);
}

static void r_segment(struct snap_reader *r, struct kvm_segment *g)
{
	g->base = snap_r_u64(r);
	g->limit = snap_r_u32(r);
	g->selector = snap_r_u16(r);
	g->type = snap_r_u8(r);
	g->present = snap_r_u8(r);
	g->dpl = snap_r_u8(r);
	g->db = snap_r_u8(r);
	g->s = snap_r_u8(r);
	g->l = snap_r_u8(r);
	g->g = snap_r_u8(r);
	g->avl = snap_r_u8(r);
	g->unusable = snap_r_u8(r);
}

/* The general registers in struct kvm_regs order (X-macro lists: clang-format
 * does not lay them out stably). */
// clang-format off
#define REGS(X) \
	X(rax) X(rbx) X(rcx) X(rdx) X(rsi) X(rdi) X(rsp) X(rbp) \
	X(r8) X(r9) X(r10) X(r11) X(r12) X(r13) X(r14) X(r15) X(rip) X(rflags)
#define SREG_SEGS(X) X(cs) X(ds) X(es) X(fs) X(gs) X(ss) X(tr) X(ldt)
#define SREG_CRS(X)  X(cr0) X(cr2) X(cr3) X(cr4) X(cr8) X(efer) X(apic_base)
// clang-format on

void snap_vcpu_encode(struct snap_writer *w, const struct cpu_state *s)
{
	const struct kvm_vcpu_events *e = &s->events;

	snap_w_section_begin(w, SNAP_TAG_VCPU, SNAP_VCPU_VERSION);
	snap_w_u32(w, s->index);
	snap_w_u32(w, s->tsc_khz);
	snap_w_u32(w, s->ncpuid);
	for (uint32_t i = 0; i < s->ncpuid && i < CPU_STATE_MAX_CPUID; i++) {
		const struct kvm_cpuid_entry2 *c = &s->cpuid[i];

		snap_w_u32(w, c->function);
		snap_w_u32(w, c->index);
		snap_w_u32(w, c->flags);
		snap_w_u32(w, c->eax);
		snap_w_u32(w, c->ebx);
		snap_w_u32(w, c->ecx);
		snap_w_u32(w, c->edx);
	}
	snap_w_u32(w, s->mp_state);
#define W(f) snap_w_u64(w, s->regs.f);
	REGS(W)
#undef W
#define W(f) w_segment(w, &s->sregs.f);
	SREG_SEGS(W)
#undef W
	snap_w_u64(w, s->sregs.gdt.base);
	snap_w_u16(w, s->sregs.gdt.limit);
	snap_w_u64(w, s->sregs.idt.base);
	snap_w_u16(w, s->sregs.idt.limit);
#define W(f) snap_w_u64(w, s->sregs.f);
	SREG_CRS(W)
#undef W
	for (unsigned i = 0; i < 4; i++)
		snap_w_u64(w, s->sregs.interrupt_bitmap[i]);
	snap_w_u32(w, s->xsave_len);
	snap_w_bytes(w, s->xsave, s->xsave_len <= CPU_STATE_XSAVE_MAX ? s->xsave_len : 0);
	snap_w_u32(w, s->xcrs.nr_xcrs);
	snap_w_u32(w, s->xcrs.flags);
	for (uint32_t i = 0; i < s->xcrs.nr_xcrs && i < KVM_MAX_XCRS; i++) {
		snap_w_u32(w, s->xcrs.xcrs[i].xcr);
		snap_w_u64(w, s->xcrs.xcrs[i].value);
	}
	for (unsigned i = 0; i < 4; i++)
		snap_w_u64(w, s->dregs.db[i]);
	snap_w_u64(w, s->dregs.dr6);
	snap_w_u64(w, s->dregs.dr7);
	snap_w_u64(w, s->dregs.flags);
	snap_w_bytes(w, s->lapic, CPU_STATE_LAPIC_LEN);
	snap_w_u32(w, s->nmsrs);
	for (uint32_t i = 0; i < s->nmsrs && i < CPU_STATE_MAX_MSRS; i++) {
		snap_w_u32(w, s->msrs[i].index);
		snap_w_u64(w, s->msrs[i].data);
	}
	snap_w_u8(w, e->exception.injected);
	snap_w_u8(w, e->exception.nr);
	snap_w_u8(w, e->exception.has_error_code);
	snap_w_u8(w, e->exception.pending);
	snap_w_u32(w, e->exception.error_code);
	snap_w_u8(w, e->interrupt.injected);
	snap_w_u8(w, e->interrupt.nr);
	snap_w_u8(w, e->interrupt.soft);
	snap_w_u8(w, e->interrupt.shadow);
	snap_w_u8(w, e->nmi.injected);
	snap_w_u8(w, e->nmi.pending);
	snap_w_u8(w, e->nmi.masked);
	snap_w_u32(w, e->sipi_vector);
	snap_w_u32(w, e->flags);
	snap_w_u8(w, e->smi.smm);
	snap_w_u8(w, e->smi.pending);
	snap_w_u8(w, e->smi.smm_inside_nmi);
	snap_w_u8(w, e->smi.latched_init);
	snap_w_u8(w, e->triple_fault.pending);
	snap_w_u8(w, e->exception_has_payload);
	snap_w_u64(w, e->exception_payload);
	snap_w_section_end(w);
}

static bool flag_ok(uint8_t v)
{
	return v <= 1;
}

int snap_vcpu_decode(const struct snap_section *sec, struct cpu_state *out)
{
	struct kvm_vcpu_events *e = &out->events;
	struct snap_reader r;

	memset(out, 0, sizeof(*out));
	snap_r_init(&r, sec);
	if (sec->version != SNAP_VCPU_VERSION)
		return snap_r_fail(&r, "version %u, this ember reads version %u", sec->version,
				   SNAP_VCPU_VERSION);
	out->index = snap_r_u32(&r);
	out->tsc_khz = snap_r_u32(&r);
	if (out->tsc_khz == 0)
		return snap_r_fail(&r, "TSC frequency is 0");
	out->ncpuid = snap_r_u32(&r);
	if (out->ncpuid == 0 || out->ncpuid > CPU_STATE_MAX_CPUID)
		return snap_r_fail(&r, "%u CPUID entries, not in 1..%u", out->ncpuid,
				   CPU_STATE_MAX_CPUID);
	for (uint32_t i = 0; i < out->ncpuid; i++) {
		struct kvm_cpuid_entry2 *c = &out->cpuid[i];

		c->function = snap_r_u32(&r);
		c->index = snap_r_u32(&r);
		c->flags = snap_r_u32(&r);
		c->eax = snap_r_u32(&r);
		c->ebx = snap_r_u32(&r);
		c->ecx = snap_r_u32(&r);
		c->edx = snap_r_u32(&r);
	}
	out->mp_state = snap_r_u32(&r);
	if (out->mp_state > CPU_STATE_MP_STATE_MAX)
		return snap_r_fail(&r, "MP state %u is not an x86 state", out->mp_state);
#define R(f) out->regs.f = snap_r_u64(&r);
	REGS(R)
#undef R
#define R(f) r_segment(&r, &out->sregs.f);
	SREG_SEGS(R)
#undef R
	out->sregs.gdt.base = snap_r_u64(&r);
	out->sregs.gdt.limit = snap_r_u16(&r);
	out->sregs.idt.base = snap_r_u64(&r);
	out->sregs.idt.limit = snap_r_u16(&r);
#define R(f) out->sregs.f = snap_r_u64(&r);
	SREG_CRS(R)
#undef R
	for (unsigned i = 0; i < 4; i++)
		out->sregs.interrupt_bitmap[i] = snap_r_u64(&r);
	out->xsave_len = snap_r_u32(&r);
	if (out->xsave_len < CPU_STATE_XSAVE_MIN || out->xsave_len > CPU_STATE_XSAVE_MAX ||
	    out->xsave_len % 4 != 0)
		return snap_r_fail(&r, "XSAVE area of %u bytes, not a multiple of 4 in %u..%u",
				   out->xsave_len, CPU_STATE_XSAVE_MIN, CPU_STATE_XSAVE_MAX);
	snap_r_bytes(&r, out->xsave, out->xsave_len);
	out->xcrs.nr_xcrs = snap_r_u32(&r);
	out->xcrs.flags = snap_r_u32(&r);
	if (out->xcrs.nr_xcrs > KVM_MAX_XCRS)
		return snap_r_fail(&r, "%u XCRs, over %u", out->xcrs.nr_xcrs, KVM_MAX_XCRS);
	for (uint32_t i = 0; i < out->xcrs.nr_xcrs; i++) {
		out->xcrs.xcrs[i].xcr = snap_r_u32(&r);
		out->xcrs.xcrs[i].value = snap_r_u64(&r);
	}
	for (unsigned i = 0; i < 4; i++)
		out->dregs.db[i] = snap_r_u64(&r);
	out->dregs.dr6 = snap_r_u64(&r);
	out->dregs.dr7 = snap_r_u64(&r);
	out->dregs.flags = snap_r_u64(&r);
	snap_r_bytes(&r, out->lapic, CPU_STATE_LAPIC_LEN);
	out->nmsrs = snap_r_u32(&r);
	if (out->nmsrs > CPU_STATE_MAX_MSRS)
		return snap_r_fail(&r, "%u MSRs, over CPU_STATE_MAX_MSRS (%u)", out->nmsrs,
				   CPU_STATE_MAX_MSRS);
	for (uint32_t i = 0; i < out->nmsrs; i++) {
		out->msrs[i].index = snap_r_u32(&r);
		out->msrs[i].data = snap_r_u64(&r);
	}
	e->exception.injected = snap_r_u8(&r);
	e->exception.nr = snap_r_u8(&r);
	e->exception.has_error_code = snap_r_u8(&r);
	e->exception.pending = snap_r_u8(&r);
	e->exception.error_code = snap_r_u32(&r);
	e->interrupt.injected = snap_r_u8(&r);
	e->interrupt.nr = snap_r_u8(&r);
	e->interrupt.soft = snap_r_u8(&r);
	e->interrupt.shadow = snap_r_u8(&r);
	e->nmi.injected = snap_r_u8(&r);
	e->nmi.pending = snap_r_u8(&r);
	e->nmi.masked = snap_r_u8(&r);
	e->sipi_vector = snap_r_u32(&r);
	e->flags = snap_r_u32(&r);
	e->smi.smm = snap_r_u8(&r);
	e->smi.pending = snap_r_u8(&r);
	e->smi.smm_inside_nmi = snap_r_u8(&r);
	e->smi.latched_init = snap_r_u8(&r);
	e->triple_fault.pending = snap_r_u8(&r);
	e->exception_has_payload = snap_r_u8(&r);
	e->exception_payload = snap_r_u64(&r);
	if (r.failed)
		return -EBADMSG;
	if (e->flags & ~(uint32_t)CPU_STATE_EVENTS_FLAGS)
		return snap_r_fail(&r, "vCPU event flags %#x include unknown bits", e->flags);
	if (e->exception.nr >= 32)
		return snap_r_fail(&r, "pending exception vector %u is not an exception",
				   e->exception.nr);
	if (!flag_ok(e->exception.injected) || !flag_ok(e->exception.pending) ||
	    !flag_ok(e->exception.has_error_code) || !flag_ok(e->interrupt.injected) ||
	    !flag_ok(e->nmi.injected) || !flag_ok(e->nmi.pending) || !flag_ok(e->nmi.masked) ||
	    !flag_ok(e->smi.smm) || !flag_ok(e->smi.pending) || !flag_ok(e->smi.smm_inside_nmi) ||
	    !flag_ok(e->smi.latched_init) || !flag_ok(e->triple_fault.pending) ||
	    !flag_ok(e->exception_has_payload))
		return snap_r_fail(&r, "a vCPU event flag is neither 0 nor 1");
	return snap_r_done(&r);
}
