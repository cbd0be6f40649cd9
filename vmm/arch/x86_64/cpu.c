/* cpu: boot GDT, segment/control registers, regs, MSRs, FPU and LAPIC of a new vCPU (see cpu.h). */
#include "vmm/arch/x86_64/cpu.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/arch/x86_64/layout.h"
#include "lib/util/log.h"
#include "vmm/arch/x86_64/pagetable.h"

/* GDT access/flag words: G, D/B, L, AVL in the high nibble, then P, DPL, S, type. */
#define GDT_CODE64 0xa09b
#define GDT_CODE32 0xc09b
#define GDT_DATA   0xc093
#define GDT_TSS	   0x808b
#define GDT_LIMIT  0xfffffu

#define RFLAGS_RESERVED 0x2
#define FPU_FCW		0x37f  /* x87 reset value: all exceptions masked */
#define FPU_MXCSR	0x1f80 /* SSE reset value */

#define MSR_IA32_SYSENTER_CS	0x174
#define MSR_IA32_SYSENTER_ESP	0x175
#define MSR_IA32_SYSENTER_EIP	0x176
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SYSCALL_MASK	0xc0000084
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MSR_IA32_MISC_ENABLE	0x1a0
#define MISC_ENABLE_FAST_STRING 1
#define MSR_MTRR_DEF_TYPE	0x2ff
#define MTRR_ENABLE		(1u << 11)
#define MTRR_TYPE_WB		6

#define APIC_LVT_LINT0	 0x350
#define APIC_LVT_LINT1	 0x360
#define APIC_MODE_MASK	 0x700
#define APIC_MODE_NMI	 0x4
#define APIC_MODE_EXTINT 0x7

static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000u) << 32) | ((uint64_t)(base & 0x00ffffffu) << 16) |
	       (limit & 0xffffu) | ((uint64_t)(limit & 0xf0000u) << 32) |
	       ((uint64_t)(flags & 0xf0ffu) << 40);
}

static struct kvm_segment segment(uint16_t flags, uint16_t selector)
{
	struct kvm_segment s = {
		.base = 0,
		.limit = (flags >> 15) & 1 ? (GDT_LIMIT << 12) | 0xfff : GDT_LIMIT,
		.selector = selector,
		.type = flags & 0xf,
		.s = (flags >> 4) & 1,
		.dpl = (flags >> 5) & 3,
		.present = (flags >> 7) & 1,
		.avl = (flags >> 12) & 1,
		.l = (flags >> 13) & 1,
		.db = (flags >> 14) & 1,
		.g = (flags >> 15) & 1,
	};

	return s;
}

static uint16_t code_flags(enum boot_entry mode)
{
	return mode == BOOT_ENTRY_LINUX64 ? GDT_CODE64 : GDT_CODE32;
}

int cpu_write_gdt(struct gmem *gm, enum boot_entry mode)
{
	uint64_t gdt[CPU_GDT_ENTRIES] = {
		[CPU_GDT_CODE_SEL / 8] = gdt_entry(code_flags(mode), 0, GDT_LIMIT),
		[CPU_GDT_DATA_SEL / 8] = gdt_entry(GDT_DATA, 0, GDT_LIMIT),
		[CPU_GDT_TSS_SEL / 8] = gdt_entry(GDT_TSS, 0, GDT_LIMIT),
	};
	uint64_t idt = 0;
	int ret;

	ret = gmem_write(gm, LAYOUT_GDT_GPA, gdt, sizeof(gdt));
	if (ret == 0)
		ret = gmem_write(gm, LAYOUT_IDT_GPA, &idt, sizeof(idt));
	return ret;
}

void cpu_init_sregs(struct kvm_sregs *s, enum boot_entry mode, uint64_t cr3)
{
	struct kvm_segment data = segment(GDT_DATA, CPU_GDT_DATA_SEL);

	s->cs = segment(code_flags(mode), CPU_GDT_CODE_SEL);
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->tr = segment(GDT_TSS, CPU_GDT_TSS_SEL);
	s->gdt.base = LAYOUT_GDT_GPA;
	s->gdt.limit = CPU_GDT_ENTRIES * sizeof(uint64_t) - 1;
	s->idt.base = LAYOUT_IDT_GPA;
	s->idt.limit = sizeof(uint64_t) - 1;
	/* Caches on (KVM's reset CR0 has CD and NW set), protected mode. */
	s->cr0 = CR0_PE | CR0_ET | CR0_NE;
	s->cr4 = 0;
	s->efer = 0;
	if (mode == BOOT_ENTRY_LINUX64) {
		s->cr3 = cr3;
		s->cr4 |= CR4_PAE;
		s->cr0 |= CR0_PG;
		s->efer |= EFER_LME | EFER_LMA;
	}
}

