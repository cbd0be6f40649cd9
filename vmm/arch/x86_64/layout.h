/* layout: every fixed guest-physical address, port and IRQ of an x86_64 microVM.
 *
 * Low memory (below 1 MiB) holds the boot structures; the kernel goes to
 * 1 MiB (bzImage) or its own physical addresses (ELF). RAM above
 * LAYOUT_MMIO_GAP_START moves above 4 GiB, so the gap holds the TSS and
 * identity map that Intel's KVM needs, the device MMIO windows, the IOAPIC and
 * the LAPIC. No other file may hard-code one of these numbers. */
#ifndef EMBER_LAYOUT_H
#define EMBER_LAYOUT_H

#include "vmm/core/gmem.h"

/* --- Boot structures in low memory (all inside e820 RAM below EBDA) --- */
#define LAYOUT_GDT_GPA		 ((gpa_t)0x500)	 /* null, null, code 0x10, data 0x18, tss 0x20 */
#define LAYOUT_IDT_GPA		 ((gpa_t)0x540)	 /* one empty IDT: an early fault triple-faults */
#define LAYOUT_PVH_INFO_GPA	 ((gpa_t)0x6000) /* struct hvm_start_info */
#define LAYOUT_PVH_MODS_GPA	 ((gpa_t)0x6040) /* hvm_modlist_entry[1] (the initrd) */
#define LAYOUT_PVH_MEMMAP_GPA	 ((gpa_t)0x6100) /* hvm_memmap_table_entry[] */
#define LAYOUT_PVH_MEMMAP_MAX	 64
#define LAYOUT_ZERO_PAGE_GPA	 ((gpa_t)0x7000) /* struct boot_params */
#define LAYOUT_BOOT_STACK_GPA	 ((gpa_t)0x8ff0) /* initial rsp; the kernel sets its own */
#define LAYOUT_PML4_GPA		 ((gpa_t)0x9000) /* identity page tables, 64-bit entry */
#define LAYOUT_PDPT_GPA		 ((gpa_t)0xa000)
#define LAYOUT_PD_GPA		 ((gpa_t)0xb000) /* one page of 2 MiB entries */
#define LAYOUT_IDENTITY_MAP_SIZE (1ull << 30)	 /* the boot page tables map [0, 1 GiB) */
#define LAYOUT_CMDLINE_GPA	 ((gpa_t)0x20000)
#define LAYOUT_CMDLINE_MAX	 2048 /* bytes, with the NUL: x86 COMMAND_LINE_SIZE */

/* The last KiB of base memory (Linux scans it for the MP floating pointer). */
#define LAYOUT_EBDA_GPA	   ((gpa_t)0x9fc00)
#define LAYOUT_MPTABLE_GPA LAYOUT_EBDA_GPA
#define LAYOUT_MPTABLE_MAX 0x400
/* Legacy VGA/ROM hole, reserved in e820. */
#define LAYOUT_LEGACY_END ((gpa_t)0x100000)

/* --- Kernel and initrd --- */
#define LAYOUT_HIMEM_GPA       ((gpa_t)0x100000)   /* bzImage protected-mode code */
#define LAYOUT_INITRD_ADDR_MAX ((gpa_t)0x37ffffff) /* boot protocol default before 2.03 */
#define LAYOUT_INITRD_ALIGN    0x1000

/* --- The MMIO gap below 4 GiB --- */
#define LAYOUT_MMIO_GAP_START ((gpa_t)0xc0000000)
#define LAYOUT_MMIO_GAP_END   ((gpa_t)0x100000000)
/* virtio-mmio device windows go here (issue 5); 4 KiB each. */
#define LAYOUT_VIRTIO_MMIO_BASE ((gpa_t)0xd0000000)
#define LAYOUT_VIRTIO_MMIO_SIZE 0x1000
#define LAYOUT_KVM_IDENTITY_MAP ((gpa_t)0xfffbc000) /* KVM_SET_IDENTITY_MAP_ADDR, 1 page */
#define LAYOUT_KVM_TSS		((gpa_t)0xfffbd000) /* KVM_SET_TSS_ADDR, 3 pages */
#define LAYOUT_IOAPIC_GPA	((gpa_t)0xfec00000)
#define LAYOUT_LAPIC_GPA	((gpa_t)0xfee00000)

/* --- Ports and IRQs --- */
#define LAYOUT_COM1_PORT       0x3f8
#define LAYOUT_COM1_IRQ	       4
#define LAYOUT_I8042_DATA      0x60
#define LAYOUT_I8042_CMD       0x64
#define LAYOUT_I8042_IRQ       1    /* keyboard; ISA, so edge-triggered (mptable.c) */
#define LAYOUT_POST_PORT       0x80 /* io_delay writes; answered and ignored */
#define LAYOUT_ISA_IRQS	       16   /* MP table routes ISA IRQs 0..15 1:1 to the IOAPIC */
#define LAYOUT_VIRTIO_IRQ_BASE 5    /* first IRQ for virtio-mmio devices (issue 5) */

/* The i8042's mouse port, on the IRQ Linux hard-wires for it. With 8 or more
 * virtio devices, slot 7 has it too (LAYOUT_VIRTIO_IRQ_BASE + 7): Linux shares
 * the line, and the i8042 only pulses it (machine.c). */
#define LAYOUT_I8042_AUX_IRQ 12

#endif
