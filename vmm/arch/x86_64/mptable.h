/* mptable: the Intel MultiProcessor table that tells a guest without ACPI about its CPUs.
 *
 * Contract: mptable_write() writes, at LAYOUT_MPTABLE_GPA, a floating pointer
 * followed by a configuration table: one processor entry per vCPU (APIC ids
 * 0..ncpus-1, vCPU 0 the BSP), one ISA bus, one IOAPIC (id ncpus), ISA IRQs
 * routed to IOAPIC pins as KVM's default GSI routing does (IRQ 0 -> pin 2,
 * the cascade IRQ 2 absent, the rest 1:1), ExtINT -> LINT0 and NMI -> LINT1.
 * Both checksums are set. Errors: -EINVAL for ncpus outside
 * 1..MPTABLE_MAX_CPUS, -EFAULT if guest memory lacks the table's range.
 * mptable_size() is the number of bytes written for ncpus. */
#ifndef EMBER_MPTABLE_H
#define EMBER_MPTABLE_H

#include <stddef.h>

#include "vmm/core/gmem.h"

#define MPTABLE_MAX_CPUS 32

/* Wire format, MP spec 1.4, chapter 4. */
struct mpf_intel {
	char signature[4]; /* "_MP_" */
	uint32_t physptr;
	uint8_t length; /* in 16-byte units */
	uint8_t specification;
	uint8_t checksum;
	uint8_t feature[5];
} __attribute__((packed));

struct mpc_table {
	char signature[4]; /* "PCMP" */
	uint16_t length;
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t oemcount;
	uint32_t lapic;
	uint32_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t cpuflag;
	uint32_t cpufeature;
	uint32_t featureflag;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type;
	uint8_t busid;
	char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags;
	uint32_t apicaddr;
} __attribute__((packed));

struct mpc_intsrc {
	uint8_t type;
	uint8_t irqtype;
	uint16_t irqflag;
	uint8_t srcbus;
	uint8_t srcbusirq;
	uint8_t dstapic;
	uint8_t dstirq;
} __attribute__((packed));

enum mp_entry_type { MP_PROCESSOR = 0, MP_BUS, MP_IOAPIC, MP_INTSRC, MP_LINTSRC };
enum mp_irq_type { MP_INT = 0, MP_NMI, MP_SMI, MP_EXTINT };

#define MPC_CPU_ENABLED 1
#define MPC_CPU_BSP	2

size_t mptable_size(unsigned ncpus);
int mptable_write(struct gmem *gm, unsigned ncpus);

#endif
