/* Unit tests for the kernel loaders: bzImage header parser, ELF/PVH parser, placement, initrd. */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/arch/x86_64/bzimage.h"
#include "vmm/arch/x86_64/elf.h"
#include "vmm/arch/x86_64/layout.h"
#include "vmm/arch/x86_64/loader.h"

#define MIB	     (1ull << 20)
#define SETUP_SECTS  4
#define SETUP_SIZE   ((SETUP_SECTS + 1) * 512)
#define PAYLOAD_SIZE 8192

static struct kernel_image img;
static char err[LOADER_ERR_LEN];

/* A minimal bzImage: setup sectors with a valid header, then a payload. */
static uint8_t *make_bzimage(size_t *len, uint16_t version, uint16_t xloadflags)
{
	size_t n = SETUP_SIZE + PAYLOAD_SIZE;
	uint8_t *b = calloc(1, n);
	struct setup_header h = { 0 };

	h.setup_sects = SETUP_SECTS;
	h.syssize = PAYLOAD_SIZE / 16;
	h.boot_flag = 0xaa55;
	h.jump = 0x66eb; /* jmp to 0x268 */
	h.header = 0x53726448;
	h.version = version;
	h.loadflags = LOADED_HIGH;
	h.initrd_addr_max = 0x7fffffff;
	h.cmdline_size = 2047;
	h.xloadflags = xloadflags;
	h.init_size = 4 * MIB;
	h.pref_address = 16 * MIB;
	memcpy(b + 0x1f1, &h, sizeof(h));
	for (size_t i = 0; i < PAYLOAD_SIZE; i++)
		b[SETUP_SIZE + i] = (uint8_t)(i * 7);
	*len = n;
	return b;
}

static void test_bzimage_valid(void **state)
{
	size_t len;
	uint8_t *b = make_bzimage(&len, 0x020f, XLF_KERNEL_64);

	(void)state;
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), 0);
	assert_string_equal(img.format, "bzImage");
	assert_int_equal(img.entry_mode, BOOT_ENTRY_LINUX64);
	assert_int_equal(img.entry, LAYOUT_HIMEM_GPA + 0x200);
	assert_int_equal(img.nseg, 1);
	assert_int_equal(img.seg[0].file_off, SETUP_SIZE);
	assert_int_equal(img.seg[0].filesz, PAYLOAD_SIZE);
	assert_int_equal(img.seg[0].gpa, LAYOUT_HIMEM_GPA);
	assert_int_equal(img.kernel_end, 20 * MIB); /* pref_address + init_size */
	assert_int_equal(img.cmdline_max, 2048);
	assert_int_equal(img.initrd_addr_max, 0x7fffffff);
	assert_true(img.has_setup_header);
	assert_int_equal(img.hdr.version, 0x020f);
	free(b);
}

static void test_bzimage_old_protocols(void **state)
{
	size_t len;
	uint8_t *b = make_bzimage(&len, 0x0206, 0);

	(void)state;
	/* 2.06 has no 64-bit entry: the 32-bit protocol, no init_size. */
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), 0);
	assert_int_equal(img.entry_mode, BOOT_ENTRY_LINUX32);
	assert_int_equal(img.entry, LAYOUT_HIMEM_GPA);
	assert_int_equal(img.kernel_end, LAYOUT_HIMEM_GPA + PAYLOAD_SIZE);
	free(b);

	b = make_bzimage(&len, 0x0205, 0);
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "2.06"));
	free(b);
}

static void test_bzimage_truncated(void **state)
{
	size_t len;
	uint8_t *b = make_bzimage(&len, 0x020f, XLF_KERNEL_64);

	(void)state;
	/* Cut anywhere: inside the payload, at the setup end, inside the header. */
	const size_t cuts[] = {
		len - 1, len - 16, SETUP_SIZE + 1, SETUP_SIZE, 0x210, 0x203, 10, 0
	};

	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		int ret = loader_parse(b, cuts[i], &img, err, sizeof(err));

		assert_int_equal(ret, -ENOEXEC);
	}
	assert_int_equal(loader_parse(b, len - 1, &img, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "truncated"));
	free(b);
}

static void test_bzimage_corrupt(void **state)
{
	size_t len;
	uint8_t *b = make_bzimage(&len, 0x020f, XLF_KERNEL_64);
	uint32_t big = 0xffffffffu;

	(void)state;
	b[0x1fe] = 0; /* boot flag */
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "not a kernel"));
	b[0x1fe] = 0x55;
	b[0x211] = 0; /* loadflags: not LOADED_HIGH */
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), -ENOEXEC);
	b[0x211] = LOADED_HIGH;
	memcpy(b + 0x1f4, &big, 4); /* syssize */
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), -ENOEXEC);
	memset(b + 0x1f4, 0, 4);
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), -ENOEXEC);
	b[0x1f4] = PAYLOAD_SIZE / 16 & 0xff;
	b[0x1f5] = PAYLOAD_SIZE / 16 >> 8;
	b[0x1f1] = 0xff; /* setup_sects past the end of the file */
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), -ENOEXEC);
	free(b);
}

