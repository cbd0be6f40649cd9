/* Unit tests for vmm/core/vcpu.c's exit handling: what each KVM exit does, the exit code it gives the VMM, and its message; no KVM.
 *
 * The exit handlers are static, so this file includes vcpu.c itself (the
 * linker then takes none of libvmm's vcpu.o). A fake struct kvm_run in plain
 * memory plays KVM; a real struct vm records the stop. The vCPU thread's
 * KVM_RUN failure path runs on a real thread whose "vCPU fd" is /dev/null. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/core/vcpu.c"

#define RUN_SIZE 8192
#define PORT	 0x3f8
#define MMIO	 0xd0000000ull

static int devnull;

struct fx {
	struct vm vm;
	struct bus pio, mmio;
	struct vcpu vcpu;
	int stops;	    /* stop hook calls */
	uint8_t last_write; /* what the fake device saw */
	unsigned writes;
};

static void dev_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	(void)opaque;
	memset(data, 0x40 + (int)off, size);
}

static void dev_write(void *opaque, uint64_t off, const uint8_t *data, unsigned size)
{
	struct fx *f = opaque;

	(void)off, (void)size;
	f->last_write = data[0];
	f->writes++;
}

static const struct bus_ops dev_ops = { dev_read, dev_write };

static void on_stop(void *opaque)
{
	((struct fx *)opaque)->stops++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	pthread_mutex_init(&f->vm.pause_lock, NULL);
	pthread_cond_init(&f->vm.pause_cond, NULL);
	f->vm.fd = -1;
	vm_set_stop_hook(&f->vm, on_stop, f);
	bus_init(&f->pio, "pio");
	bus_init(&f->mmio, "mmio");
	assert_int_equal(bus_register(&f->pio, PORT, 8, &dev_ops, f, "dev"), 0);
	assert_int_equal(bus_register(&f->mmio, MMIO, 0x1000, &dev_ops, f, "dev"), 0);
	f->vcpu = (struct vcpu){ .index = 1,
				 .fd = -1,
				 .run = calloc(1, RUN_SIZE),
				 .run_size = RUN_SIZE,
				 .vm = &f->vm,
				 .pio = &f->pio,
				 .mmio = &f->mmio };
	assert_non_null(f->vcpu.run);
	log_clear_last_error();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	free(f->vcpu.run);
	pthread_mutex_destroy(&f->vm.pause_lock);
	pthread_cond_destroy(&f->vm.pause_cond);
	free(f);
	return 0;
}

static bool last_error_has(const char *s)
{
	if (strstr(log_last_error(), s) != NULL)
		return true;
	fprintf(stderr, "last error \"%s\" lacks \"%s\"\n", log_last_error(), s);
	return false;
}

/* The exit ends the vCPU loop and stops the VM with `code`, saying `msg`. */
static void expect_stop(struct fx *f, int code, const char *msg)
{
	assert_false(handle_exit(&f->vcpu));
	assert_true(vm_stopping(&f->vm));
	assert_int_equal(atomic_load(&f->vm.exit_code), code);
	assert_int_equal(f->stops, 1);
	if (msg != NULL)
		assert_true(last_error_has(msg));
	else
		assert_string_equal(log_last_error(), "");
}

static void test_triple_fault_is_a_crash(void **state)
{
	struct fx *f = *state;

	f->vcpu.run->exit_reason = KVM_EXIT_SHUTDOWN;
	expect_stop(f, VMM_EXIT_GUEST_CRASH,
		    "vCPU 1: the guest triple-faulted (KVM_EXIT_SHUTDOWN)");
}

static void test_guest_shutdown_and_reset_are_clean(void **state)
{
	struct fx *f = *state;

	f->vcpu.run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
	f->vcpu.run->system_event.type = KVM_SYSTEM_EVENT_RESET;
	expect_stop(f, VMM_EXIT_OK, NULL);
	teardown(state);
	setup(state);
	f = *state;
	f->vcpu.run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
	f->vcpu.run->system_event.type = KVM_SYSTEM_EVENT_SHUTDOWN;
	expect_stop(f, VMM_EXIT_OK, NULL);
}

