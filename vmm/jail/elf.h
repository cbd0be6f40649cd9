/* elf: the run-time needs of a dynamically linked ELF file, for ember-jailer.
 *
 * Contract: elf_deps() reads a 64-bit ELF image held in buf (size bytes,
 * untrusted: every offset is checked against size) and returns its program
 * interpreter (PT_INTERP, "" if none) and the names of its DT_NEEDED
 * libraries, in order. A static file needs nothing. -ENOEXEC for anything
 * that is not a well-formed 64-bit ELF file, -E2BIG past ELF_MAX_NEEDED
 * libraries, -ENAMETOOLONG for an overlong name. has_runpath says the file
 * names its own library directories, which the jailer does not follow. Pure. */
#ifndef EMBER_ELF_H
#define EMBER_ELF_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ELF_MAX_NEEDED 16
#define ELF_MAX_PHDRS  64

struct elf_deps {
	char interp[PATH_MAX];
	char needed[ELF_MAX_NEEDED][NAME_MAX + 1];
	unsigned nneeded;
	bool has_runpath;
};

int elf_deps(const uint8_t *buf, size_t size, struct elf_deps *d);

#endif
