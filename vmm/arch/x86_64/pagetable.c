/* pagetable: the boot identity map for the 64-bit entry (see pagetable.h). */
#include "vmm/arch/x86_64/pagetable.h"

#include <errno.h>
#include <string.h>

#include "vmm/arch/x86_64/layout.h"

_Static_assert(LAYOUT_IDENTITY_MAP_SIZE == PAGETABLE_ENTRIES * PAGETABLE_2M,
	       "one page directory of 2 MiB pages maps the identity range");

int pagetable_write(struct gmem *gm, uint64_t *cr3)
{
	uint64_t *pml4 = gmem_slice(gm, LAYOUT_PML4_GPA, GMEM_PAGE_SIZE);
	uint64_t *pdpt = gmem_slice(gm, LAYOUT_PDPT_GPA, GMEM_PAGE_SIZE);
	uint64_t *pd = gmem_slice(gm, LAYOUT_PD_GPA, GMEM_PAGE_SIZE);

	if (pml4 == NULL || pdpt == NULL || pd == NULL)
		return -EFAULT;
	memset(pml4, 0, GMEM_PAGE_SIZE);
	memset(pdpt, 0, GMEM_PAGE_SIZE);
	pml4[0] = LAYOUT_PDPT_GPA | PTE_PRESENT | PTE_WRITE;
	pdpt[0] = LAYOUT_PD_GPA | PTE_PRESENT | PTE_WRITE;
	for (uint64_t i = 0; i < PAGETABLE_ENTRIES; i++)
		pd[i] = (i * PAGETABLE_2M) | PTE_PRESENT | PTE_WRITE | PTE_PAGESIZE;
	*cr3 = LAYOUT_PML4_GPA;
	return 0;
}
