/* gmem_priv: struct gmem itself, for vmm/core only (gmem.c, vm.c, gmem_uffd.c) and gmem's own unit tests.
 *
 * Everything else uses gmem.h's functions: host addresses of guest memory
 * are read only inside vmm/core. */
#ifndef EMBER_GMEM_PRIV_H
#define EMBER_GMEM_PRIV_H

#include "vmm/core/gmem.h"

struct gmem_region {
	gpa_t gpa;
	uint64_t size;
	uint8_t *host;
};

struct gmem {
	struct gmem_region regions[GMEM_MAX_REGIONS];
	unsigned nregions;
	uint64_t total;
	uint64_t *dirty[GMEM_MAX_REGIONS]; /* one bit per page; NULL unless tracking */
};

#endif
