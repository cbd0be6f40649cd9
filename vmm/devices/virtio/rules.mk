# virtio: the virtqueue core, the virtio-mmio transport and the devices (issue 5).
# ember-vmm links VIRTIO_SRCS and VIRTIO_DEV_SRCS (vmm/rules.mk).

VIRTIO_SRCS := vmm/devices/virtio/queue.c vmm/devices/virtio/mmio.c

UNIT_DEPS_test_virtq := vmm/devices/virtio/queue.c vmm/core/gmem.c lib/log.c \
	tests/unit/virtq_driver.c
UNIT_DEPS_test_vmmio := $(VIRTIO_SRCS) vmm/core/gmem.c lib/log.c tests/unit/virtq_driver.c
FUZZ_DEPS_virtq_pop := vmm/devices/virtio/queue.c vmm/core/gmem.c lib/log.c
VIRTIO_DEV_SRCS := vmm/devices/virtio/blk.c vmm/devices/virtio/rng.c
$(BIN)/ember-vmm: $(VIRTIO_SRCS:%.c=$(OBJ)/host/%.o) $(VIRTIO_DEV_SRCS:%.c=$(OBJ)/host/%.o)
# VSOCK_SRCS joins the link in vmm/devices/vsock/rules.mk: make reads that
# file after this one (the Makefile's glob is alphabetical), so VSOCK_SRCS is
# still empty here.

UNIT_DEPS_test_vblk := vmm/devices/virtio/blk.c vmm/devices/virtio/queue.c vmm/core/gmem.c \
	lib/log.c tests/unit/virtq_driver.c
UNIT_DEPS_test_vrng := vmm/devices/virtio/rng.c vmm/devices/virtio/queue.c vmm/core/gmem.c \
	lib/log.c tests/unit/virtq_driver.c
