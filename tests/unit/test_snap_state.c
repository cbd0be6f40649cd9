/* Unit tests for vmm/snapshot/{vcpu_state,vm_state,config_state,state}.c: codecs and validation, no KVM.
 *
 * With SNAP_WRITE_SEED=PATH in the environment, the whole-file round trip
 * also writes its file there (the fuzz seed tests/fuzz/corpus/snap_reader/). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/snapshot/dev.h"
#include "vmm/snapshot/state.h"
#include "lib/util/log.h"
#include "tests/unit/struct_eq.h"

static bool last_error_has(const char *s)
{
	if (strstr(log_last_error(), s) != NULL)
		return true;
	fprintf(stderr, "last error \"%s\" lacks \"%s\"\n", log_last_error(), s);
	return false;
}

/* A vCPU state with every field set to something recognisable. */
static struct cpu_state *sample_vcpu(uint32_t index)
{
	struct cpu_state *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->index = index;
	s->tsc_khz = 2500000;
	s->ncpuid = 3;
	for (unsigned i = 0; i < s->ncpuid; i++)
		s->cpuid[i] = (struct kvm_cpuid_entry2){ .function = i,
							 .index = 0,
							 .flags = 1,
							 .eax = 0x11 * i,
							 .ebx = 2,
							 .ecx = 3,
							 .edx = 0xffffffff };
	s->mp_state = KVM_MP_STATE_HALTED;
	s->regs.rax = 0x1111;
	s->regs.r15 = 0xf0f0f0f0f0f0f0f0ull;
	s->regs.rip = 0xffffffff81000000ull;
	s->regs.rflags = 0x246;
	s->sregs.cs = (struct kvm_segment){ .base = 0,
					    .limit = 0xfffff,
					    .selector = 0x10,
					    .type = 11,
					    .present = 1,
					    .s = 1,
					    .l = 1,
					    .g = 1 };
	s->sregs.tr.selector = 0x20;
	s->sregs.gdt = (struct kvm_dtable){ .base = 0x500, .limit = 39 };
	s->sregs.cr0 = 0x80050033;
	s->sregs.cr4 = 0x3506f0;
	s->sregs.efer = 0xd01;
	s->sregs.apic_base = 0xfee00900;
	s->sregs.interrupt_bitmap[3] = 1ull << 63;
	s->xsave_len = CPU_STATE_XSAVE_MIN;
	for (unsigned i = 0; i < s->xsave_len; i++)
		s->xsave[i] = (uint8_t)(i * 7);
	s->xcrs.nr_xcrs = 1;
	s->xcrs.xcrs[0] = (struct kvm_xcr){ .xcr = 0, .value = 7 };
	s->dregs.db[2] = 0x1234;
	s->dregs.dr6 = 0xffff0ff0;
	s->dregs.dr7 = 0x400;
	for (unsigned i = 0; i < CPU_STATE_LAPIC_LEN; i++)
		s->lapic[i] = (uint8_t)(i ^ 0x5a);
	s->nmsrs = 4;
	s->msrs[0] = (struct kvm_msr_entry){ .index = CPU_MSR_IA32_TSC, .data = 123456789 };
	s->msrs[1] = (struct kvm_msr_entry){ .index = 0xc0000080, .data = 0xd01 };
	s->msrs[2] = (struct kvm_msr_entry){ .index = CPU_MSR_KVM_SYSTEM_TIME_NEW, .data = 1 };
	s->msrs[3] = (struct kvm_msr_entry){ .index = 0x6e0, .data = 0 };
	s->events.exception.nr = 14;
	s->events.exception.injected = 1;
	s->events.exception.has_error_code = 1;
	s->events.exception.error_code = 2;
	s->events.interrupt.shadow = KVM_X86_SHADOW_INT_STI;
	s->events.nmi.masked = 1;
	s->events.flags = KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM;
	return s;
}