/* A minimal vmlinux: one PT_LOAD at 16 MiB and optionally the PVH note. */
static uint8_t *make_elf(size_t *len, bool pvh, size_t desc_size)
{
	const size_t code_off = 0x1000, code_size = 0x3000;
	size_t n = code_off + code_size;
	uint8_t *b = calloc(1, n);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)b;
	Elf64_Phdr *ph = (Elf64_Phdr *)(b + sizeof(*eh));
	Elf64_Nhdr nh = { .n_namesz = 4, .n_descsz = (Elf64_Word)desc_size, .n_type = 18 };
	uint64_t entry = 16 * MIB + 0x40;
	size_t note_off = 0x200;

	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_entry = 16 * MIB;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = pvh ? 2 : 1;
	ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD,
			      .p_offset = code_off,
			      .p_paddr = 16 * MIB,
			      .p_vaddr = 0xffffffff81000000ull,
			      .p_filesz = code_size,
			      .p_memsz = code_size + 0x10000 };
	if (pvh) {
		ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE,
				      .p_offset = note_off,
				      .p_filesz = sizeof(nh) + 4 + ((desc_size + 3) & ~3ul) };
		memcpy(b + note_off, &nh, sizeof(nh));
		memcpy(b + note_off + sizeof(nh), "Xen", 4);
		memcpy(b + note_off + sizeof(nh) + 4, &entry, desc_size < 8 ? desc_size : 8);
	}
	for (size_t i = 0; i < code_size; i++)
		b[code_off + i] = (uint8_t)(i ^ 0x5a);
	*len = n;
	return b;
}

static void test_elf_linux64(void **state)
{
	size_t len;
	uint8_t *b = make_elf(&len, false, 0);

	(void)state;
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), 0);
	assert_string_equal(img.format, "ELF");
	assert_int_equal(img.entry_mode, BOOT_ENTRY_LINUX64);
	assert_int_equal(img.entry, 16 * MIB);
	assert_int_equal(img.nseg, 1);
	assert_int_equal(img.kernel_end, 16 * MIB + 0x13000);
	assert_false(img.has_setup_header);
	free(b);
}

static void test_elf_pvh(void **state)
{
	size_t len;
	uint8_t *b = make_elf(&len, true, 8);

	(void)state;
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), 0);
	assert_int_equal(img.entry_mode, BOOT_ENTRY_PVH);
	assert_int_equal(img.entry, 16 * MIB + 0x40);
	free(b);
	b = make_elf(&len, true, 4);
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), 0);
	assert_int_equal(img.entry_mode, BOOT_ENTRY_PVH);
	free(b);
	b = make_elf(&len, true, 2); /* odd descriptor size */
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), -ENOEXEC);
	free(b);
}

static void test_elf_corrupt(void **state)
{
	size_t len;
	uint8_t *b = make_elf(&len, true, 8);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)b;
	Elf64_Phdr *ph = (Elf64_Phdr *)(b + sizeof(*eh));
	Elf64_Nhdr *nh = (Elf64_Nhdr *)(b + 0x200);

	(void)state;
	assert_int_equal(loader_parse(b, len - 1, &img, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "outside the file"));
	eh->e_machine = EM_386;
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "x86_64"));
	eh->e_machine = EM_X86_64;
	eh->e_phnum = 1000;
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), -ENOEXEC);
	eh->e_phnum = 2;
	ph[0].p_filesz = ph[0].p_memsz + 1;
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), -ENOEXEC);
	ph[0].p_filesz = 0x3000;
	ph[0].p_paddr = UINT64_MAX - 0x100;
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), -ENOEXEC);
	ph[0].p_paddr = 0x1000; /* over the boot structures */
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), -ENOEXEC);
	ph[0].p_paddr = 16 * MIB;
	nh->n_descsz = 0xfffffff0u; /* note past its segment */
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), -ENOEXEC);
	nh->n_descsz = 8;
	eh->e_phnum = 1; /* no note: entry e_entry, which is fine */
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), 0);
	eh->e_entry = 0x200000; /* entry outside the segments */
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), -ENOEXEC);
	assert_int_equal(loader_parse(b, 3, &img, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "not a kernel"));
	free(b);
}

