# vsock: the virtio-vsock device with Firecracker's hybrid vsock host side (issue 5).
# ember-vmm links VSOCK_SRCS (the builder attaches the device in vmm/virtio_slots.c). The link
# line is here because make reads this file after vmm/rules.mk and vmm/devices/virtio/rules.mk.

VSOCK_SRCS := vmm/devices/vsock/packet.c vmm/devices/vsock/conn.c vmm/devices/vsock/hybrid.c \
	vmm/devices/vsock/vsock.c lib/uds.c
$(BIN)/ember-vmm: $(VSOCK_SRCS:%.c=$(OBJ)/host/%.o)

UNIT_DEPS_test_vsock_packet := vmm/devices/vsock/packet.c vmm/devices/virtio/queue.c \
	vmm/core/gmem.c lib/log.c tests/unit/virtq_driver.c
UNIT_DEPS_test_vsock_conn := $(VSOCK_SRCS) vmm/devices/virtio/queue.c vmm/core/gmem.c \
	$(DEV_SNAP_DEPS) tests/unit/virtq_driver.c
UNIT_LIBS_test_vsock_conn := -lz
FUZZ_DEPS_vsock_pkt := $(VSOCK_SRCS) vmm/devices/virtio/queue.c vmm/core/gmem.c $(DEV_SNAP_DEPS)
FUZZ_LIBS_vsock_pkt := -lz
# The device's snapshot hooks behind the real transport.
UNIT_DEPS_test_vsock_snap := $(VSOCK_SRCS) $(VIRTIO_SRCS) vmm/core/gmem.c $(DEV_SNAP_DEPS) \
	tests/unit/virtq_driver.c
UNIT_LIBS_test_vsock_snap := -lz