void cpu_init_regs(struct kvm_regs *r, const struct kernel_image *img)
{
	memset(r, 0, sizeof(*r));
	r->rflags = RFLAGS_RESERVED;
	r->rip = img->entry;
	r->rsp = LAYOUT_BOOT_STACK_GPA;
	r->rbp = LAYOUT_BOOT_STACK_GPA;
	if (img->entry_mode == BOOT_ENTRY_PVH)
		r->rbx = LAYOUT_PVH_INFO_GPA;
	else
		r->rsi = LAYOUT_ZERO_PAGE_GPA;
}

unsigned cpu_boot_msrs(struct kvm_msr_entry *out, unsigned max)
{
	static const struct kvm_msr_entry msrs[] = {
		{ .index = MSR_IA32_SYSENTER_CS },
		{ .index = MSR_IA32_SYSENTER_ESP },
		{ .index = MSR_IA32_SYSENTER_EIP },
		{ .index = MSR_STAR },
		{ .index = MSR_CSTAR },
		{ .index = MSR_KERNEL_GS_BASE },
		{ .index = MSR_SYSCALL_MASK },
		{ .index = MSR_LSTAR },
		{ .index = MSR_IA32_MISC_ENABLE, .data = MISC_ENABLE_FAST_STRING },
		/* MTRRs on, write-back by default: KVM's reset value means uncached. */
		{ .index = MSR_MTRR_DEF_TYPE, .data = MTRR_ENABLE | MTRR_TYPE_WB },
	};
	unsigned n = sizeof(msrs) / sizeof(msrs[0]);

	if (n > max)
		n = max;
	memcpy(out, msrs, n * sizeof(msrs[0]));
	return n;
}

int cpu_setup_boot_vcpu(int vcpu_fd, struct gmem *gm, const struct kernel_image *img)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	uint64_t cr3 = 0;
	int ret;

	ret = cpu_write_gdt(gm, img->entry_mode);
	if (ret == 0 && img->entry_mode == BOOT_ENTRY_LINUX64)
		ret = pagetable_write(gm, &cr3);
	if (ret < 0) {
		log_err("guest memory too small for the boot GDT and page tables");
		return ret;
	}
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		goto err_ioctl;
	cpu_init_sregs(&sregs, img->entry_mode, cr3);
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		goto err_ioctl;
	cpu_init_regs(&regs, img);
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		goto err_ioctl;
	return 0;

err_ioctl:
	ret = -errno;
	log_err("setting up the boot vCPU's registers: %s", strerror(errno));
	return ret;
}

static int set_lint(int vcpu_fd)
{
	struct kvm_lapic_state lapic;
	uint32_t v;

	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	memcpy(&v, &lapic.regs[APIC_LVT_LINT0], sizeof(v));
	v = (v & ~APIC_MODE_MASK) | (APIC_MODE_EXTINT << 8);
	memcpy(&lapic.regs[APIC_LVT_LINT0], &v, sizeof(v));
	memcpy(&v, &lapic.regs[APIC_LVT_LINT1], sizeof(v));
	v = (v & ~APIC_MODE_MASK) | (APIC_MODE_NMI << 8);
	memcpy(&lapic.regs[APIC_LVT_LINT1], &v, sizeof(v));
	if (ioctl(vcpu_fd, KVM_SET_LAPIC, &lapic) < 0)
		return -errno;
	return 0;
}

int cpu_setup_vcpu(int vcpu_fd)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entries[CPU_MAX_BOOT_MSRS];
	} msrs;
	struct kvm_fpu fpu;
	int n, ret;

	memset(&msrs, 0, sizeof(msrs));
	msrs.hdr.nmsrs = cpu_boot_msrs(msrs.entries, CPU_MAX_BOOT_MSRS);
	n = ioctl(vcpu_fd, KVM_SET_MSRS, &msrs);
	if (n < 0 || (unsigned)n != msrs.hdr.nmsrs) {
		ret = n < 0 ? -errno : -EINVAL;
		log_err("KVM_SET_MSRS: MSR %#x refused", msrs.entries[n < 0 ? 0 : n].index);
		return ret;
	}
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = FPU_FCW;
	fpu.mxcsr = FPU_MXCSR;
	if (ioctl(vcpu_fd, KVM_SET_FPU, &fpu) < 0) {
		ret = -errno;
		log_err("KVM_SET_FPU: %s", strerror(errno));
		return ret;
	}
	ret = set_lint(vcpu_fd);
	if (ret < 0)
		log_err("setting LAPIC LINT0/LINT1: %s", strerror(-ret));
	return ret;
}
