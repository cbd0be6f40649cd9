/* snap vcpu: save and restore one vCPU through KVM, and the VCPU section codec (see vcpu_state.h). */
#include "vmm/snapshot/vcpu_state.h"

#include <cpuid.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "lib/util/log.h"

/* ---- KVM side ---- */

static int vcpu_ioctl(const struct vcpu *vcpu, unsigned long req, const char *name, void *arg)
{
	if (ioctl(vcpu->fd, req, arg) < 0) {
		int ret = -errno;

		log_err("snapshot: %s on vCPU %u: %s", name, vcpu->index, strerror(errno));
		return ret;
	}
	return 0;
}

static bool listed(const uint32_t *v, unsigned n, uint32_t x)
{
	for (unsigned i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* KVM lists its Hyper-V emulation's MSRs, and the host may read and write
 * them, but ember's CPUID has no Hyper-V leaves, so a guest cannot use them;
 * several are clocks (VP_RUNTIME, TIME_REF_COUNT) that would only add noise. */
static bool hyperv_msr(uint32_t index)
{
	return index >= SNAP_MSR_HYPERV_FIRST && index <= SNAP_MSR_HYPERV_LAST;
}

/* KVM_GET_MSRS stops at the first MSR it refuses and returns how many it
 * read; keep those, drop the refused one, and go on after it. */
static int probe_msrs(const struct vcpu *vcpu, const uint32_t *cand, unsigned n,
		      struct snap_msr_list *out)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) + n * sizeof(m->entries[0]));
	unsigned pos = 0;

	if (m == NULL)
		return -ENOMEM;
	out->n = 0;
	while (pos < n) {
		int r;

		m->nmsrs = n - pos;
		for (unsigned i = pos; i < n; i++)
			m->entries[i - pos] = (struct kvm_msr_entry){ .index = cand[i] };
		r = ioctl(vcpu->fd, KVM_GET_MSRS, m);
		if (r < 0) {
			r = -errno;
			log_err("snapshot: KVM_GET_MSRS on vCPU %u: %s", vcpu->index, strerror(-r));
			free(m);
			return r;
		}
		for (int i = 0; i < r; i++)
			out->index[out->n++] = cand[pos + (unsigned)i];
		pos += (unsigned)r + 1; /* skip the one refused, if any */
	}
	free(m);
	return 0;
}

