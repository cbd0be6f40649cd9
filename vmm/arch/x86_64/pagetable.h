/* pagetable: identity page tables for entering a kernel in long mode.
 *
 * Contract: pagetable_write() writes a PML4, a PDPT and one page directory of
 * 2 MiB pages at their layout.h addresses, identity-mapping
 * [0, LAYOUT_IDENTITY_MAP_SIZE) read/write, and returns the CR3 value through
 * *cr3. That covers everything the 64-bit boot protocol asks to be mapped:
 * the kernel, the zero page and the command line. -EFAULT if guest memory
 * lacks the table pages. */
#ifndef EMBER_PAGETABLE_H
#define EMBER_PAGETABLE_H

#include "vmm/core/gmem.h"

#define PTE_PRESENT	  (1ull << 0)
#define PTE_WRITE	  (1ull << 1)
#define PTE_PAGESIZE	  (1ull << 7)
#define PTE_ADDR_MASK	  0x000ffffffffff000ull
#define PAGETABLE_ENTRIES 512
#define PAGETABLE_2M	  (1ull << 21)

int pagetable_write(struct gmem *gm, uint64_t *cr3);

#endif
