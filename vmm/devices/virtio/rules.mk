# virtio: the virtqueue core and the virtio-mmio transport (issue 5). Devices come later.
# VIRTIO_SRCS is not linked into ember-vmm yet; the builder adds it when it attaches a device.

VIRTIO_SRCS := vmm/devices/virtio/queue.c vmm/devices/virtio/mmio.c

UNIT_DEPS_test_virtq := vmm/devices/virtio/queue.c vmm/core/gmem.c lib/log.c \
	tests/unit/virtq_driver.c
UNIT_DEPS_test_vmmio := $(VIRTIO_SRCS) vmm/core/gmem.c lib/log.c tests/unit/virtq_driver.c
FUZZ_DEPS_virtq_pop := vmm/devices/virtio/queue.c vmm/core/gmem.c lib/log.c
