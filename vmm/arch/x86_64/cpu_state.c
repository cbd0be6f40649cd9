/* cpu_state: one x86 vCPU's architectural state read from and written to KVM (see cpu_state.h). */
#include "vmm/arch/x86_64/cpu_state.h"

#include <cpuid.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "lib/util/log.h"

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
	return index >= CPU_MSR_HYPERV_FIRST && index <= CPU_MSR_HYPERV_LAST;
}

/* KVM_GET_MSRS stops at the first MSR it refuses and returns how many it
 * read; keep those, drop the refused one, and go on after it. */
static int probe_msrs(const struct vcpu *vcpu, const uint32_t *cand, unsigned n,
		      struct cpu_msr_list *out)
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

int cpu_state_msr_list(const struct vcpu *vcpu, struct cpu_msr_list *out)
{
	static const uint32_t extra[] = {
		CPU_MSR_KVM_WALL_CLOCK,	     CPU_MSR_KVM_SYSTEM_TIME,  CPU_MSR_KVM_WALL_CLOCK_NEW,
		CPU_MSR_KVM_SYSTEM_TIME_NEW, CPU_MSR_KVM_ASYNC_PF_EN,  CPU_MSR_KVM_STEAL_TIME,
		CPU_MSR_KVM_PV_EOI_EN,	     CPU_MSR_KVM_POLL_CONTROL, CPU_MSR_KVM_ASYNC_PF_INT,
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
	cand[n++] = CPU_MSR_IA32_TSC;
	for (uint32_t i = 0; i < list->nmsrs && i < probe.nmsrs; i++)
		if (!hyperv_msr(list->indices[i]) && !listed(cand, n, list->indices[i]))
			cand[n++] = list->indices[i];
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		if (!listed(cand, n, extra[i]))
			cand[n++] = extra[i];
	if (n > CPU_STATE_MAX_MSRS) {
		log_err("snapshot: KVM lists %u MSRs, over CPU_STATE_MAX_MSRS (%u)", n,
			CPU_STATE_MAX_MSRS);
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
	return calloc(1, sizeof(struct kvm_cpuid2) +
				 CPU_STATE_MAX_CPUID * sizeof(struct kvm_cpuid_entry2));
}

/* Bytes KVM moves for KVM_GET_XSAVE2/KVM_SET_XSAVE on this VM (>= 4096). */
static size_t xsave_size(const struct vcpu *vcpu)
{
	int v = ioctl(vcpu->vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

	return v > CPU_STATE_XSAVE_MIN ? (size_t)v : CPU_STATE_XSAVE_MIN;
}

static int save_xsave(const struct vcpu *vcpu, struct cpu_state *out)
{
	size_t size = xsave_size(vcpu);
	struct kvm_xsave *x;
	int ret;

	if (size > CPU_STATE_XSAVE_MAX) {
		log_err("snapshot: vCPU %u: XSAVE area of %zu bytes, over CPU_STATE_XSAVE_MAX (%u)",
			vcpu->index, size, CPU_STATE_XSAVE_MAX);
		return -E2BIG;
	}
	x = calloc(1, size);
	if (x == NULL)
		return -ENOMEM;
	/* KVM_GET_XSAVE copies only 4096 bytes; a larger area (AMX) needs XSAVE2. */
	if (size > CPU_STATE_XSAVE_MIN)
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

int cpu_state_save(const struct vcpu *vcpu, const struct cpu_msr_list *msrs, struct cpu_state *out)
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
	cpuid->nent = CPU_STATE_MAX_CPUID;
	ret = vcpu_ioctl(vcpu, KVM_GET_CPUID2, "KVM_GET_CPUID2", cpuid);
	if (ret < 0)
		goto out;
	out->ncpuid = cpuid->nent;
	memcpy(out->cpuid, cpuid->entries, out->ncpuid * sizeof(out->cpuid[0]));
	/* First: without KVM_CAP_EXCEPTION_PAYLOAD, KVM_GET_VCPU_EVENTS delivers a
	 * pending exception's payload (a #PF's CR2, a #DB's DR6) into the vCPU
	 * state, which the sregs and debug registers read after it must carry. */
	ret = vcpu_ioctl(vcpu, KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS", &out->events);
	if (ret == 0)
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
	memcpy(out->lapic, lapic.regs, CPU_STATE_LAPIC_LEN);
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
	ret = 0;
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

static int restore_xsave(struct vcpu *vcpu, const struct cpu_state *s)
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

static int restore_msrs(struct vcpu *vcpu, const struct cpu_state *s)
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
	if (host_svm() && sregs->tr.type == CPU_STATE_TSS_BUSY64)
		sregs->tr.type = CPU_STATE_TSS_AVAIL64;
}

int cpu_state_restore(struct vcpu *vcpu, const struct cpu_state *s)
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
		memcpy(lapic.regs, s->lapic, CPU_STATE_LAPIC_LEN);
		ret = vcpu_ioctl(vcpu, KVM_SET_LAPIC, "KVM_SET_LAPIC", &lapic);
	}
	/* 9. MSRs, the TSC first (see cpu_state_msr_list); the kvmclock MSRs
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