static void test_guest_reported_crash(void **state)
{
	struct fx *f = *state;

	f->vcpu.run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
	f->vcpu.run->system_event.type = KVM_SYSTEM_EVENT_CRASH;
	expect_stop(f, VMM_EXIT_GUEST_CRASH, "vCPU 1: the guest reported a crash");
}

static void test_unknown_system_event_is_a_kvm_failure(void **state)
{
	struct fx *f = *state;

	f->vcpu.run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
	f->vcpu.run->system_event.type = 77;
	expect_stop(f, VMM_EXIT_KVM, "vCPU 1: unknown system event 77");
}

static void test_halt_without_lapic_is_a_crash(void **state)
{
	struct fx *f = *state;

	f->vcpu.run->exit_reason = KVM_EXIT_HLT;
	expect_stop(f, VMM_EXIT_GUEST_CRASH, "vCPU 1: halted with interrupts off");
}

static void test_kvm_failures(void **state)
{
	struct fx *f = *state;

	f->vcpu.run->exit_reason = KVM_EXIT_FAIL_ENTRY;
	f->vcpu.run->fail_entry.hardware_entry_failure_reason = 0x80000021;
	expect_stop(f, VMM_EXIT_KVM, "vCPU 1: KVM entry failed, hardware reason 0x80000021");
	teardown(state);
	setup(state);
	f = *state;
	f->vcpu.run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	f->vcpu.run->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	expect_stop(f, VMM_EXIT_KVM, "vCPU 1: KVM internal error, suberror 1");
	teardown(state);
	setup(state);
	f = *state;
	f->vcpu.run->exit_reason = 999;
	expect_stop(f, VMM_EXIT_KVM, "vCPU 1: unexpected KVM exit reason 999");
}

/* The first reason to stop is the VMM's exit code; later ones change nothing. */
static void test_first_stop_wins(void **state)
{
	struct fx *f = *state;

	f->vcpu.run->exit_reason = KVM_EXIT_SHUTDOWN;
	expect_stop(f, VMM_EXIT_GUEST_CRASH, "triple-faulted");
	f->vcpu.run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
	f->vcpu.run->system_event.type = KVM_SYSTEM_EVENT_RESET;
	assert_false(handle_exit(&f->vcpu));
	assert_int_equal(atomic_load(&f->vm.exit_code), VMM_EXIT_GUEST_CRASH);
	assert_int_equal(f->stops, 1);
}

static void test_interrupted_run_goes_on(void **state)
{
	struct fx *f = *state;

	f->vcpu.run->exit_reason = KVM_EXIT_INTR;
	assert_true(handle_exit(&f->vcpu));
	assert_false(vm_stopping(&f->vm));
	assert_int_equal(f->vcpu.stats.exits, 1);
	assert_int_equal(f->vcpu.stats.intr_exits, 1);
}

