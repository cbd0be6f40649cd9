/* fuzz_kernel_loader: libFuzzer harness for the kernel loaders (ELF/PVH, bzImage) and boot params.
 *
 * The input is an untrusted kernel file. It goes through the same path as
 * ember-vmm's: loader_parse(), loader_place() into guest memory, an initrd,
 * the command line, and the zero page or PVH start_info. Nothing may read or
 * write outside the input or guest memory, whatever the file says. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vmm/arch/x86_64/bootparams.h"
#include "vmm/arch/x86_64/layout.h"
#include "vmm/arch/x86_64/loader.h"
#include "lib/util/log.h"

#define FUZZ_MEM (64ull << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gmem *gm;
	static const uint8_t initrd[4096] = { 0x30, 0x37 };
	struct kernel_image img;
	struct boot_info bi = { 0 };
	char err[LOADER_ERR_LEN];

	if (gm == NULL) {
		log_set_level(LOG_NONE);
		if (gmem_create(FUZZ_MEM, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END, &gm) < 0)
			return 0;
	}
	if (loader_parse(data, size, &img, err, sizeof(err)) < 0)
		return 0;
	if (loader_place(gm, &img, data, size, NULL, err, sizeof(err)) < 0)
		return 0;
	if (loader_place_initrd(gm, &img, initrd, sizeof(initrd), NULL, &bi.initrd_gpa, err,
				sizeof(err)) == 0)
		bi.initrd_size = sizeof(initrd);
	if (bootparams_write_cmdline(gm, &img, "console=ttyS0", &bi, err, sizeof(err)) < 0)
		return 0;
	if (img.entry_mode == BOOT_ENTRY_PVH)
		bootparams_write_pvh(gm, &bi);
	else
		bootparams_write_linux(gm, &img, &bi);
	return 0;
}
