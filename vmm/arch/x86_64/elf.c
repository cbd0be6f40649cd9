/* elf: validate an x86_64 ELF vmlinux and describe its segments and entry (see elf.h). */
#include "vmm/arch/x86_64/elf.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/arch/x86_64/layout.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define ELF_MAX_PHDRS		 64
#define NOTE_ALIGN		 4

/* Linux's boot protocol ceiling when the kernel has no header to tell us. */
#define ELF_INITRD_ADDR_MAX ((gpa_t)0x7fffffff)

static int fail(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return -ENOEXEC;
}

bool elf_is_elf(const uint8_t *buf, size_t len)
{
	return len >= SELFMAG && memcmp(buf, ELFMAG, SELFMAG) == 0;
}

/* True if [off, off+size) lies inside a buffer of len bytes. */
static bool in_file(uint64_t off, uint64_t size, size_t len)
{
	return off <= len && size <= len - off;
}

static uint64_t align_up4(uint64_t v)
{
	return (v + NOTE_ALIGN - 1) & ~(uint64_t)(NOTE_ALIGN - 1);
}

/* Looks for the Xen PHYS32_ENTRY note in one PT_NOTE segment. The walk is
 * bounded by the segment size: every note advances by at least 12 bytes. */
static int find_pvh_note(const uint8_t *buf, uint64_t off, uint64_t size, gpa_t *entry)
{
	uint64_t pos = 0;

	while (size - pos >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		uint64_t name_off, desc_off, next;

		memcpy(&nh, buf + off + pos, sizeof(nh));
		name_off = pos + sizeof(nh);
		desc_off = name_off + align_up4(nh.n_namesz);
		next = desc_off + align_up4(nh.n_descsz);
		if (desc_off > size || next > size)
			return -ENOEXEC; /* a note runs past its segment */
		if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    memcmp(buf + off + name_off, "Xen", 4) == 0) {
			if (nh.n_descsz == 4) {
				uint32_t v;

				memcpy(&v, buf + off + desc_off, 4);
				*entry = v;
			} else if (nh.n_descsz == 8) {
				uint64_t v;

				memcpy(&v, buf + off + desc_off, 8);
				if (v > UINT32_MAX)
					return -ENOEXEC;
				*entry = v;
			} else {
				return -ENOEXEC;
			}
			return 1;
		}
		pos = next;
	}
	return 0;
}

static int add_load(const Elf64_Phdr *ph, size_t len, struct kernel_image *img, char *err,
		    size_t errlen)
{
	struct kernel_segment *s;

	if (ph->p_memsz == 0)
		return 0;
	if (!in_file(ph->p_offset, ph->p_filesz, len))
		return fail(err, errlen, "ELF segment lies outside the file (truncated?)");
	if (ph->p_filesz > ph->p_memsz)
		return fail(err, errlen, "ELF segment has p_filesz > p_memsz");
	if (ph->p_paddr < LAYOUT_HIMEM_GPA)
		return fail(err, errlen, "ELF segment loads below 1 MiB");
	if (ph->p_paddr > UINT64_MAX - ph->p_memsz)
		return fail(err, errlen, "ELF segment address overflows");
	if (img->nseg == LOADER_MAX_SEGMENTS)
		return fail(err, errlen, "ELF file has too many PT_LOAD segments");
	s = &img->seg[img->nseg++];
	s->file_off = ph->p_offset;
	s->filesz = ph->p_filesz;
	s->gpa = ph->p_paddr;
	s->memsz = ph->p_memsz;
	if (s->gpa + s->memsz > img->kernel_end)
		img->kernel_end = s->gpa + s->memsz;
	return 0;
}

int elf_parse(const uint8_t *buf, size_t len, struct kernel_image *img, char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	gpa_t pvh_entry = 0;
	bool has_pvh = false;
	int ret;

	memset(img, 0, sizeof(*img));
	img->format = "ELF";
	if (len < sizeof(eh))
		return fail(err, errlen, "truncated ELF header");
	memcpy(&eh, buf, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
		return fail(err, errlen, "not an ELF file");
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return fail(err, errlen, "not a 64-bit little-endian ELF file");
	if (eh.e_machine != EM_X86_64)
		return fail(err, errlen, "ELF file is not for x86_64");
	if (eh.e_type != ET_EXEC)
		return fail(err, errlen, "ELF file is not an executable (ET_EXEC)");
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > ELF_MAX_PHDRS)
		return fail(err, errlen, "ELF program header table is malformed");
	if (!in_file(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), len))
		return fail(err, errlen, "ELF program headers lie outside the file (truncated?)");

	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, buf + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD) {
			ret = add_load(&ph, len, img, err, errlen);
			if (ret < 0)
				return ret;
		} else if (ph.p_type == PT_NOTE && !has_pvh) {
			if (!in_file(ph.p_offset, ph.p_filesz, len))
				return fail(err, errlen, "ELF note segment lies outside the file");
			ret = find_pvh_note(buf, ph.p_offset, ph.p_filesz, &pvh_entry);
			if (ret < 0)
				return fail(err, errlen, "ELF note segment is malformed");
			has_pvh = ret == 1;
		}
	}
	if (img->nseg == 0)
		return fail(err, errlen, "ELF file has no PT_LOAD segment");

	img->entry_mode = has_pvh ? BOOT_ENTRY_PVH : BOOT_ENTRY_LINUX64;
	img->entry = has_pvh ? pvh_entry : eh.e_entry;
	/* The entry must be code we load, or the vCPU starts in zeroes. */
	ret = -ENOEXEC;
	for (unsigned i = 0; i < img->nseg; i++) {
		const struct kernel_segment *s = &img->seg[i];

		if (img->entry >= s->gpa && img->entry - s->gpa < s->filesz)
			ret = 0;
	}
	if (ret < 0)
		return fail(err, errlen,
			    has_pvh ? "ELF PVH entry is outside the loaded segments"
				    : "ELF entry point is outside the loaded segments");
	img->cmdline_max = LAYOUT_CMDLINE_MAX;
	img->initrd_addr_max = ELF_INITRD_ADDR_MAX;
	return 0;
}