static void sample_vm(struct platform_state *v)
{
	memset(v, 0, sizeof(*v));
	v->pic[0].imr = 0xfb;
	v->pic[0].irq_base = 0x30;
	v->pic[1].irq_base = 0x38;
	v->pic[1].elcr_mask = 0xde;
	v->ioapic.base_address = 0xfec00000;
	v->ioapic.id = 0;
	for (unsigned i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
		v->ioapic.redirtbl[i].bits = 0x10000 | (0x20 + i);
	v->pit.channels[0] = (struct kvm_pit_channel_state){
		.count = 0x10000, .rw_mode = 3, .mode = 2, .gate = 1, .count_load_time = -5
	};
	v->pit.channels[1].mode = 0xff;
	v->pit.flags = KVM_PIT_FLAGS_HPET_LEGACY;
	v->clock = 987654321;
}

static void sample_machine(struct snap_machine *m, unsigned vcpus)
{
	memset(m, 0, sizeof(*m));
	m->vcpu_count = vcpus;
	m->mem_size = 3ull << 30;
	m->nregions = 2;
	m->regions[0] = (struct snap_region){ 0, 0, 2ull << 30 };
	m->regions[1] = (struct snap_region){ 1, 4ull << 30, 1ull << 30 };
}

static void sample_config(struct snap_config *c, unsigned vcpus)
{
	memset(c, 0, sizeof(*c));
	c->vcpu_count = vcpus;
	c->mem_size_mib = 3072;
	c->ndrives = 2;
	c->drives[0] = (struct snap_drive){ .id = "rootfs",
					    .path = "/srv/runtime.img",
					    .read_only = true,
					    .is_root = true,
					    .size = 1 << 20,
					    .ino = 42,
					    .mtime_ns = 1700000000123456789ull };
	c->drives[1] = (struct snap_drive){
		.id = "code", .path = "/srv/code.img", .read_only = true, .size = 4096, .ino = 43
	};
	c->entropy = true;
	c->vsock = true;
	c->vsock_cid = 3;
	snprintf(c->vsock_uds, sizeof(c->vsock_uds), "/run/ember/vm1/vsock.sock");
}

/* Encodes with fn into a file, parses it, returns its only section. */
#define ENCODE_ONE(w, f, fn, arg)                                                                  \
	do {                                                                                       \
		assert_int_equal(snap_w_init(w), 0);                                               \
		fn((w), (arg));                                                                    \
		assert_int_equal(snap_w_finish(w), 0);                                             \
		assert_int_equal(snap_file_parse((w)->buf, (w)->len, (f)), 0);                     \
		assert_int_equal((f)->nsections, 1);                                               \
	} while (0)

static void test_vcpu_round_trip(void **state)
{
	struct cpu_state *s = sample_vcpu(1), *d = calloc(1, sizeof(*d));
	struct snap_file *f = malloc(sizeof(*f));
	struct snap_writer w;

	(void)state;
	ENCODE_ONE(&w, f, snap_vcpu_encode, s);
	assert_int_equal(snap_vcpu_decode(&f->sections[0], d), 0);
	assert_fields_equal(eq_snap_vcpu, s, d);
	snap_w_free(&w);
	free(f);
	free(d);
	free(s);
}

static void test_vcpu_every_truncation_and_trailing_byte(void **state)
{
	struct cpu_state *s = sample_vcpu(0), *d = calloc(1, sizeof(*d));
	struct snap_file *f = malloc(sizeof(*f));
	struct snap_section sec;
	struct snap_writer w;
	uint8_t *longer;

	(void)state;
	ENCODE_ONE(&w, f, snap_vcpu_encode, s);
	sec = f->sections[0];
	for (size_t len = 0; len < f->sections[0].len; len++) {
		sec.len = len;
		assert_int_equal(snap_vcpu_decode(&sec, d), -EBADMSG);
	}
	longer = calloc(1, f->sections[0].len + 1);
	memcpy(longer, f->sections[0].data, f->sections[0].len);
	sec.data = longer;
	sec.len = f->sections[0].len + 1;
	assert_int_equal(snap_vcpu_decode(&sec, d), -EBADMSG);
	assert_true(last_error_has("1 bytes left over"));
	free(longer);
	snap_w_free(&w);
	free(f);
	free(d);
	free(s);
}

/* Encodes s (made invalid by the caller), expects decode to refuse with msg. */
static void expect_vcpu_refused(struct cpu_state *s, const char *msg)
{
	struct cpu_state *d = calloc(1, sizeof(*d));
	struct snap_file *f = malloc(sizeof(*f));
	struct snap_writer w;

	ENCODE_ONE(&w, f, snap_vcpu_encode, s);
	assert_int_equal(snap_vcpu_decode(&f->sections[0], d), -EBADMSG);
	assert_true(last_error_has(msg));
	snap_w_free(&w);
	free(f);
	free(d);
	free(s);
}

static void test_vcpu_bounds(void **state)
{
	struct cpu_state *s;

	(void)state;
	s = sample_vcpu(0);
	s->nmsrs = CPU_STATE_MAX_MSRS + 1;
	expect_vcpu_refused(s, "over CPU_STATE_MAX_MSRS");
	s = sample_vcpu(0);
	s->nmsrs = CPU_STATE_MAX_MSRS; /* the limit itself is fine */
	{
		struct cpu_state *d = calloc(1, sizeof(*d));
		struct snap_file *f = malloc(sizeof(*f));
		struct snap_writer w;

		ENCODE_ONE(&w, f, snap_vcpu_encode, s);
		assert_int_equal(snap_vcpu_decode(&f->sections[0], d), 0);
		assert_int_equal(d->nmsrs, CPU_STATE_MAX_MSRS);
		snap_w_free(&w);
		free(f);
		free(d);
		free(s);
	}
	s = sample_vcpu(0);
	s->ncpuid = CPU_STATE_MAX_CPUID + 1;
	expect_vcpu_refused(s, "CPUID entries");
	s = sample_vcpu(0);
	s->ncpuid = 0;
	expect_vcpu_refused(s, "CPUID entries");
	s = sample_vcpu(0);
	s->xsave_len = CPU_STATE_XSAVE_MIN - 4;
	expect_vcpu_refused(s, "XSAVE area");
	s = sample_vcpu(0);
	s->xsave_len = CPU_STATE_XSAVE_MAX + 4;
	expect_vcpu_refused(s, "XSAVE area");
	s = sample_vcpu(0);
	s->xsave_len = CPU_STATE_XSAVE_MIN + 2;
	expect_vcpu_refused(s, "XSAVE area");
	s = sample_vcpu(0);
	s->xcrs.nr_xcrs = KVM_MAX_XCRS + 1;
	expect_vcpu_refused(s, "XCRs");
	s = sample_vcpu(0);
	s->mp_state = KVM_MP_STATE_STOPPED;
	expect_vcpu_refused(s, "MP state");
	s = sample_vcpu(0);
	s->tsc_khz = 0;
	expect_vcpu_refused(s, "TSC frequency");
	s = sample_vcpu(0);
	s->events.flags |= 0x100;
	expect_vcpu_refused(s, "unknown bits");
	s = sample_vcpu(0);
	s->events.exception.nr = 32;
	expect_vcpu_refused(s, "exception vector");
	s = sample_vcpu(0);
	s->events.nmi.pending = 2;
	expect_vcpu_refused(s, "neither 0 nor 1");
}

static void test_vm_round_trip_and_bounds(void **state)
{
	struct platform_state v, d;
	struct snap_file *f = malloc(sizeof(*f));
	struct snap_writer w;

	(void)state;
	sample_vm(&v);
	ENCODE_ONE(&w, f, snap_vm_encode, &v);
	assert_int_equal(snap_vm_decode(&f->sections[0], &d), 0);
	assert_fields_equal(eq_snap_vm, &v, &d);
	snap_w_free(&w);
	v.pit.channels[2].count = 0x10001;
	ENCODE_ONE(&w, f, snap_vm_encode, &v);
	assert_int_equal(snap_vm_decode(&f->sections[0], &d), -EBADMSG);
	assert_true(last_error_has("PIT channel 2"));
	snap_w_free(&w);
	sample_vm(&v);
	v.pit.channels[0].mode = 6;
	ENCODE_ONE(&w, f, snap_vm_encode, &v);
	assert_int_equal(snap_vm_decode(&f->sections[0], &d), -EBADMSG);
	snap_w_free(&w);
	sample_vm(&v);
	v.pit.flags = 4;
	ENCODE_ONE(&w, f, snap_vm_encode, &v);
	assert_int_equal(snap_vm_decode(&f->sections[0], &d), -EBADMSG);
	assert_true(last_error_has("PIT flags"));
	snap_w_free(&w);
	free(f);
}

static void test_machine(void **state)
{
	struct snap_machine m, d, cur;
	struct snap_file *f = malloc(sizeof(*f));
	struct snap_writer w;

	(void)state;
	sample_machine(&m, 2);
	ENCODE_ONE(&w, f, snap_machine_encode, &m);
	assert_int_equal(snap_machine_decode(&f->sections[0], &d), 0);
	assert_fields_equal(eq_snap_machine, &m, &d);
	snap_w_free(&w);
	cur = m;
	assert_int_equal(snap_machine_check(&m, &cur), 0);
	cur.vcpu_count = 1;
	assert_int_equal(snap_machine_check(&m, &cur), -EINVAL);
	assert_true(last_error_has("2 vCPUs"));
	cur = m;
	cur.regions[1].gpa += 4096;
	assert_int_equal(snap_machine_check(&m, &cur), -EINVAL);
	assert_true(last_error_has("memory region 1"));
	/* Overlapping regions, a size that does not add up, too many regions. */
	m.regions[1].gpa = (2ull << 30) - 4096;
	ENCODE_ONE(&w, f, snap_machine_encode, &m);
	assert_int_equal(snap_machine_decode(&f->sections[0], &d), -EBADMSG);
	assert_true(last_error_has("overlaps"));
	snap_w_free(&w);
	sample_machine(&m, 2);
	m.mem_size += 4096;
	ENCODE_ONE(&w, f, snap_machine_encode, &m);
	assert_int_equal(snap_machine_decode(&f->sections[0], &d), -EBADMSG);
	assert_true(last_error_has("add up"));
	snap_w_free(&w);
	sample_machine(&m, 2);
	m.nregions = SNAP_MAX_REGIONS + 1;
	ENCODE_ONE(&w, f, snap_machine_encode, &m);
	assert_int_equal(snap_machine_decode(&f->sections[0], &d), -EBADMSG);
	snap_w_free(&w);
	free(f);
}

static void test_config(void **state)
{
	char dir[] = "/tmp/test_snap_state.XXXXXX", img[64], err[CONFIG_ERR_LEN];
	struct snap_config c, d, cur;
	struct snap_file *f = malloc(sizeof(*f));
	struct snap_writer w;
	struct vm_config cfg;
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 1000, 0 } };
	int fd;

	(void)state;
	sample_config(&c, 2);
	ENCODE_ONE(&w, f, snap_config_encode, &c);
	assert_int_equal(snap_config_decode(&f->sections[0], &d), 0);
	assert_fields_equal(eq_snap_config, &c, &d);
	snap_w_free(&w);
	cur = c;
	assert_int_equal(snap_config_check(&c, &cur), 0);
	cur.drives[1].mtime_ns++;
	assert_int_equal(snap_config_check(&c, &cur), -EINVAL);
	assert_true(last_error_has("drive code's file /srv/code.img differs: mtime"));
	cur = c;
	snprintf(cur.vsock_uds, sizeof(cur.vsock_uds), "/elsewhere");
	assert_int_equal(snap_config_check(&c, &cur), -EINVAL);
	assert_true(last_error_has("uds_path"));
	cur = c;
	cur.mem_size_mib = 128;
	assert_int_equal(snap_config_check(&c, &cur), -EINVAL);
	assert_true(last_error_has("mem_size_mib differs: 3072 in the snapshot, 128 here"));
	/* Strings: a NUL inside, or longer than the field. */
	c.drives[0].id[2] = '\0';
	ENCODE_ONE(&w, f, snap_config_encode, &c); /* encodes "ro" only: still valid */
	assert_int_equal(snap_config_decode(&f->sections[0], &d), 0);
	assert_string_equal(d.drives[0].id, "ro");
	snap_w_free(&w);
	sample_config(&c, 2);
	c.ndrives = CONFIG_MAX_DRIVES + 1;
	ENCODE_ONE(&w, f, snap_config_encode, &c);
	assert_int_equal(snap_config_decode(&f->sections[0], &d), -EBADMSG);
	snap_w_free(&w);

	/* From a real config: the drive file's identity is recorded. */
	assert_non_null(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	fd = open(img, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0 && write(fd, "abcd", 4) == 4);
	close(fd);
	config_init(&cfg);
	cfg.machine.vcpu_count = 2;
	assert_int_equal(config_add_drive(&cfg, img, err, sizeof(err)), 0);
	cfg.drives[0].is_read_only = true; /* held to its identity */
	assert_int_equal(snap_config_from(&cfg, &c), 0);
	assert_int_equal(c.ndrives, 1);
	assert_int_equal(c.drives[0].size, 4);
	assert_string_equal(c.drives[0].path, img);
	assert_int_equal(snap_config_from(&cfg, &cur), 0);
	assert_int_equal(snap_config_check(&c, &cur), 0);
	assert_int_equal(utimensat(AT_FDCWD, img, ts, 0), 0);
	assert_int_equal(snap_config_from(&cfg, &cur), 0);
	assert_int_equal(snap_config_check(&c, &cur), -EINVAL);
	assert_true(last_error_has("mtime"));
	/* Writable, the same change passes: only its size is held. */
	cfg.drives[0].is_read_only = false;
	c.drives[0].read_only = false;
	assert_int_equal(snap_config_from(&cfg, &cur), 0);
	assert_int_equal(snap_config_check(&c, &cur), 0);
	unlink(img);
	assert_int_equal(snap_config_from(&cfg, &cur), -ENOENT);
	rmdir(dir);
	free(f);
}

