/* snap-roundtrip: save a real KVM VM's vCPU and VM state, restore it into a fresh VM, save again, compare.
 *
 * Usage: snap-roundtrip [VCPUS] [MEM_MIB] [KEEP]   (defaults 2 and 64; KEEP: also
 * write the state file there, e.g. as a fuzz seed)
 * Builds VM A with the real vmm/core code (kvm_open, vm_create, memory,
 * arch_vm_create_irqchip, vcpu_create), gives its vCPUs distinct registers and
 * runs KVM_RUN once with immediate_exit (what a parked vCPU has done), queues
 * an NMI on the last vCPU, saves
 * its state through a state file, restores the file into VM B, saves B and
 * checks the two encodings are identical once the fields that move with time
 * are set aside (the TSC, kvmclock, the PIT's load time, the LAPIC's current
 * count); kvmclock must not run backwards, nor the TSC by more than KVM's
 * one-second synchronisation window. Then a restore onto a VM with other
 * memory, and one with a drive file written since, must be refused. No guest
 * code runs, so PVM hosts can run it. Prints timings; exit 0 on success,
 * 77 if /dev/kvm is absent. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vmm/arch/arch.h"
#include "vmm/arch/x86_64/layout.h"
#include "lib/fcapi/config.h"
#include "vmm/core/kvm.h"
#include "vmm/core/vcpu.h"
#include "vmm/core/vm.h"
#include "vmm/snapshot/state.h"
#include "lib/util/log.h"
#include "tests/unit/struct_eq.h"

#define ASSERT(c)                                                                                  \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "snap-roundtrip: %s:%d: %s failed (%s)\n", __FILE__,       \
				__LINE__, #c, log_last_error());                                   \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)
#define ITERATIONS	 10
#define LAPIC_TMCCT	 0x390 /* timer current count: computed by KVM at read time */
#define MAX_TSC_DRIFT_NS (60ull * 1000000000ull)

struct machine {
	struct gmem *gm;
	struct vm *vm;
	unsigned n;
	struct vcpu *vcpus[CONFIG_MAX_VCPUS];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void build(struct kvm *kvm, unsigned n, uint64_t mem_mib, struct machine *m)
{
	memset(m, 0, sizeof(*m));
	m->n = n;
	ASSERT(gmem_create(mem_mib << 20, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END, &m->gm) == 0);
	ASSERT(vm_create(kvm, &m->vm) == 0);
	ASSERT(vm_set_memory(m->vm, m->gm, false) == 0);
	ASSERT(arch_vm_create_irqchip(m->vm) == 0);
	for (unsigned i = 0; i < n; i++)
		ASSERT(vcpu_create(m->vm, i, n, NULL, NULL, &m->vcpus[i]) == 0);
}

static void teardown(struct machine *m)
{
	for (unsigned i = 0; i < m->n; i++)
		vcpu_destroy(m->vcpus[i]);
	vm_destroy(m->vm);
	gmem_destroy(m->gm);
}

/* Distinct, recognisable state, then one KVM_RUN that returns at once. */
static void dirty(struct machine *m)
{

	for (unsigned i = 0; i < m->n; i++) {
		struct vcpu *v = m->vcpus[i];
		struct kvm_regs regs;

		ASSERT(ioctl(v->fd, KVM_GET_REGS, &regs) == 0);
		regs.rax = 0x1111000000000000ull + i;
		regs.r15 = 0xfeedface00000000ull + i;
		regs.rflags = 0x2 | (1u << 9);
		ASSERT(ioctl(v->fd, KVM_SET_REGS, &regs) == 0);
		v->run->immediate_exit = 1;
		ASSERT(ioctl(v->fd, KVM_RUN, 0) < 0 && errno == EINTR);
		v->run->immediate_exit = 0;
	}
	/* A pending NMI on the last vCPU: the events must carry it across
	 * (KVM_GET_VCPU_EVENTS flags nmi.pending as valid). */
	ASSERT(ioctl(m->vcpus[m->n - 1]->fd, KVM_NMI, 0) == 0);
}

static uint64_t msr_value(const struct cpu_state *s, uint32_t index)
{
	for (unsigned i = 0; i < s->nmsrs; i++)
		if (s->msrs[i].index == index)
			return s->msrs[i].data;
	return 0;
}

/* Sets aside the fields that move with time, after checking they did not
 * run backwards from `before` (NULL: nothing to check). */
static void settle(struct snap_state *s, const struct snap_state *before)
{
	for (unsigned i = 0; i < s->nvcpus; i++) {
		struct cpu_state *v = &s->vcpus[i];

		if (before != NULL) {
			uint64_t t0 = msr_value(&before->vcpus[i], CPU_MSR_IA32_TSC);
			uint64_t t1 = msr_value(v, CPU_MSR_IA32_TSC);

			/* KVM treats a host TSC write within one second of what the
			 * last write would read now as a synchronisation and keeps
			 * the old offset (kvm_synchronize_tsc). A VM seconds old, as
			 * here, can therefore come back up to 1 s behind. */
			ASSERT(t1 + 1000ull * v->tsc_khz >= t0);
			ASSERT(t1 < t0 + MAX_TSC_DRIFT_NS / 1000000 * v->tsc_khz);
		}
		for (unsigned k = 0; k < v->nmsrs; k++)
			if (v->msrs[k].index == CPU_MSR_IA32_TSC)
				v->msrs[k].data = 0;
		memset(v->lapic + LAPIC_TMCCT, 0, 4);
		/* On AMD hosts the restore marks TR available, not busy (see
		 * cpu_state_restore), and some KVMs report it back that way. */
		if (v->sregs.tr.type == CPU_STATE_TSS_BUSY64)
			v->sregs.tr.type = CPU_STATE_TSS_AVAIL64;
	}
	if (before != NULL) {
		ASSERT(s->vm.clock >= before->vm.clock);
		ASSERT(s->vm.clock - before->vm.clock < MAX_TSC_DRIFT_NS);
	}
	s->vm.clock = 0;
	for (unsigned c = 0; c < 3; c++)
		s->vm.pit.channels[c].count_load_time = 0;
}

static struct snap_writer encode(const struct snap_state *s)
{
	struct snap_writer w;