/* Port I/O: claimed and unclaimed, in and out, rep, and a bad data offset. */
static void test_port_io(void **state)
{
	struct fx *f = *state;
	struct kvm_run *run = f->vcpu.run;
	uint8_t *data = (uint8_t *)run + 4096;

	run->exit_reason = KVM_EXIT_IO;
	run->io = (typeof(run->io)){ .direction = KVM_EXIT_IO_IN,
				     .size = 2,
				     .port = PORT + 1,
				     .count = 3,
				     .data_offset = 4096 };
	assert_true(handle_exit(&f->vcpu));
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(data[i], 0x41);
	/* Unclaimed reads are all ones, counted; unclaimed writes are dropped. */
	run->io.port = 0x80;
	run->io.count = 1;
	assert_true(handle_exit(&f->vcpu));
	assert_int_equal(data[0], 0xff);
	assert_int_equal(data[1], 0xff);
	assert_int_equal(f->vcpu.stats.unclaimed, 1);
	run->io.direction = KVM_EXIT_IO_OUT;
	data[0] = 'x';
	assert_true(handle_exit(&f->vcpu));
	assert_int_equal(f->vcpu.stats.unclaimed, 2);
	assert_int_equal(f->writes, 0);
	run->io.port = PORT;
	assert_true(handle_exit(&f->vcpu));
	assert_int_equal(f->writes, 1);
	assert_int_equal(f->last_write, 'x');
	/* A data range outside the run area is not touched (KVM never makes one). */
	run->io.data_offset = RUN_SIZE - 1;
	run->io.count = 1;
	assert_true(handle_exit(&f->vcpu));
	run->io.data_offset = 4096;
	run->io.count = UINT32_MAX;
	assert_true(handle_exit(&f->vcpu));
	assert_int_equal(f->writes, 1);
	assert_int_equal(f->vcpu.stats.io_exits, 6);
	assert_false(vm_stopping(&f->vm));
}

static void test_mmio(void **state)
{
	struct fx *f = *state;
	struct kvm_run *run = f->vcpu.run;

	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio = (typeof(run->mmio)){ .phys_addr = MMIO + 2, .len = 4, .is_write = 0 };
	assert_true(handle_exit(&f->vcpu));
	assert_int_equal(run->mmio.data[0], 0x42);
	assert_int_equal(run->mmio.data[3], 0x42);
	run->mmio.phys_addr = MMIO + 0x1000; /* just past the device */
	assert_true(handle_exit(&f->vcpu));
	assert_int_equal(run->mmio.data[0], 0xff);
	assert_int_equal(run->mmio.data[3], 0xff);
	assert_int_equal(f->vcpu.stats.unclaimed, 1);
	run->mmio.is_write = 1;
	run->mmio.phys_addr = MMIO;
	run->mmio.data[0] = 'w';
	assert_true(handle_exit(&f->vcpu));
	assert_int_equal(f->last_write, 'w');
	/* Lengths KVM never reports are ignored. */
	run->mmio.len = 0;
	assert_true(handle_exit(&f->vcpu));
	run->mmio.len = 9;
	assert_true(handle_exit(&f->vcpu));
	assert_int_equal(f->writes, 1);
	assert_int_equal(f->vcpu.stats.mmio_exits, 5);
}

/* KVM_RUN itself failing (here: the "vCPU fd" is /dev/null) is a KVM failure. */
static void test_run_failure_stops_the_vm(void **state)
{
	struct fx *f = *state;
	int out = memfd_create("log", MFD_CLOEXEC);
	char text[512] = "";
	ssize_t n;

	/* log_last_error() is per thread: read the vCPU thread's line from the log. */
	assert_true(out >= 0);
	log_set_output(out, false, false);
	f->vcpu.fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(f->vcpu.fd >= 0);
	assert_int_equal(vcpu_start(&f->vcpu), 0);
	vcpu_join(&f->vcpu);
	close(f->vcpu.fd);
	log_set_output(devnull, false, false);
	assert_true(vm_stopping(&f->vm));
	assert_int_equal(atomic_load(&f->vm.exit_code), VMM_EXIT_KVM);
	assert_int_equal(f->stops, 1);
	n = pread(out, text, sizeof(text) - 1, 0);
	assert_true(n > 0);
	text[n] = '\0';
	assert_non_null(strstr(text, "vCPU 1: KVM_RUN: Inappropriate ioctl for device"));
	close(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_triple_fault_is_a_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_shutdown_and_reset_are_clean, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_guest_reported_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_system_event_is_a_kvm_failure, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_halt_without_lapic_is_a_crash, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_kvm_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_stop_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupted_run_goes_on, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_failure_stops_the_vm, setup, teardown),
	};

	/* Errors are asserted through log_last_error(); keep them off the terminal. */
	log_init("test_vcpu_exit", LOG_ERR);
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	log_set_output(devnull, false, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
