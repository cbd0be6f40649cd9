/* elf: what a dynamically linked exec file needs at run time (interpreter, DT_NEEDED); pure, bounded (see elf.h). */
#include "vmm/jail/elf.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

/* A range [off, off + len) of buf, or NULL. */
static const void *at(const uint8_t *buf, size_t size, uint64_t off, uint64_t len)
{
	if (off > size || len > size - off)
		return NULL;
	return buf + off;
}

/* The file offset of virtual address va, through the PT_LOAD that maps it. */
static int va_to_off(const uint8_t *buf, size_t size, const Elf64_Ehdr *eh, uint64_t va,
		     uint64_t *off)
{
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph =
			at(buf, size, eh->e_phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));

		if (ph != NULL && ph->p_type == PT_LOAD && va >= ph->p_vaddr &&
		    va - ph->p_vaddr < ph->p_filesz) {
			*off = ph->p_offset + (va - ph->p_vaddr);
			return 0;
		}
	}
	return -ENOEXEC;
}

static int copy_str(const uint8_t *buf, size_t size, uint64_t off, char *out, size_t outlen)
{
	const char *s = at(buf, size, off, 1);
	size_t n;

	if (s == NULL)
		return -ENOEXEC;
	n = strnlen(s, size - off);
	if (n == size - off || n == 0)
		return -ENOEXEC; /* unterminated or empty */
	if (n >= outlen)
		return -ENAMETOOLONG;
	memcpy(out, s, n + 1);
	return 0;
}

int elf_deps(const uint8_t *buf, size_t size, struct elf_deps *d)
{
	const Elf64_Ehdr *eh = at(buf, size, 0, sizeof(*eh));
	const Elf64_Phdr *dyn = NULL;
	uint64_t strtab = 0, stroff, needed[ELF_MAX_NEEDED];
	unsigned nneeded = 0;
	int ret;

	memset(d, 0, sizeof(*d));
	if (eh == NULL || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    eh->e_phnum > ELF_MAX_PHDRS)
		return -ENOEXEC;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph =
			at(buf, size, eh->e_phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));

		if (ph == NULL)
			return -ENOEXEC;
		if (ph->p_type == PT_INTERP) {
			ret = copy_str(buf, size, ph->p_offset, d->interp, sizeof(d->interp));
			if (ret < 0)
				return ret;
		} else if (ph->p_type == PT_DYNAMIC) {
			dyn = ph;
		}
	}
	if (dyn == NULL)
		return 0; /* static: needs nothing */
	for (uint64_t i = 0; i < dyn->p_filesz / sizeof(Elf64_Dyn); i++) {
		const Elf64_Dyn *e = at(buf, size, dyn->p_offset + i * sizeof(*e), sizeof(*e));

		if (e == NULL)
			return -ENOEXEC;
		if (e->d_tag == DT_NULL)
			break;
		if (e->d_tag == DT_STRTAB)
			strtab = e->d_un.d_ptr;
		else if (e->d_tag == DT_NEEDED && nneeded == ELF_MAX_NEEDED)
			return -E2BIG;
		else if (e->d_tag == DT_NEEDED)
			needed[nneeded++] = e->d_un.d_val;
		else if (e->d_tag == DT_RPATH || e->d_tag == DT_RUNPATH)
			d->has_runpath = true;
	}
	if (nneeded > 0 && va_to_off(buf, size, eh, strtab, &stroff) < 0)
		return -ENOEXEC;
	for (unsigned i = 0; i < nneeded; i++) {
		if (stroff + needed[i] < stroff)
			return -ENOEXEC;
		ret = copy_str(buf, size, stroff + needed[i], d->needed[i], sizeof(d->needed[i]));
		if (ret < 0)
			return ret;
		if (strchr(d->needed[i], '/') != NULL)
			return -ENOEXEC; /* a path, not a name the loader searches for */
	}
	d->nneeded = nneeded;
	return 0;
}
