/* vcpu: create vCPUs, run KVM_RUN on their own threads, and handle exits (see vcpu.h). */
#include "vmm/core/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/arch/arch.h"
#include "lib/util/log.h"
#include "vmm/seccomp/filter.h"

#define VCPU_KICK_SIGNAL (SIGRTMIN + 0)
#define VCPU_STACK_SIZE	 (256 * 1024)
/* Only this vCPU's thread writes its counters; others read them (metrics). */
#define STAT_INC(x)                                                                                \
	__atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED)

static void kick_handler(int sig)
{
	(void)sig; /* only here to make KVM_RUN return -EINTR */
}

int vcpu_init_signals(void)
{
	struct sigaction sa = { .sa_handler = kick_handler }; /* no SA_RESTART */

	sigemptyset(&sa.sa_mask);
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0 ? -errno : 0;
}

int vcpu_ioctl(const struct vcpu *vcpu, unsigned long req, const char *name, void *arg)
{
	if (ioctl(vcpu->fd, req, arg) < 0) {
		int ret = -errno;

		log_err("%s on vCPU %u: %s", name, vcpu->index, strerror(errno));
		return ret;
	}
	return 0;
}

int vcpu_create(struct vm *vm, unsigned index, unsigned count, const struct bus *pio,
		const struct bus *mmio, struct vcpu **out)
{
	struct vcpu *vcpu = calloc(1, sizeof(*vcpu));
	int ret;

	if (vcpu == NULL)
		return -ENOMEM;
	vcpu->index = index;
	vcpu->vm = vm;
	vcpu->pio = pio;
	vcpu->mmio = mmio;
	vcpu->run_size = vm->kvm->run_size;
	vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (vcpu->fd < 0) {
		ret = -errno;
		log_err("KVM_CREATE_VCPU %u: %s", index, strerror(errno));
		goto err_free;
	}
	vcpu->run = mmap(NULL, vcpu->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		ret = -errno;
		log_err("mmap of vCPU %u's kvm_run: %s", index, strerror(errno));
		goto err_close;
	}
	ret = arch_vcpu_init(vcpu, count);
	if (ret < 0)
		goto err_unmap;
	*out = vcpu;
	return 0;

err_unmap:
	munmap(vcpu->run, vcpu->run_size);
err_close:
	close(vcpu->fd);
err_free:
	free(vcpu);
	return ret;
}

static void handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	unsigned size = run->io.size;
	uint64_t bytes = (uint64_t)size * run->io.count;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	STAT_INC(vcpu->stats.io_exits);
	/* The kernel sets these; check them anyway before touching memory. */
	if (run->io.data_offset > vcpu->run_size || bytes > vcpu->run_size - run->io.data_offset)
		return;
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		bool claimed;

		if (run->io.direction == KVM_EXIT_IO_IN) {
			claimed = bus_read(vcpu->pio, run->io.port, data, size);
			if (!claimed)
				memset(data, 0xff, size);
		} else {
			claimed = bus_write(vcpu->pio, run->io.port, data, size);
		}
		if (!claimed) {
			STAT_INC(vcpu->stats.unclaimed);
			log_ratelimited(LOG_DEBUG, "vCPU %u: unclaimed port %s %#x/%u", vcpu->index,
					run->io.direction == KVM_EXIT_IO_IN ? "read" : "write",
					run->io.port, size);
		}
	}
}

static void handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	unsigned len = run->mmio.len;
	bool claimed;

	STAT_INC(vcpu->stats.mmio_exits);
	if (len == 0 || len > sizeof(run->mmio.data))
		return;
	if (run->mmio.is_write) {
		claimed = bus_write(vcpu->mmio, run->mmio.phys_addr, run->mmio.data, len);
	} else {
		claimed = bus_read(vcpu->mmio, run->mmio.phys_addr, run->mmio.data, len);
		if (!claimed)
			memset(run->mmio.data, 0xff, len);
	}
	if (!claimed) {
		STAT_INC(vcpu->stats.unclaimed);
		log_ratelimited(LOG_DEBUG, "vCPU %u: unclaimed MMIO %s %#llx/%u", vcpu->index,
				run->mmio.is_write ? "write" : "read",
				(unsigned long long)run->mmio.phys_addr, len);
	}
}

