# virtio: the virtqueue core, the virtio-mmio transport and the devices (issue 5).
# ember-vmm links VIRTIO_SRCS and VIRTIO_DEV_SRCS (vmm/rules.mk).

VIRTIO_SRCS := vmm/devices/virtio/queue.c vmm/devices/virtio/mmio.c vmm/devices/virtio/mmio_snap.c
# The devices' snapshot hooks write and read through the snapshot format
# (vmm/snapshot/rules.mk, read after this file: hence no SNAP_SRCS here).
DEV_SNAP_DEPS := vmm/snapshot/format.c vmm/snapshot/dev.c lib/log.c

UNIT_DEPS_test_virtq := vmm/devices/virtio/queue.c vmm/core/gmem.c lib/log.c \
	tests/unit/virtq_driver.c
UNIT_DEPS_test_vmmio := $(VIRTIO_SRCS) vmm/core/gmem.c $(DEV_SNAP_DEPS) tests/unit/virtq_driver.c
UNIT_LIBS_test_vmmio := -lz
FUZZ_DEPS_virtq_pop := vmm/devices/virtio/queue.c vmm/core/gmem.c lib/log.c
VIRTIO_DEV_SRCS := vmm/devices/virtio/blk.c vmm/devices/virtio/rng.c
$(BIN)/ember-vmm: $(VIRTIO_SRCS:%.c=$(OBJ)/host/%.o) $(VIRTIO_DEV_SRCS:%.c=$(OBJ)/host/%.o)
# VSOCK_SRCS joins the link in vmm/devices/vsock/rules.mk: make reads that
# file after this one (the Makefile's glob is alphabetical), so VSOCK_SRCS is
# still empty here.

UNIT_DEPS_test_vblk := vmm/devices/virtio/blk.c vmm/devices/virtio/queue.c vmm/core/gmem.c \
	$(DEV_SNAP_DEPS) tests/unit/virtq_driver.c
UNIT_LIBS_test_vblk := -lz
UNIT_DEPS_test_vrng := vmm/devices/virtio/rng.c vmm/devices/virtio/queue.c vmm/core/gmem.c \
	$(DEV_SNAP_DEPS) tests/unit/virtq_driver.c
UNIT_LIBS_test_vrng := -lz
# Snapshot round trips and refusals of the transport with blk and rng behind it.
UNIT_DEPS_test_vmmio_snap := $(VIRTIO_SRCS) $(VIRTIO_DEV_SRCS) vmm/core/gmem.c $(DEV_SNAP_DEPS) \
	tests/unit/virtq_driver.c
UNIT_LIBS_test_vmmio_snap := -lz