int snap_msr_list_build(const struct vcpu *vcpu, struct snap_msr_list *out)
{
	static const uint32_t extra[] = {
		SNAP_MSR_KVM_WALL_CLOCK,     SNAP_MSR_KVM_SYSTEM_TIME,
		SNAP_MSR_KVM_WALL_CLOCK_NEW, SNAP_MSR_KVM_SYSTEM_TIME_NEW,
		SNAP_MSR_KVM_ASYNC_PF_EN,    SNAP_MSR_KVM_STEAL_TIME,
		SNAP_MSR_KVM_PV_EOI_EN,	     SNAP_MSR_KVM_POLL_CONTROL,
		SNAP_MSR_KVM_ASYNC_PF_INT,
	};
	struct kvm_msr_list probe = { .nmsrs = 0 }, *list;
	uint32_t *cand;
	unsigned n = 0;
	int ret;

	/* The first call fails with E2BIG and reports the count. */
	if (ioctl(vcpu->vm->kvm->fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG) {
		log_err("snapshot: KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
		return -errno;
	}
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(list->indices[0]));
	cand = calloc(probe.nmsrs + 1 + sizeof(extra) / sizeof(extra[0]), sizeof(*cand));
	if (list == NULL || cand == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	list->nmsrs = probe.nmsrs;
	if (ioctl(vcpu->vm->kvm->fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		ret = -errno;
		log_err("snapshot: KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
		goto out;
	}
	/* The TSC goes first: KVM_SET_MSRS applies entries in order, and the
	 * TSC-deadline MSR is relative to the guest TSC being restored. */
	cand[n++] = SNAP_MSR_IA32_TSC;
	for (uint32_t i = 0; i < list->nmsrs && i < probe.nmsrs; i++)
		if (!hyperv_msr(list->indices[i]) && !listed(cand, n, list->indices[i]))
			cand[n++] = list->indices[i];
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		if (!listed(cand, n, extra[i]))
			cand[n++] = extra[i];
	if (n > SNAP_MAX_MSRS) {
		log_err("snapshot: KVM lists %u MSRs, over SNAP_MAX_MSRS (%u)", n, SNAP_MAX_MSRS);
		ret = -E2BIG;
		goto out;
	}
	ret = probe_msrs(vcpu, cand, n, out);
out:
	free(cand);
	free(list);
	return ret;
}

static struct kvm_cpuid2 *cpuid_alloc(void)
{
	return calloc(1,
		      sizeof(struct kvm_cpuid2) + SNAP_MAX_CPUID * sizeof(struct kvm_cpuid_entry2));
}

/* Bytes KVM moves for KVM_GET_XSAVE2/KVM_SET_XSAVE on this VM (>= 4096). */
static size_t xsave_size(const struct vcpu *vcpu)
{
	int v = ioctl(vcpu->vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

	return v > SNAP_XSAVE_MIN ? (size_t)v : SNAP_XSAVE_MIN;
}

static int save_xsave(const struct vcpu *vcpu, struct snap_vcpu_state *out)
{
	size_t size = xsave_size(vcpu);
	struct kvm_xsave *x;
	int ret;

	if (size > SNAP_XSAVE_MAX) {
		log_err("snapshot: vCPU %u: XSAVE area of %zu bytes, over SNAP_XSAVE_MAX (%u)",
			vcpu->index, size, SNAP_XSAVE_MAX);
		return -E2BIG;
	}
	x = calloc(1, size);
	if (x == NULL)
		return -ENOMEM;
	/* KVM_GET_XSAVE copies only 4096 bytes; a larger area (AMX) needs XSAVE2. */
	if (size > SNAP_XSAVE_MIN)
		ret = vcpu_ioctl(vcpu, KVM_GET_XSAVE2, "KVM_GET_XSAVE2", x);
	else
		ret = vcpu_ioctl(vcpu, KVM_GET_XSAVE, "KVM_GET_XSAVE", x);
	if (ret == 0) {
		memcpy(out->xsave, x, size);
		out->xsave_len = (uint32_t)size;
	}
	free(x);
	return ret;
}

int snap_vcpu_save(const struct vcpu *vcpu, const struct snap_msr_list *msrs,
		   struct snap_vcpu_state *out)
{
	struct kvm_cpuid2 *cpuid = NULL;
	struct kvm_msrs *m = NULL;
	struct kvm_mp_state mp;
	struct kvm_lapic_state lapic;
	int ret, khz;

	memset(out, 0, sizeof(*out));
	out->index = vcpu->index;
	cpuid = cpuid_alloc();
	m = calloc(1, sizeof(*m) + msrs->n * sizeof(m->entries[0]));
	if (cpuid == NULL || m == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);
	if (khz <= 0) {
		ret = khz < 0 ? -errno : -EIO;
		log_err("snapshot: KVM_GET_TSC_KHZ on vCPU %u failed", vcpu->index);
		goto out;
	}
	out->tsc_khz = (uint32_t)khz;
	cpuid->nent = SNAP_MAX_CPUID;
	ret = vcpu_ioctl(vcpu, KVM_GET_CPUID2, "KVM_GET_CPUID2", cpuid);
	if (ret < 0)
		goto out;
	out->ncpuid = cpuid->nent;
	memcpy(out->cpuid, cpuid->entries, out->ncpuid * sizeof(out->cpuid[0]));
	ret = vcpu_ioctl(vcpu, KVM_GET_MP_STATE, "KVM_GET_MP_STATE", &mp);
	if (ret == 0)
		ret = vcpu_ioctl(vcpu, KVM_GET_REGS, "KVM_GET_REGS", &out->regs);
	if (ret == 0)
		ret = vcpu_ioctl(vcpu, KVM_GET_SREGS, "KVM_GET_SREGS", &out->sregs);
	if (ret == 0)
		ret = save_xsave(vcpu, out);
	if (ret == 0)
		ret = vcpu_ioctl(vcpu, KVM_GET_XCRS, "KVM_GET_XCRS", &out->xcrs);
	if (ret == 0)
		ret = vcpu_ioctl(vcpu, KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS", &out->dregs);
	if (ret == 0)
		ret = vcpu_ioctl(vcpu, KVM_GET_LAPIC, "KVM_GET_LAPIC", &lapic);
	if (ret < 0)
		goto out;
	out->mp_state = mp.mp_state;
	memcpy(out->lapic, lapic.regs, SNAP_LAPIC_LEN);
	m->nmsrs = msrs->n;
	for (unsigned i = 0; i < msrs->n; i++)
		m->entries[i] = (struct kvm_msr_entry){ .index = msrs->index[i] };
	ret = ioctl(vcpu->fd, KVM_GET_MSRS, m);
	if (ret != (int)msrs->n) {
		log_err("snapshot: KVM_GET_MSRS on vCPU %u: read %d of %u MSRs (%s)", vcpu->index,
			ret, msrs->n, ret < 0 ? strerror(errno) : "an MSR was refused");
		ret = ret < 0 ? -errno : -EIO;
		goto out;
	}
	out->nmsrs = msrs->n;
	memcpy(out->msrs, m->entries, msrs->n * sizeof(out->msrs[0]));
	/* Last: reading the other state does not change pending events. */
	ret = vcpu_ioctl(vcpu, KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS", &out->events);
out:
	free(m);
	free(cpuid);
	return ret;
}

static int restore_tsc_khz(struct vcpu *vcpu, uint32_t khz)
{
	int cur = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);

	if (cur > 0 && (uint32_t)cur == khz)
		return 0;
	if (ioctl(vcpu->fd, KVM_SET_TSC_KHZ, (unsigned long)khz) < 0) {
		log_err("snapshot: vCPU %u: the snapshot's TSC runs at %u kHz, this host's at %d "
			"kHz, and KVM cannot scale it (%s)",
			vcpu->index, khz, cur, strerror(errno));
		return -ENOTSUP;
	}
	return 0;
}

static int restore_xsave(struct vcpu *vcpu, const struct snap_vcpu_state *s)
{
	size_t size = xsave_size(vcpu);
	struct kvm_xsave *x;
	int ret;

	if (s->xsave_len > size) {
		log_err("snapshot: vCPU %u: saved XSAVE area is %u bytes, this host's KVM takes "
			"%zu",
			vcpu->index, s->xsave_len, size);
		return -EINVAL;
	}
	/* KVM_SET_XSAVE reads `size` bytes; a shorter saved area means the extra
	 * components were not in use (XSTATE_BV in its header says so). */
	x = calloc(1, size);
	if (x == NULL)
		return -ENOMEM;
	memcpy(x, s->xsave, s->xsave_len);
	ret = vcpu_ioctl(vcpu, KVM_SET_XSAVE, "KVM_SET_XSAVE", x);
	free(x);
	return ret;
}

static int restore_msrs(struct vcpu *vcpu, const struct snap_vcpu_state *s)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) + s->nmsrs * sizeof(m->entries[0]));
	int r;

	if (m == NULL)
		return -ENOMEM;
	m->nmsrs = s->nmsrs;
	memcpy(m->entries, s->msrs, s->nmsrs * sizeof(m->entries[0]));
	r = ioctl(vcpu->fd, KVM_SET_MSRS, m);
	free(m);
	if (r == (int)s->nmsrs)
		return 0;
	if (r < 0) {
		r = -errno;
		log_err("snapshot: KVM_SET_MSRS on vCPU %u: %s", vcpu->index, strerror(-r));
		return r;
	}
	log_err("snapshot: vCPU %u: KVM refused MSR %#x (value %#llx), entry %d of %u", vcpu->index,
		s->msrs[r].index, (unsigned long long)s->msrs[r].data, r, s->nmsrs);
	return -EINVAL;
}

/* Whether this host's CPU is AMD's (or Hygon's), i.e. KVM runs guests with SVM. */
static bool host_svm(void)
{
	unsigned a, b, c, d;

	if (__get_cpuid(0, &a, &b, &c, &d) == 0)
		return false;
	return b == 0x68747541 /* "Auth" */ || b == 0x6f677948 /* "Hygo" */;
}

/* The segment registers as KVM_SET_SREGS should get them on this host.
 *
 * On SVM, KVM_GET_SREGS reports TR's TSS type with the busy bit forced on
 * (svm_get_segment() adds it: the VMCB does not carry it), and
 * svm_set_segment() stores whatever type it is given into the VMCB. Given
 * back a busy 64-bit TSS (11), the guest keeps its exception stacks but the
 * CPU no longer honours the TSS's I/O permission bitmap: every IN/OUT that
 * ioperm() allowed raises #GP (seen in the testbox, nested SVM on AMD). The
 * guest's init does ioperm() + outb() to the boot-timer port, so a snapshot
 * taken before init ran restored into an init killed by SIGSEGV. Given the
 * "available" type (9) instead, the bitmap works. VMX requires a busy TR,
 * so this is for SVM hosts only. */
static void sregs_for_host(struct kvm_sregs *sregs)
{
	if (host_svm() && sregs->tr.type == SNAP_TSS_BUSY64)
		sregs->tr.type = SNAP_TSS_AVAIL64;
}

int snap_vcpu_restore(struct vcpu *vcpu, const struct snap_vcpu_state *s)
{
	struct kvm_sregs sregs = s->sregs;
	struct kvm_cpuid2 *cpuid;
	struct kvm_mp_state mp = { .mp_state = s->mp_state };
	struct kvm_lapic_state lapic;
	int ret;

	if (s->index != vcpu->index) {
		log_err("snapshot: state of vCPU %u offered to vCPU %u", s->index, vcpu->index);
		return -EINVAL;
	}
	sregs_for_host(&sregs);
	/* 0. TSC frequency: scaling must be set before any TSC value is loaded
	 *    (the TSC MSR, the LAPIC timer's deadline). Refused if impossible. */
	ret = restore_tsc_khz(vcpu, s->tsc_khz);
	if (ret < 0)
		return ret;
	/* 1. CPUID: KVM derives from it what every later setter accepts (XSAVE
	 *    components and XCR0 bits, CR4 bits, which MSRs exist, x2APIC). */
	cpuid = cpuid_alloc();
	if (cpuid == NULL)
		return -ENOMEM;
	cpuid->nent = s->ncpuid;
	memcpy(cpuid->entries, s->cpuid, s->ncpuid * sizeof(s->cpuid[0]));
	ret = vcpu_ioctl(vcpu, KVM_SET_CPUID2, "KVM_SET_CPUID2", cpuid);
	free(cpuid);
	if (ret < 0)
		return ret;
	/* 2. MP state (running, halted, waiting for SIPI): before the events,
	 *    because KVM refuses an INIT/SIPI MP state while an INIT is latched,
	 *    and the events (step 10) are what restore a latched INIT. */
	ret = vcpu_ioctl(vcpu, KVM_SET_MP_STATE, "KVM_SET_MP_STATE", &mp);
	/* 3. General registers: plain storage, independent of the CPU mode. */
	if (ret == 0)
		ret = vcpu_ioctl(vcpu, KVM_SET_REGS, "KVM_SET_REGS", (void *)&s->regs);
	/* 4. Segment and control registers, EFER and the APIC base: this sets
	 *    the mode (long mode, paging, CR4.OSXSAVE) and the xAPIC/x2APIC mode
	 *    that steps 5-9 are interpreted in. */
	if (ret == 0)
		ret = vcpu_ioctl(vcpu, KVM_SET_SREGS, "KVM_SET_SREGS", &sregs);
	/* 5. FPU/SSE/AVX contents, checked by KVM against the CPUID of step 1. */
	if (ret == 0)
		ret = restore_xsave(vcpu, s);
	/* 6. XCR0, after CR4.OSXSAVE (step 4) and the xstate it enables (5). */
	if (ret == 0)
		ret = vcpu_ioctl(vcpu, KVM_SET_XCRS, "KVM_SET_XCRS", (void *)&s->xcrs);
	/* 7. Debug registers; DR7 is checked against the mode set in step 4. */
	if (ret == 0)
		ret = vcpu_ioctl(vcpu, KVM_SET_DEBUGREGS, "KVM_SET_DEBUGREGS", (void *)&s->dregs);
	/* 8. LAPIC registers, after the APIC base (step 4) so the ID register is
	 *    read in the right mode, and before the MSRs: a TSC-deadline write
	 *    only arms the timer once LVTT is in TSC-deadline mode. */
	if (ret == 0) {
		memcpy(lapic.regs, s->lapic, SNAP_LAPIC_LEN);
		ret = vcpu_ioctl(vcpu, KVM_SET_LAPIC, "KVM_SET_LAPIC", &lapic);
	}
	/* 9. MSRs, the TSC first (see snap_msr_list_build); the kvmclock MSRs
	 *    point into guest memory, which is registered by now. */
	if (ret == 0)
		ret = restore_msrs(vcpu, s);
	/* 10. Pending exceptions, interrupts, NMI and SMI last: earlier setters
	 *     (SREGS' interrupt bitmap, the LAPIC) may queue or clear events. */
	if (ret == 0)
		ret = vcpu_ioctl(vcpu, KVM_SET_VCPU_EVENTS, "KVM_SET_VCPU_EVENTS",
				 (void *)&s->events);
	return ret;
}

/* ---- codec ---- */

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

void snap_vcpu_encode(struct snap_writer *w, const struct snap_vcpu_state *s)
{
	const struct kvm_vcpu_events *e = &s->events;

	snap_w_section_begin(w, SNAP_TAG_VCPU, SNAP_VCPU_VERSION);
	snap_w_u32(w, s->index);
	snap_w_u32(w, s->tsc_khz);
	snap_w_u32(w, s->ncpuid);
	for (uint32_t i = 0; i < s->ncpuid && i < SNAP_MAX_CPUID; i++) {
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
	snap_w_bytes(w, s->xsave, s->xsave_len <= SNAP_XSAVE_MAX ? s->xsave_len : 0);
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
	snap_w_bytes(w, s->lapic, SNAP_LAPIC_LEN);
	snap_w_u32(w, s->nmsrs);
	for (uint32_t i = 0; i < s->nmsrs && i < SNAP_MAX_MSRS; i++) {
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

int snap_vcpu_decode(const struct snap_section *sec, struct snap_vcpu_state *out)
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
	if (out->ncpuid == 0 || out->ncpuid > SNAP_MAX_CPUID)
		return snap_r_fail(&r, "%u CPUID entries, not in 1..%u", out->ncpuid,
				   SNAP_MAX_CPUID);
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
	if (out->mp_state > SNAP_MP_STATE_MAX)
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
	if (out->xsave_len < SNAP_XSAVE_MIN || out->xsave_len > SNAP_XSAVE_MAX ||
	    out->xsave_len % 4 != 0)
		return snap_r_fail(&r, "XSAVE area of %u bytes, not a multiple of 4 in %u..%u",
				   out->xsave_len, SNAP_XSAVE_MIN, SNAP_XSAVE_MAX);
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
	snap_r_bytes(&r, out->lapic, SNAP_LAPIC_LEN);
	out->nmsrs = snap_r_u32(&r);
	if (out->nmsrs > SNAP_MAX_MSRS)
		return snap_r_fail(&r, "%u MSRs, over SNAP_MAX_MSRS (%u)", out->nmsrs,
				   SNAP_MAX_MSRS);
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
	if (e->flags & ~(uint32_t)SNAP_EVENTS_FLAGS)
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