static void handle_system_event(struct vcpu *vcpu)
{
	uint32_t type = vcpu->run->system_event.type;

	switch (type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
	case KVM_SYSTEM_EVENT_RESET:
		log_debug("vCPU %u: guest %s", vcpu->index,
			  type == KVM_SYSTEM_EVENT_RESET ? "reset" : "shutdown");
		vm_request_stop(vcpu->vm, VMM_EXIT_OK);
		break;
	case KVM_SYSTEM_EVENT_CRASH:
		log_err("vCPU %u: the guest reported a crash", vcpu->index);
		vm_request_stop(vcpu->vm, VMM_EXIT_GUEST_CRASH);
		break;
	default:
		log_err("vCPU %u: unknown system event %u", vcpu->index, type);
		vm_request_stop(vcpu->vm, VMM_EXIT_KVM);
		break;
	}
}

/* Handles one exit; false when this vCPU must stop running. */
static bool handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	STAT_INC(vcpu->stats.exits);
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(vcpu);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(vcpu);
		return true;
	case KVM_EXIT_INTR:
		STAT_INC(vcpu->stats.intr_exits);
		return true;
	case KVM_EXIT_SHUTDOWN:
		/* A triple fault: what a crashed kernel does, and reboot=t. */
		log_err("vCPU %u: the guest triple-faulted (KVM_EXIT_SHUTDOWN)", vcpu->index);
		vm_request_stop(vcpu->vm, VMM_EXIT_GUEST_CRASH);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		handle_system_event(vcpu);
		return false;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; a halted BSP can never wake. */
		log_err("vCPU %u: halted with interrupts off", vcpu->index);
		vm_request_stop(vcpu->vm, VMM_EXIT_GUEST_CRASH);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		log_err("vCPU %u: KVM entry failed, hardware reason %#llx", vcpu->index,
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		log_err("vCPU %u: KVM internal error, suberror %u", vcpu->index,
			run->internal.suberror);
		break;
	default:
		log_err("vCPU %u: unexpected KVM exit reason %u", vcpu->index, run->exit_reason);
		break;
	}
	vm_request_stop(vcpu->vm, VMM_EXIT_KVM);
	return false;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;

	/* Before the first KVM_RUN: the guest never runs unfiltered. */
	if (filter_install(ROLE_VCPU) < 0) {
		vm_request_stop(vcpu->vm, VMM_EXIT_KVM);
		return NULL;
	}
	while (!vm_stopping(vcpu->vm)) {
		/* A pause kicks us out of KVM_RUN (immediate_exit covers the gap
		 * between this check and the ioctl). */
		if (atomic_load(&vcpu->vm->pause_req)) {
			/* KVM finishes a pending I/O exit on the next KVM_RUN (RIP
			 * still points at the instruction): do that with
			 * immediate_exit now, so a parked vCPU's state is whole
			 * (snapshots read it). */
			int r;

			__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
			r = ioctl(vcpu->fd, KVM_RUN, 0);
			__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
			/* Finishing it may exit again (rep outs): serve that first. */
			if (r == 0 && !handle_exit(vcpu))
				break;
			if (r < 0)
				vm_park(vcpu->vm);
			continue;
		}
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				STAT_INC(vcpu->stats.intr_exits);
				__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
				continue;
			}
			if (errno == EFAULT) {
				/* KVM could not fault a guest page in: the file
				 * behind guest memory lost it (truncated). */
				log_err("vCPU %u: guest memory cannot be read (KVM_RUN: %s); "
					"stopping the VM",
					vcpu->index, strerror(errno));
				vm_request_stop(vcpu->vm, VMM_EXIT_GUEST_MEMORY);
				break;
			}
			log_err("vCPU %u: KVM_RUN: %s", vcpu->index, strerror(errno));
			vm_request_stop(vcpu->vm, VMM_EXIT_KVM);
			break;
		}
		if (!handle_exit(vcpu))
			break;
	}
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	pthread_attr_t attr;
	int ret;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, VCPU_STACK_SIZE);
	ret = -pthread_create(&vcpu->thread, &attr, vcpu_thread, vcpu);
	pthread_attr_destroy(&attr);
	if (ret < 0) {
		log_err("starting vCPU %u's thread: %s", vcpu->index, strerror(-ret));
		return ret;
	}
	vcpu->started = true;
	return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (!vcpu->started)
		return;
	/* immediate_exit covers a thread that is between its stop check and KVM_RUN. */
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *vcpu)
{
	if (!vcpu->started)
		return;
	pthread_join(vcpu->thread, NULL);
	vcpu->started = false;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu == NULL)
		return;
	munmap(vcpu->run, vcpu->run_size);
	close(vcpu->fd);
	free(vcpu);
}
