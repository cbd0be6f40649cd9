/* vm: create the KVM VM and its in-kernel platform, register memory, raise IRQs (see vm.h). */
#include "vmm/core/vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/arch/arch.h"
#include "vmm/core/gmem_priv.h"
#include "lib/util/log.h"

int vm_ioctl(struct vm *vm, unsigned long req, const char *name, void *arg)
{
	if (ioctl(vm->fd, req, arg) < 0) {
		int ret = -errno;

		log_err("%s: %s", name, strerror(errno));
		return ret;
	}
	return 0;
}

int vm_create(struct kvm *kvm, struct vm **out)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	int ret;

	if (vm == NULL)
		return -ENOMEM;
	vm->kvm = kvm;
	atomic_init(&vm->stopping, false);
	atomic_init(&vm->exit_code, 0);
	atomic_init(&vm->pause_req, false);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	do
		vm->fd = ioctl(kvm->fd, KVM_CREATE_VM, 0);
	while (vm->fd < 0 && errno == EINTR);
	if (vm->fd < 0) {
		ret = -errno;
		log_err("KVM_CREATE_VM: %s", strerror(errno));
		goto err_free;
	}
	ret = arch_vm_init(vm);
	if (ret < 0)
		goto err_close;
	*out = vm;
	return 0;

err_close:
	close(vm->fd);
err_free:
	pthread_cond_destroy(&vm->pause_cond);
	pthread_mutex_destroy(&vm->pause_lock);
	free(vm);
	return ret;
}

void vm_destroy(struct vm *vm)
{
	if (vm == NULL)
		return;
	close(vm->fd);
	pthread_cond_destroy(&vm->pause_cond);
	pthread_mutex_destroy(&vm->pause_lock);
	free(vm);
}

int vm_set_memory(struct vm *vm, const struct gmem *gm, bool log_dirty)
{
	for (unsigned i = 0; i < gm->nregions; i++) {
		const struct gmem_region *r = &gm->regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->host,
			.flags = log_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		};
		int ret = vm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION",
				   &slot);

		if (ret < 0)
			return ret;
	}
	return 0;
}

int vm_irq_line(struct vm *vm, unsigned irq, int level)
{
	struct kvm_irq_level l = { .irq = irq, .level = level };

	if (ioctl(vm->fd, KVM_IRQ_LINE, &l) < 0) {
		int ret = -errno;

		log_ratelimited(LOG_ERR, "KVM_IRQ_LINE %u: %s", irq, strerror(errno));
		return ret;
	}
	return 0;
}

int vm_irqfd(struct vm *vm, int fd, unsigned gsi)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi };

	return vm_ioctl(vm, KVM_IRQFD, "KVM_IRQFD", &irqfd);
}

int vm_ioeventfd(struct vm *vm, int fd, gpa_t addr, unsigned len, uint64_t datamatch)
{
	struct kvm_ioeventfd io = { .datamatch = datamatch,
				    .addr = addr,
				    .len = len,
				    .fd = fd,
				    .flags = KVM_IOEVENTFD_FLAG_DATAMATCH };

	return vm_ioctl(vm, KVM_IOEVENTFD, "KVM_IOEVENTFD", &io);
}

void vm_set_stop_hook(struct vm *vm, void (*hook)(void *opaque), void *opaque)
{
	vm->stop_hook = hook;
	vm->stop_opaque = opaque;
}

void vm_request_stop(struct vm *vm, int exit_code)
{
	bool expected = false;

	if (!atomic_compare_exchange_strong(&vm->stopping, &expected, true))
		return;
	atomic_store(&vm->exit_code, exit_code);
	/* Parked vCPUs and a waiting pauser must see the stop. */
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	if (vm->stop_hook != NULL)
		vm->stop_hook(vm->stop_opaque);
}

bool vm_stopping(const struct vm *vm)
{
	return atomic_load(&vm->stopping);
}

void vm_pause_request(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	atomic_store(&vm->pause_req, true);
	pthread_mutex_unlock(&vm->pause_lock);
}

int vm_pause_wait(struct vm *vm, unsigned count)
{
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->parked < count && !vm_stopping(vm))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	pthread_mutex_unlock(&vm->pause_lock);
	return vm_stopping(vm) ? -ESHUTDOWN : 0;
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	atomic_store(&vm->pause_req, false);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

void vm_park(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm->parked++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (atomic_load(&vm->pause_req) && !vm_stopping(vm))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->parked--;
	pthread_mutex_unlock(&vm->pause_lock);
}

int vm_get_dirty_log(struct vm *vm, unsigned slot, uint64_t *bitmap)
{
	struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = bitmap };

	return vm_ioctl(vm, KVM_GET_DIRTY_LOG, "KVM_GET_DIRTY_LOG", &log);
}