/* Expects snap_config_check(saved, cur) to refuse, naming the field and both values. */
#define EXPECT_MISMATCH(saved, cur, text)                                                          \
	do {                                                                                       \
		log_clear_last_error();                                                            \
		assert_int_equal(snap_config_check((saved), (cur)), -EINVAL);                      \
		assert_true(last_error_has(text));                                                 \
	} while (0)

/* Every difference a restore refuses, each alone (memory size, uds_path and
 * mtime are in test_config above). */
static void test_config_every_mismatch(void **state)
{
	struct snap_config c, cur;

	(void)state;
	sample_config(&c, 2);
	cur = c;
	assert_int_equal(snap_config_check(&c, &cur), 0);
	cur.vcpu_count = 1;
	EXPECT_MISMATCH(&c, &cur, "snapshot: vcpu_count differs: 2 in the snapshot, 1 here");
	cur = c;
	cur.ndrives = 1;
	EXPECT_MISMATCH(&c, &cur, "the number of drives differs: 2 in the snapshot, 1 here");
	cur = c;
	snprintf(cur.drives[1].id, sizeof(cur.drives[1].id), "data");
	EXPECT_MISMATCH(&c, &cur, "drive 1 differs: id 'code' in the snapshot, id 'data' here");
	cur = c;
	snprintf(cur.drives[1].path, sizeof(cur.drives[1].path), "/srv/other.img");
	EXPECT_MISMATCH(&c, &cur,
			"drive code differs: path /srv/code.img in the snapshot, path "
			"/srv/other.img here");
	cur = c;
	cur.drives[1].read_only = false;
	EXPECT_MISMATCH(&c, &cur,
			"drive code differs: read-only 1 in the snapshot, read-only 0 here");
	cur = c;
	cur.drives[0].is_root = false;
	EXPECT_MISMATCH(&c, &cur, "drive rootfs differs: root 1 in the snapshot, root 0 here");
	cur = c;
	cur.drives[1].size = 8192;
	EXPECT_MISMATCH(&c, &cur,
			"drive code's file /srv/code.img differs: size 4096 in the snapshot, size "
			"8192 here");
	cur = c;
	cur.drives[0].ino = 44;
	EXPECT_MISMATCH(&c, &cur,
			"drive rootfs's file /srv/runtime.img differs: inode 42 in the snapshot, "
			"inode 44 here");
	cur = c;
	cur.entropy = false;
	EXPECT_MISMATCH(&c, &cur,
			"the entropy device differs: enabled=1 in the snapshot, enabled=0 here");
	cur = c;
	cur.vsock = false;
	EXPECT_MISMATCH(&c, &cur, "vsock differs: enabled=1 in the snapshot, enabled=0 here");
	cur = c;
	cur.vsock_cid = 4;
	EXPECT_MISMATCH(&c, &cur, "vsock guest_cid differs: 3 in the snapshot, 4 here");
	/* A writable drive is each clone's own copy: another file, but its size. */
	c.drives[1].read_only = false;
	cur = c;
	cur.drives[1].ino = 99;
	cur.drives[1].mtime_ns = 7;
	assert_int_equal(snap_config_check(&c, &cur), 0);
	cur.drives[1].size = 8192;
	EXPECT_MISMATCH(&c, &cur,
			"drive code's file /srv/code.img differs: size 4096 in the snapshot, size "
			"8192 here");
	c.drives[1].read_only = true;
	/* The first difference is the one named. */
	cur = c;
	cur.drives[1].ino = 99;
	cur.vsock_cid = 4;
	EXPECT_MISMATCH(&c, &cur, "inode 43 in the snapshot, inode 99 here");
	/* Without vsock, its CID and socket are not compared (they are not used). */
	c.vsock = false;
	cur = c;
	cur.vsock_cid = 9;
	snprintf(cur.vsock_uds, sizeof(cur.vsock_uds), "/elsewhere");
	assert_int_equal(snap_config_check(&c, &cur), 0);
	/* Without drives there is nothing to compare in them. */
	sample_config(&c, 1);
	c.ndrives = 0;
	cur = c;
	cur.drives[0].ino = 1;
	assert_int_equal(snap_config_check(&c, &cur), 0);
}