	ASSERT(snap_w_init(&w) == 0);
	snap_state_encode(&w, s);
	ASSERT(snap_w_finish(&w) == 0);
	return w;
}

/* Says which fields differ, field by field (tests/unit/struct_eq.h: never
 * struct bytes, whose padding holds whatever the memory held). */
static void report_diff(const struct snap_state *a, const struct snap_state *b)
{
	const char *d;

	for (unsigned i = 0; i < a->nvcpus; i++) {
		const struct cpu_state *x = &a->vcpus[i], *y = &b->vcpus[i];

		d = eq_snap_vcpu(x, y);
		if (d != NULL)
			fprintf(stderr, "vCPU %u: %s differs (the first field that does)\n", i, d);
		for (unsigned k = 0; k < CPU_STATE_LAPIC_LEN; k += 16)
			if (memcmp(x->lapic + k, y->lapic + k, 4))
				fprintf(stderr, "vCPU %u: LAPIC register %#x differs\n", i, k);
		for (unsigned k = 0; k < x->nmsrs && k < y->nmsrs; k++)
			if (x->msrs[k].index != y->msrs[k].index ||
			    x->msrs[k].data != y->msrs[k].data)
				fprintf(stderr, "vCPU %u: MSR %#x: %#llx, then %#x: %#llx\n", i,
					x->msrs[k].index, (unsigned long long)x->msrs[k].data,
					y->msrs[k].index, (unsigned long long)y->msrs[k].data);
	}
	d = eq_snap_vm(&a->vm, &b->vm);
	if (d != NULL)
		fprintf(stderr, "VM state (PIC/IOAPIC/PIT): %s differs\n", d);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 2;
	uint64_t mem_mib = argc > 2 ? strtoull(argv[2], NULL, 10) : 64;
	char dir[] = "/tmp/snap-roundtrip.XXXXXX", path[64], drive[64], err[CONFIG_ERR_LEN];
	uint64_t save_ns[ITERATIONS], restore_ns[ITERATIONS], t0;
	struct snap_state sa, sb, loaded;
	struct snap_writer wa, wb;
	struct vm_config cfg;
	struct machine a, b, c;
	struct kvm *kvm;
	FILE *f;

	log_init("snap-roundtrip", LOG_ERR);
	if (access(KVM_DEVICE_PATH, R_OK | W_OK) != 0) {
		printf("SKIP: %s is not usable\n", KVM_DEVICE_PATH);
		return 77;
	}
	ASSERT(n >= 1 && n <= CONFIG_MAX_VCPUS && mem_mib >= CONFIG_MIN_MEM_MIB);
	ASSERT(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/state", dir);
	snprintf(drive, sizeof(drive), "%s/disk.img", dir);
	ASSERT((f = fopen(drive, "w")) != NULL && fputs("disk", f) >= 0 && fclose(f) == 0);
	config_init(&cfg);
	cfg.machine.vcpu_count = n;
	cfg.machine.mem_size_mib = mem_mib;
	ASSERT(config_add_drive(&cfg, drive, err, sizeof(err)) == 0);

	ASSERT(kvm_open(&kvm) == 0);
	build(kvm, n, mem_mib, &a);
	dirty(&a);
	for (unsigned i = 0; i < ITERATIONS; i++) {
		t0 = now_ns();
		ASSERT(snap_state_save(a.vm, a.vcpus, n, a.gm, &cfg, &sa) == 0);
		save_ns[i] = now_ns() - t0;
		if (i + 1 < ITERATIONS)
			snap_state_free(&sa);
	}
	ASSERT(snap_state_write(&sa, path) == 0);
	if (argc > 3)
		ASSERT(snap_state_write(&sa, argv[3]) == 0);
	ASSERT(snap_state_read(path, &loaded) == 0);

	build(kvm, n, mem_mib, &b);
	for (unsigned i = 0; i < ITERATIONS; i++) {
		t0 = now_ns();
		ASSERT(snap_state_restore(b.vm, b.vcpus, n, b.gm, &cfg, &loaded) == 0);
		restore_ns[i] = now_ns() - t0;
	}
	ASSERT(snap_state_save(b.vm, b.vcpus, n, b.gm, &cfg, &sb) == 0);
	ASSERT(sa.vcpus[n - 1].events.nmi.pending == 1);
	settle(&sb, &sa);
	settle(&sa, NULL);
	wa = encode(&sa);
	wb = encode(&sb);
	if (wa.len != wb.len || memcmp(wa.buf, wb.buf, wa.len) != 0) {
		report_diff(&sa, &sb);
		fprintf(stderr, "snap-roundtrip: the state saved after restore differs\n");
		return 1;
	}

	/* Refusals: other memory; a drive written since the snapshot. */
	build(kvm, n, mem_mib * 2, &c);
	cfg.machine.mem_size_mib = mem_mib * 2;
	ASSERT(snap_state_restore(c.vm, c.vcpus, n, c.gm, &cfg, &loaded) == -EINVAL);
	ASSERT(strstr(log_last_error(), "mem_size_mib") != NULL);
	cfg.machine.mem_size_mib = mem_mib;
	ASSERT((f = fopen(drive, "a")) != NULL && fputs("more", f) >= 0 && fclose(f) == 0);
	ASSERT(snap_state_restore(b.vm, b.vcpus, n, b.gm, &cfg, &loaded) == -EINVAL);
	ASSERT(strstr(log_last_error(), "disk.img") != NULL);

	qsort(save_ns, ITERATIONS, sizeof(save_ns[0]), cmp_u64);
	qsort(restore_ns, ITERATIONS, sizeof(restore_ns[0]), cmp_u64);
	printf("OK: %u vCPUs, %u MSRs, XSAVE %u bytes, state file %zu bytes; save median %llu us "
	       "(min %llu), restore median %llu us (min %llu)\n",
	       n, sa.vcpus[0].nmsrs, sa.vcpus[0].xsave_len, wa.len,
	       (unsigned long long)save_ns[ITERATIONS / 2] / 1000,
	       (unsigned long long)save_ns[0] / 1000,
	       (unsigned long long)restore_ns[ITERATIONS / 2] / 1000,
	       (unsigned long long)restore_ns[0] / 1000);

	snap_w_free(&wa);
	snap_w_free(&wb);
	snap_state_free(&sa);
	snap_state_free(&sb);
	snap_state_free(&loaded);
	teardown(&c);
	teardown(&b);
	teardown(&a);
	kvm_close(kvm);
	unlink(path);
	unlink(drive);
	rmdir(dir);
	return 0;
}
