/* struct_eq: field-by-field comparison of the structs tests round-trip (see struct_eq.h). */
#include "tests/unit/struct_eq.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* A field added to one of these must be compared below: update the size once it is. */
#define PINNED(type, size) _Static_assert(sizeof(type) == (size), #type " changed: compare it here")
PINNED(struct boot_source_config, 10240);
PINNED(struct machine_config, 24);
PINNED(struct console_config, 4096);
PINNED(struct drive_config, 4119);
PINNED(struct entropy_config, 1);
PINNED(struct vsock_config, 124);
PINNED(struct vm_config, 47448);
PINNED(struct vsock_hdr, 48);
PINNED(struct snap_drive, 4144);
PINNED(struct snap_config, 33288);
PINNED(struct snap_region, 24);
PINNED(struct snap_machine, 216);
PINNED(struct platform_state, 368);
PINNED(struct cpu_state, 36912);

static _Thread_local char where[192];

/* The path of a field inside an array element: "drives[1].drive_id". */
static const char *at(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *at(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(where, sizeof(where), fmt, ap);
	va_end(ap);
	return where;
}

/* Each returns the field's name as written, a string literal. */
#define NUM(f)                                                                                     \
	if (a->f != b->f)                                                                          \
	return #f
#define STR(f)                                                                                     \
	if (strncmp(a->f, b->f, sizeof(a->f)) != 0)                                                \
	return #f
#define BYTES(f, n)                                                                                \
	if (memcmp(a->f, b->f, (n)) != 0)                                                          \
	return #f

static const char *drive(const struct drive_config *a, const struct drive_config *b)
{
	STR(drive_id);
	STR(path_on_host);
	NUM(is_read_only);
	NUM(is_root_device);
	return NULL;
}

const char *eq_vm_config(const struct vm_config *a, const struct vm_config *b)
{
	const char *d;

	STR(boot_source.kernel_image_path);
	STR(boot_source.initrd_path);
	STR(boot_source.boot_args);
	NUM(machine.vcpu_count);
	NUM(machine.mem_size_mib);
	NUM(machine.smt);
	NUM(machine.track_dirty_pages);
	STR(console.path);
	NUM(ndrives);
	for (unsigned i = 0; i < a->ndrives && i < CONFIG_MAX_DRIVES; i++)
		if ((d = drive(&a->drives[i], &b->drives[i])) != NULL)
			return at("drives[%u].%s", i, d);
	NUM(entropy.enabled);
	NUM(vsock.enabled);
	/* A disabled vsock's other fields mean nothing. */
	if (a->vsock.enabled) {
		STR(vsock.vsock_id);
		NUM(vsock.guest_cid);
		STR(vsock.uds_path);
	}
	return NULL;
}

const char *eq_vsock_hdr(const struct vsock_hdr *a, const struct vsock_hdr *b)
{
	NUM(src_cid);
	NUM(dst_cid);
	NUM(src_port);
	NUM(dst_port);
	NUM(len);
	NUM(type);
	NUM(op);
	NUM(flags);
	NUM(buf_alloc);
	NUM(fwd_cnt);
	return NULL;
}

static const char *snap_drive(const struct snap_drive *a, const struct snap_drive *b)
{
	STR(id);
	STR(path);
	NUM(read_only);
	NUM(is_root);
	NUM(size);
	NUM(ino);
	NUM(mtime_ns);
	return NULL;
}

const char *eq_snap_config(const struct snap_config *a, const struct snap_config *b)
{
	const char *d;

	NUM(vcpu_count);
	NUM(mem_size_mib);
	NUM(ndrives);
	for (unsigned i = 0; i < a->ndrives && i < CONFIG_MAX_DRIVES; i++)
		if ((d = snap_drive(&a->drives[i], &b->drives[i])) != NULL)
			return at("drives[%u].%s", i, d);
	NUM(entropy);
	NUM(vsock);
	NUM(vsock_cid);
	STR(vsock_uds);
	return NULL;
}

const char *eq_snap_machine(const struct snap_machine *a, const struct snap_machine *b)
{
	NUM(vcpu_count);
	NUM(mem_size);
	NUM(nregions);
	for (unsigned i = 0; i < a->nregions && i < SNAP_MAX_REGIONS; i++) {
		if (a->regions[i].slot != b->regions[i].slot)
			return at("regions[%u].slot", i);
		if (a->regions[i].gpa != b->regions[i].gpa)
			return at("regions[%u].gpa", i);
		if (a->regions[i].size != b->regions[i].size)
			return at("regions[%u].size", i);
	}
	return NULL;
}

static const char *pic(const struct kvm_pic_state *a, const struct kvm_pic_state *b)
{
	NUM(last_irr);
	NUM(irr);
	NUM(imr);
	NUM(isr);
	NUM(priority_add);
	NUM(irq_base);
	NUM(read_reg_select);
	NUM(poll);
	NUM(special_mask);
	NUM(init_state);
	NUM(auto_eoi);
	NUM(rotate_on_auto_eoi);
	NUM(special_fully_nested_mode);
	NUM(init4);
	NUM(elcr);
	NUM(elcr_mask);
	return NULL;
}

static const char *pit_channel(const struct kvm_pit_channel_state *a,
			       const struct kvm_pit_channel_state *b)
{
	NUM(count);
	NUM(latched_count);
	NUM(count_latched);
	NUM(status_latched);
	NUM(status);
	NUM(read_state);
	NUM(write_state);
	NUM(write_latch);
	NUM(rw_mode);
	NUM(mode);
	NUM(bcd);
	NUM(gate);
	NUM(count_load_time);
	return NULL;
}

const char *eq_snap_vm(const struct platform_state *a, const struct platform_state *b)
{
	const char *d;

	for (unsigned i = 0; i < 2; i++)
		if ((d = pic(&a->pic[i], &b->pic[i])) != NULL)
			return at("pic[%u].%s", i, d);
	NUM(ioapic.base_address);
	NUM(ioapic.ioregsel);
	NUM(ioapic.id);
	NUM(ioapic.irr);
	for (unsigned i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
		if (a->ioapic.redirtbl[i].bits != b->ioapic.redirtbl[i].bits)
			return at("ioapic.redirtbl[%u].bits", i);
	for (unsigned i = 0; i < 3; i++)
		if ((d = pit_channel(&a->pit.channels[i], &b->pit.channels[i])) != NULL)
			return at("pit.channels[%u].%s", i, d);
	NUM(pit.flags);
	NUM(clock);
	return NULL;
}

static const char *segment(const struct kvm_segment *a, const struct kvm_segment *b)
{
	NUM(base);
	NUM(limit);
	NUM(selector);
	NUM(type);
	NUM(present);
	NUM(dpl);
	NUM(db);
	NUM(s);
	NUM(l);
	NUM(g);
	NUM(avl);
	NUM(unusable);
	return NULL;
}

static const char *cpuid_entry(const struct kvm_cpuid_entry2 *a, const struct kvm_cpuid_entry2 *b)
{
	NUM(function);
	NUM(index);
	NUM(flags);
	NUM(eax);
	NUM(ebx);
	NUM(ecx);
	NUM(edx);
	return NULL;
}

static const char *regs(const struct kvm_regs *a, const struct kvm_regs *b)
{
	NUM(rax);
	NUM(rbx);
	NUM(rcx);
	NUM(rdx);
	NUM(rsi);
	NUM(rdi);
	NUM(rsp);
	NUM(rbp);
	NUM(r8);
	NUM(r9);
	NUM(r10);
	NUM(r11);
	NUM(r12);
	NUM(r13);
	NUM(r14);
	NUM(r15);
	NUM(rip);
	NUM(rflags);
	return NULL;
}

/* Takes the whole state so that every name it returns starts with "sregs.". */
static const char *sregs(const struct cpu_state *a, const struct cpu_state *b)
{
	static const char *const seg_names[] = { "cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt" };
	const struct kvm_sregs *ra = &a->sregs, *rb = &b->sregs;
	const struct kvm_segment *sa[] = { &ra->cs, &ra->ds, &ra->es, &ra->fs,
					   &ra->gs, &ra->ss, &ra->tr, &ra->ldt };
	const struct kvm_segment *sb[] = { &rb->cs, &rb->ds, &rb->es, &rb->fs,
					   &rb->gs, &rb->ss, &rb->tr, &rb->ldt };
	const char *d;

	for (unsigned i = 0; i < 8; i++)
		if ((d = segment(sa[i], sb[i])) != NULL)
			return at("sregs.%s.%s", seg_names[i], d);
	NUM(sregs.gdt.base);
	NUM(sregs.gdt.limit);
	NUM(sregs.idt.base);
	NUM(sregs.idt.limit);
	NUM(sregs.cr0);
	NUM(sregs.cr2);
	NUM(sregs.cr3);
	NUM(sregs.cr4);
	NUM(sregs.cr8);
	NUM(sregs.efer);
	NUM(sregs.apic_base);
	for (unsigned i = 0; i < 4; i++)
		if (ra->interrupt_bitmap[i] != rb->interrupt_bitmap[i])
			return at("sregs.interrupt_bitmap[%u]", i);
	return NULL;
}

static const char *events(const struct kvm_vcpu_events *a, const struct kvm_vcpu_events *b)
{
	NUM(exception.injected);
	NUM(exception.nr);
	NUM(exception.has_error_code);
	NUM(exception.pending);
	NUM(exception.error_code);
	NUM(interrupt.injected);
	NUM(interrupt.nr);
	NUM(interrupt.soft);
	NUM(interrupt.shadow);
	NUM(nmi.injected);
	NUM(nmi.pending);
	NUM(nmi.masked);
	NUM(sipi_vector);
	NUM(flags);
	NUM(smi.smm);
	NUM(smi.pending);
	NUM(smi.smm_inside_nmi);
	NUM(smi.latched_init);
	NUM(triple_fault.pending);
	NUM(exception_has_payload);
	NUM(exception_payload);
	return NULL;
}

const char *eq_snap_vcpu(const struct cpu_state *a, const struct cpu_state *b)
{
	const char *d;

	NUM(index);
	NUM(tsc_khz);
	NUM(ncpuid);
	for (unsigned i = 0; i < a->ncpuid && i < CPU_STATE_MAX_CPUID; i++)
		if ((d = cpuid_entry(&a->cpuid[i], &b->cpuid[i])) != NULL)
			return at("cpuid[%u].%s", i, d);
	NUM(mp_state);
	if ((d = regs(&a->regs, &b->regs)) != NULL)
		return at("regs.%s", d);
	if ((d = sregs(a, b)) != NULL)
		return d;
	NUM(xsave_len);
	BYTES(xsave, a->xsave_len <= CPU_STATE_XSAVE_MAX ? a->xsave_len : CPU_STATE_XSAVE_MAX);
	NUM(xcrs.nr_xcrs);
	NUM(xcrs.flags);
	for (unsigned i = 0; i < a->xcrs.nr_xcrs && i < KVM_MAX_XCRS; i++) {
		if (a->xcrs.xcrs[i].xcr != b->xcrs.xcrs[i].xcr)
			return at("xcrs.xcrs[%u].xcr", i);
		if (a->xcrs.xcrs[i].value != b->xcrs.xcrs[i].value)
			return at("xcrs.xcrs[%u].value", i);
	}
	for (unsigned i = 0; i < 4; i++)
		if (a->dregs.db[i] != b->dregs.db[i])
			return at("dregs.db[%u]", i);
	NUM(dregs.dr6);
	NUM(dregs.dr7);
	NUM(dregs.flags);
	BYTES(lapic, CPU_STATE_LAPIC_LEN);
	NUM(nmsrs);
	for (unsigned i = 0; i < a->nmsrs && i < CPU_STATE_MAX_MSRS; i++) {
		if (a->msrs[i].index != b->msrs[i].index)
			return at("msrs[%u].index", i);
		if (a->msrs[i].data != b->msrs[i].data)
			return at("msrs[%u].data", i);
	}
	if ((d = events(&a->events, &b->events)) != NULL)
		return at("events.%s", d);
	return NULL;
}