/* A whole state file: CONF, MACH, VMST, n x VCPU, then extra sections. */
static void build_file(struct snap_writer *w, unsigned n, bool swap_vcpus, uint32_t extra_tag)
{
	struct snap_state s;

	memset(&s, 0, sizeof(s));
	sample_config(&s.config, n);
	sample_machine(&s.machine, n);
	sample_vm(&s.vm);
	s.nvcpus = n;
	s.vcpus = calloc(n, sizeof(s.vcpus[0]));
	for (unsigned i = 0; i < n; i++) {
		struct cpu_state *v = sample_vcpu(swap_vcpus ? n - 1 - i : i);

		s.vcpus[i] = *v;
		free(v);
	}
	assert_int_equal(snap_w_init(w), 0);
	snap_state_encode(w, &s);
	if (extra_tag != 0) {
		snap_w_section_begin(w, extra_tag, 1);
		snap_w_u32(w, 0);
		snap_w_section_end(w);
	}
	assert_int_equal(snap_w_finish(w), 0);
	snap_state_free(&s);
}

static int decode_file(const struct snap_writer *w, struct snap_state *out)
{
	struct snap_file *f = malloc(sizeof(*f));
	int ret = snap_file_parse(w->buf, w->len, f);

	if (ret == 0)
		ret = snap_state_decode(f, out);
	free(f);
	return ret;
}

