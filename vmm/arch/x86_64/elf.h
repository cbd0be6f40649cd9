/* elf: parse an x86_64 ELF vmlinux (PT_LOAD segments, PVH note) into a kernel_image.
 *
 * Contract: elf_is_elf() says whether buf starts with the ELF magic.
 * elf_parse() checks the ELF header, program headers and notes against
 * [buf, buf+len) with overflow-safe arithmetic, and fills img: PT_LOADs at their
 * physical addresses (at or above LAYOUT_HIMEM_GPA), entry through the PVH
 * note if present, else e_entry with the 64-bit protocol. Errors: -ENOEXEC
 * with a reason in err. Pure: no I/O, no logging, any thread. */
#ifndef EMBER_ELF_H
#define EMBER_ELF_H

#include "vmm/arch/x86_64/loader.h"

bool elf_is_elf(const uint8_t *buf, size_t len);
int elf_parse(const uint8_t *buf, size_t len, struct kernel_image *img, char *err, size_t errlen);

#endif
