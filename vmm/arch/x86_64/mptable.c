/* mptable: build the MP floating pointer and configuration table (see mptable.h). */
#include "vmm/arch/x86_64/mptable.h"

#include <errno.h>
#include <string.h>

#include "vmm/arch/x86_64/layout.h"

#define MP_SPEC_REV	  4    /* MP spec 1.4 */
#define LAPIC_VERSION	  0x14 /* integrated APIC */
#define IOAPIC_VERSION	  0x11
#define CPU_SIGNATURE	  0x600 /* family 6; Linux only prints it */
#define CPU_FEATURES	  0x201 /* FPU | APIC */
#define MP_IRQDIR_DEFAULT 0	/* polarity and trigger conform to the bus (ISA: edge, high) */
#define LINT_ALL_CPUS	  0xff
#define ISA_CASCADE_IRQ	  2
#define ISA_TIMER_IRQ	  0
#define IOAPIC_TIMER_PIN  2 /* KVM routes GSI 0 to IOAPIC pin 2 */

static const char isa_bus[6] = { 'I', 'S', 'A', ' ', ' ', ' ' };

static unsigned n_intsrc(void)
{
	return LAYOUT_ISA_IRQS - 1; /* all but the cascade */
}

size_t mptable_size(unsigned ncpus)
{
	return sizeof(struct mpf_intel) + sizeof(struct mpc_table) +
	       ncpus * sizeof(struct mpc_cpu) + sizeof(struct mpc_bus) + sizeof(struct mpc_ioapic) +
	       (n_intsrc() + 2) * sizeof(struct mpc_intsrc);
}

static uint8_t checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return (uint8_t)-sum;
}

int mptable_write(struct gmem *gm, unsigned ncpus)
{
	size_t size = mptable_size(ncpus);
	struct mpf_intel *mpf;
	struct mpc_table *mpc;
	uint8_t *base, *p;
	uint8_t ioapic_id = (uint8_t)ncpus;
	uint16_t count = 0;

	if (ncpus == 0 || ncpus > MPTABLE_MAX_CPUS)
		return -EINVAL;
	if (size > LAYOUT_MPTABLE_MAX)
		return -EINVAL;
	base = gmem_slice(gm, LAYOUT_MPTABLE_GPA, size);
	if (base == NULL)
		return -EFAULT;
	memset(base, 0, size);
	mpf = (struct mpf_intel *)base;
	mpc = (struct mpc_table *)(base + sizeof(*mpf));
	p = (uint8_t *)(mpc + 1);

	for (unsigned i = 0; i < ncpus; i++, count++) {
		struct mpc_cpu c = { .type = MP_PROCESSOR,
				     .apicid = (uint8_t)i,
				     .apicver = LAPIC_VERSION,
				     .cpuflag = MPC_CPU_ENABLED | (i == 0 ? MPC_CPU_BSP : 0),
				     .cpufeature = CPU_SIGNATURE,
				     .featureflag = CPU_FEATURES };

		memcpy(p, &c, sizeof(c));
		p += sizeof(c);
	}
	{
		struct mpc_bus b = { .type = MP_BUS, .busid = 0 };

		memcpy(b.bustype, isa_bus, sizeof(b.bustype));
		memcpy(p, &b, sizeof(b));
		p += sizeof(b);
		count++;
	}
	{
		struct mpc_ioapic io = { .type = MP_IOAPIC,
					 .apicid = ioapic_id,
					 .apicver = IOAPIC_VERSION,
					 .flags = 1,
					 .apicaddr = (uint32_t)LAYOUT_IOAPIC_GPA };

		memcpy(p, &io, sizeof(io));
		p += sizeof(io);
		count++;
	}
	for (unsigned irq = 0; irq < LAYOUT_ISA_IRQS; irq++) {
		struct mpc_intsrc s = { .type = MP_INTSRC,
					.irqtype = MP_INT,
					.irqflag = MP_IRQDIR_DEFAULT,
					.srcbus = 0,
					.srcbusirq = (uint8_t)irq,
					.dstapic = ioapic_id,
					.dstirq = (uint8_t)irq };

		if (irq == ISA_CASCADE_IRQ)
			continue;
		if (irq == ISA_TIMER_IRQ)
			s.dstirq = IOAPIC_TIMER_PIN;
		memcpy(p, &s, sizeof(s));
		p += sizeof(s);
		count++;
	}
	for (unsigned lint = 0; lint < 2; lint++) {
		struct mpc_intsrc s = { .type = MP_LINTSRC,
					.irqtype = lint == 0 ? MP_EXTINT : MP_NMI,
					.irqflag = MP_IRQDIR_DEFAULT,
					.srcbus = 0,
					.srcbusirq = 0,
					.dstapic = LINT_ALL_CPUS,
					.dstirq = (uint8_t)lint };

		memcpy(p, &s, sizeof(s));
		p += sizeof(s);
		count++;
	}

	memcpy(mpc->signature, "PCMP", 4);
	mpc->length = (uint16_t)(p - (uint8_t *)mpc);
	mpc->spec = MP_SPEC_REV;
	memcpy(mpc->oem, "EMBER   ", 8);
	memcpy(mpc->productid, "MICROVM     ", 12);
	mpc->oemcount = count;
	mpc->lapic = (uint32_t)LAYOUT_LAPIC_GPA;
	mpc->checksum = checksum(mpc, mpc->length);

	memcpy(mpf->signature, "_MP_", 4);
	mpf->physptr = (uint32_t)(LAYOUT_MPTABLE_GPA + sizeof(*mpf));
	mpf->length = 1;
	mpf->specification = MP_SPEC_REV;
	mpf->checksum = checksum(mpf, sizeof(*mpf));
	return 0;
}