static void test_state_file(void **state)
{
	const char *seed = getenv("SNAP_WRITE_SEED");
	struct cpu_state *v1 = sample_vcpu(1);
	struct snap_writer w;
	struct snap_state s;

	(void)state;
	build_file(&w, 2, false, SNAP_TAG_DEV_BLK); /* a device section is allowed */
	assert_int_equal(decode_file(&w, &s), 0);
	assert_int_equal(s.nvcpus, 2);
	assert_fields_equal(eq_snap_vcpu, &s.vcpus[1], v1);
	assert_int_equal(s.vm.clock, 987654321);
	assert_string_equal(s.config.drives[0].id, "rootfs");
	snap_state_free(&s);
	if (seed != NULL)
		assert_int_equal(snap_w_to_file(&w, seed), 0);
	snap_w_free(&w);
	free(v1);

	build_file(&w, 2, true, 0); /* vCPU sections out of order */
	assert_int_equal(decode_file(&w, &s), -EBADMSG);
	assert_true(last_error_has("vCPU section 0 holds vCPU 1"));
	snap_w_free(&w);
	build_file(&w, 1, false, SNAP_TAG('Z', 'Z', 'Z', 'Z'));
	assert_int_equal(decode_file(&w, &s), -EBADMSG);
	assert_true(last_error_has("unknown section 'ZZZZ'"));
	snap_w_free(&w);
	build_file(&w, 1, false, SNAP_TAG_VCPU); /* a second VCPU for a 1-vCPU machine */
	assert_int_equal(decode_file(&w, &s), -EBADMSG);
	assert_true(last_error_has("2 vCPU sections for 1 vCPUs"));
	snap_w_free(&w);
	build_file(&w, 1, false, SNAP_TAG_VM);
	assert_int_equal(decode_file(&w, &s), -EBADMSG);
	assert_true(last_error_has("expected exactly one"));
	snap_w_free(&w);
}

