/* bzimage: parse a Linux x86 bzImage (boot protocol >= 2.06) into a kernel_image.
 *
 * Contract: bzimage_is_bzimage() says whether buf carries the setup header
 * magic ("HdrS" at 0x202 and 0xAA55 at 0x1fe). bzimage_parse() checks the
 * header against the file length (truncation, setup size, syssize), the
 * protocol version and load flags, and fills img: one segment (the protected-
 * mode kernel at LAYOUT_HIMEM_GPA), the 64-bit entry when xloadflags offers
 * it, else the 32-bit one, the setup header to copy into boot_params, the
 * command-line limit, initrd_addr_max and the memory the kernel needs to
 * decompress (init_size). Errors: -ENOEXEC with a reason. Pure. */
#ifndef EMBER_BZIMAGE_H
#define EMBER_BZIMAGE_H

#include "vmm/arch/x86_64/loader.h"

#define BZIMAGE_MIN_PROTOCOL 0x0206

bool bzimage_is_bzimage(const uint8_t *buf, size_t len);
int bzimage_parse(const uint8_t *buf, size_t len, struct kernel_image *img, char *err,
		  size_t errlen);

#endif
