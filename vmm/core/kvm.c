/* kvm: open /dev/kvm and check that it offers what ember-vmm needs (see kvm.h). */
#include "vmm/core/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/arch/arch.h"
#include "lib/util/log.h"

#define KVM_API_VERSION_EXPECTED 12

struct required_cap {
	int cap;
	const char *name;
	const char *why;
};

static const struct required_cap required[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest memory from user space" },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", "in-kernel PIC, IOAPIC and LAPIC" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2", "in-kernel PIT" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", "TSS for Intel VMX" },
	{ KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR", "identity map" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "KVM_GET_SUPPORTED_CPUID" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "stopping vCPUs without races" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD", "device interrupts" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", "device notifications" },
	{ KVM_CAP_TSC_DEADLINE_TIMER, "KVM_CAP_TSC_DEADLINE_TIMER", "fast LAPIC timer" },
	{ KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE", "SMP bring-up" },
};

int kvm_open(struct kvm **out)
{
	struct kvm *kvm = calloc(1, sizeof(*kvm));
	int ret, v;

	if (kvm == NULL)
		return -ENOMEM;
	kvm->fd = open(KVM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (kvm->fd < 0) {
		ret = -errno;
		log_err("%s: %s (is KVM available and are you in the kvm group?)", KVM_DEVICE_PATH,
			strerror(errno));
		goto err_free;
	}
	v = ioctl(kvm->fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION_EXPECTED) {
		log_err("%s: KVM API version %d, need %d", KVM_DEVICE_PATH, v,
			KVM_API_VERSION_EXPECTED);
		ret = -ENOTSUP;
		goto err_close;
	}
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (ioctl(kvm->fd, KVM_CHECK_EXTENSION, required[i].cap) <= 0) {
			log_err("KVM lacks %s (%s)", required[i].name, required[i].why);
			ret = -ENOTSUP;
			goto err_close;
		}
	}
	v = ioctl(kvm->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (v <= 0) {
		log_err("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		ret = -ENOTSUP;
		goto err_close;
	}
	kvm->run_size = (size_t)v;
	v = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (v <= 0)
		v = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	kvm->max_vcpus = v > 0 ? (unsigned)v : 1;
	ret = arch_kvm_init(kvm);
	if (ret < 0)
		goto err_close;
	*out = kvm;
	return 0;

err_close:
	close(kvm->fd);
err_free:
	free(kvm);
	return ret;
}

void kvm_close(struct kvm *kvm)
{
	if (kvm == NULL)
		return;
	arch_kvm_free(kvm);
	close(kvm->fd);
	free(kvm);
}

int kvm_stats_get(int fd, const char *const *names, unsigned n, uint64_t *vals)
{
	struct kvm_stats_header h;
	size_t dsz;
	char *descs = NULL;
	int sfd = ioctl(fd, KVM_GET_STATS_FD, NULL), ret = 0;

	memset(vals, 0, n * sizeof(*vals));
	if (sfd < 0)
		return -errno;
	if (pread(sfd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.num_desc > 4096 ||
	    h.name_size > 256) {
		ret = -EIO;
		goto out;
	}
	dsz = sizeof(struct kvm_stats_desc) + h.name_size;
	descs = malloc(dsz * h.num_desc);
	if (descs == NULL ||
	    pread(sfd, descs, dsz * h.num_desc, h.desc_offset) != (ssize_t)(dsz * h.num_desc)) {
		ret = -EIO;
		goto out;
	}
	for (unsigned d = 0; d < h.num_desc; d++) {
		const struct kvm_stats_desc *sd = (const void *)(descs + d * dsz);

		for (unsigned i = 0; i < n; i++)
			if (strncmp(sd->name, names[i], h.name_size) == 0 &&
			    pread(sfd, &vals[i], sizeof(vals[i]), h.data_offset + sd->offset) !=
				    (ssize_t)sizeof(vals[i]))
				vals[i] = 0;
	}
out:
	free(descs);
	close(sfd);
	return ret;
}