/* The format's golden files: a file written by every released format version
 * must keep decoding to the same state (STYLE.md, Snapshots). v1.0 is the
 * whole-file round trip's file above, committed. */
static void test_golden_v1_0(void **state)
{
	char path[PATH_MAX];
	struct snap_state s;
	struct cpu_state *v0 = sample_vcpu(0);
	struct snap_config c;

	(void)state;
	/* EMBER_SRC_DIR: the checkout's absolute path, set by tests/unit/rules.mk,
	 * so the test finds its data from any working directory. */
	snprintf(path, sizeof(path), "%s/tests/unit/data/snap_state_v1.0.bin", EMBER_SRC_DIR);
	assert_int_equal(snap_state_read(path, &s), 0);
	assert_int_equal(s.nvcpus, 2);
	assert_fields_equal(eq_snap_vcpu, &s.vcpus[0], v0);
	sample_config(&c, 2);
	assert_fields_equal(eq_snap_config, &s.config, &c);
	assert_int_equal(s.machine.regions[1].gpa, 4ull << 30);
	assert_int_equal(s.vm.pit.channels[0].count, 0x10000);
	snap_state_free(&s);
	free(v0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vcpu_round_trip),
		cmocka_unit_test(test_vcpu_every_truncation_and_trailing_byte),
		cmocka_unit_test(test_vcpu_bounds),
		cmocka_unit_test(test_vm_round_trip_and_bounds),
		cmocka_unit_test(test_machine),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_config_every_mismatch),
		cmocka_unit_test(test_state_file),
		cmocka_unit_test(test_golden_v1_0),
	};

	/* Errors are asserted through log_last_error(); keep them off the terminal. */
	log_init("test_snap_state", LOG_ERR);
	log_set_output(open("/dev/null", O_WRONLY | O_CLOEXEC), false, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
