/* Unit tests for vmm/arch/x86_64/mptable.c: checksums, entry counts, routing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/arch/x86_64/layout.h"
#include "vmm/arch/x86_64/mptable.h"

static uint8_t sum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (len--)
		s += *b++;
	return s;
}

static void check(unsigned ncpus)
{
	struct gmem *gm;
	struct mpf_intel *mpf;
	struct mpc_table *mpc;
	unsigned cpus = 0, buses = 0, ioapics = 0, intsrc = 0, lint = 0, bsp = 0;
	uint8_t *p, *end;
	bool irq_seen[LAYOUT_ISA_IRQS] = { false };

	assert_int_equal(gmem_create(32 << 20, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END, &gm), 0);
	assert_int_equal(mptable_write(gm, ncpus), 0);
	mpf = gmem_slice(gm, LAYOUT_MPTABLE_GPA, sizeof(*mpf));
	assert_memory_equal(mpf->signature, "_MP_", 4);
	assert_int_equal(sum(mpf, sizeof(*mpf)), 0);
	assert_int_equal(mpf->length, 1);
	assert_int_equal(mpf->specification, 4);
	mpc = gmem_slice(gm, mpf->physptr, sizeof(*mpc));
	assert_non_null(mpc);
	assert_memory_equal(mpc->signature, "PCMP", 4);
	assert_int_equal(sum(mpc, mpc->length), 0);
	assert_int_equal(mpc->lapic, LAYOUT_LAPIC_GPA);
	assert_int_equal(sizeof(*mpf) + mpc->length, mptable_size(ncpus));
	assert_true(mptable_size(ncpus) <= LAYOUT_MPTABLE_MAX);
	/* The table sits in the last KiB of base memory, where Linux scans. */
	assert_true(LAYOUT_MPTABLE_GPA >= 639 * 1024 && LAYOUT_MPTABLE_GPA < 640 * 1024);

	p = (uint8_t *)(mpc + 1);
	end = (uint8_t *)mpc + mpc->length;
	for (unsigned i = 0; i < mpc->oemcount; i++) {
		assert_true(p < end);
		switch (*p) {
		case MP_PROCESSOR: {
			struct mpc_cpu *c = (struct mpc_cpu *)p;

			assert_int_equal(c->apicid, cpus);
			assert_true(c->cpuflag & MPC_CPU_ENABLED);
			bsp += (c->cpuflag & MPC_CPU_BSP) != 0;
			cpus++;
			p += sizeof(*c);
			break;
		}
		case MP_BUS:
			assert_memory_equal(((struct mpc_bus *)p)->bustype, "ISA   ", 6);
			buses++;
			p += sizeof(struct mpc_bus);
			break;
		case MP_IOAPIC: {
			struct mpc_ioapic *io = (struct mpc_ioapic *)p;

			assert_int_equal(io->apicid, ncpus); /* no clash with a CPU */
			assert_int_equal(io->apicaddr, LAYOUT_IOAPIC_GPA);
			ioapics++;
			p += sizeof(*io);
			break;
		}
		case MP_INTSRC: {
			struct mpc_intsrc *s = (struct mpc_intsrc *)p;

			assert_true(s->srcbusirq < LAYOUT_ISA_IRQS);
			assert_false(irq_seen[s->srcbusirq]);
			irq_seen[s->srcbusirq] = true;
			assert_int_equal(s->dstirq, s->srcbusirq == 0 ? 2 : s->srcbusirq);
			intsrc++;
			p += sizeof(*s);
			break;
		}
		case MP_LINTSRC: {
			struct mpc_intsrc *s = (struct mpc_intsrc *)p;

			assert_int_equal(s->irqtype, s->dstirq == 0 ? MP_EXTINT : MP_NMI);
			lint++;
			p += sizeof(*s);
			break;
		}
		default:
			fail_msg("unknown entry type %u", *p);
		}
	}
	assert_ptr_equal(p, end);
	assert_int_equal(cpus, ncpus);
	assert_int_equal(bsp, 1);
	assert_int_equal(buses, 1);
	assert_int_equal(ioapics, 1);
	assert_int_equal(intsrc, 15);
	assert_false(irq_seen[2]);
	assert_int_equal(lint, 2);
	gmem_destroy(gm);
}

static void test_counts(void **state)
{
	(void)state;
	check(1);
	check(2);
	check(4);
	check(MPTABLE_MAX_CPUS);
}

static void test_errors(void **state)
{
	struct gmem *gm;

	(void)state;
	assert_int_equal(gmem_create(32 << 20, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END, &gm), 0);
	assert_int_equal(mptable_write(gm, 0), -EINVAL);
	assert_int_equal(mptable_write(gm, MPTABLE_MAX_CPUS + 1), -EINVAL);
	gmem_destroy(gm);
	/* Memory that ends before the EBDA. */
	assert_int_equal(gmem_create(0x9f000, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END, &gm), 0);
	assert_int_equal(mptable_write(gm, 1), -EFAULT);
	gmem_destroy(gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