static void test_place_and_initrd(void **state)
{
	size_t len;
	uint8_t *b = make_elf(&len, false, 0), rd[5000];
	struct gmem *gm;
	gpa_t gpa;

	(void)state;
	for (size_t i = 0; i < sizeof(rd); i++)
		rd[i] = (uint8_t)(i * 3);
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), 0);
	assert_int_equal(gmem_create(32 * MIB, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END, &gm), 0);
	assert_int_equal(loader_place(gm, &img, b, len, NULL, err, sizeof(err)), 0);
	assert_memory_equal(gmem_slice(gm, 16 * MIB, 0x3000), b + 0x1000, 0x3000);
	assert_int_equal(
		loader_place_initrd(gm, &img, rd, sizeof(rd), NULL, &gpa, err, sizeof(err)), 0);
	assert_int_equal(gpa % 4096, 0);
	assert_true(gpa + sizeof(rd) <= 32 * MIB);
	assert_true(gpa >= img.kernel_end);
	assert_memory_equal(gmem_slice(gm, gpa, sizeof(rd)), rd, sizeof(rd));
	/* An initrd that cannot fit above the kernel. */
	assert_int_equal(loader_place_initrd(gm, &img, b, 16 * MIB, NULL, &gpa, err, sizeof(err)),
			 -ENOSPC);
	assert_int_equal(loader_place_initrd(gm, &img, rd, 0, NULL, &gpa, err, sizeof(err)),
			 -EINVAL);
	gmem_destroy(gm);

	/* Too little memory for the kernel. */
	assert_int_equal(gmem_create(16 * MIB, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END, &gm), 0);
	assert_int_equal(loader_place(gm, &img, b, len, NULL, err, sizeof(err)), -ENOSPC);
	assert_non_null(strstr(err, "MiB"));
	gmem_destroy(gm);
	free(b);
}

/* With a file descriptor the loader reads the file into guest memory; a file
 * that shrank after it was checked is an error, not a short kernel. */
static void test_place_from_file(void **state)
{
	char path[] = "/tmp/ember-test-loader-XXXXXX";
	size_t len;
	uint8_t *b = make_elf(&len, false, 0);
	struct gmem *gm;
	struct filecopy fc;
	struct loader_source now, queued = { .fc = &fc };
	const char *what = NULL;
	gpa_t gpa;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	now = (struct loader_source){ .fd = fd };
	queued.fd = fd;
	assert_int_equal(write(fd, b, len), (ssize_t)len);
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), 0);
	assert_int_equal(gmem_create(32 * MIB, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END, &gm), 0);
	assert_int_equal(loader_place(gm, &img, b, len, &now, err, sizeof(err)), 0);
	assert_memory_equal(gmem_slice(gm, 16 * MIB, 0x3000), b + 0x1000, 0x3000);
	assert_int_equal(loader_place_initrd(gm, &img, b, len, &now, &gpa, err, sizeof(err)), 0);
	assert_memory_equal(gmem_slice(gm, gpa, len), b, len);

	/* Queued: nothing is in place before filecopy_finish(). */
	memset(gmem_slice(gm, gpa, len), 0, len);
	filecopy_init(&fc);
	assert_int_equal(loader_place_initrd(gm, &img, b, len, &queued, &gpa, err, sizeof(err)), 0);
	assert_int_equal(*(uint8_t *)gmem_slice(gm, gpa, 1), 0);
	filecopy_start(&fc, 2);
	assert_int_equal(filecopy_finish(&fc, &what), 0);
	assert_memory_equal(gmem_slice(gm, gpa, len), b, len);

	/* A file that shrank after it was checked, read now or queued. */
	assert_int_equal(ftruncate(fd, 0x2000), 0);
	assert_int_equal(loader_place(gm, &img, b, len, &now, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "shorter"));
	filecopy_init(&fc);
	assert_int_equal(loader_place(gm, &img, b, len, &queued, err, sizeof(err)), 0);
	filecopy_start(&fc, 1);
	assert_int_equal(filecopy_finish(&fc, &what), -EIO);
	assert_string_equal(what, LOADER_KERNEL);
	gmem_destroy(gm);
	close(fd);
	free(b);
}

static void test_initrd_addr_max(void **state)
{
	size_t len;
	uint8_t *b = make_bzimage(&len, 0x020f, XLF_KERNEL_64), rd[100] = { 0 };
	struct gmem *gm;
	gpa_t gpa;

	(void)state;
	b[0x22c] = 0xff; /* initrd_addr_max = 0x01ffffff (32 MiB - 1) */
	b[0x22d] = 0xff;
	b[0x22e] = 0xff;
	b[0x22f] = 0x01;
	assert_int_equal(loader_parse(b, len, &img, err, sizeof(err)), 0);
	assert_int_equal(gmem_create(64 * MIB, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END, &gm), 0);
	assert_int_equal(loader_place(gm, &img, b, len, NULL, err, sizeof(err)), 0);
	assert_memory_equal(gmem_slice(gm, LAYOUT_HIMEM_GPA, PAYLOAD_SIZE), b + SETUP_SIZE,
			    PAYLOAD_SIZE);
	assert_int_equal(
		loader_place_initrd(gm, &img, rd, sizeof(rd), NULL, &gpa, err, sizeof(err)), 0);
	assert_int_equal(gpa, 32 * MIB - 4096);
	gmem_destroy(gm);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bzimage_valid),
		cmocka_unit_test(test_bzimage_old_protocols),
		cmocka_unit_test(test_bzimage_truncated),
		cmocka_unit_test(test_bzimage_corrupt),
		cmocka_unit_test(test_elf_linux64),
		cmocka_unit_test(test_elf_pvh),
		cmocka_unit_test(test_elf_corrupt),
		cmocka_unit_test(test_place_and_initrd),
		cmocka_unit_test(test_place_from_file),
		cmocka_unit_test(test_initrd_addr_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
