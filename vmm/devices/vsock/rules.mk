# vsock: the virtio-vsock device with Firecracker's hybrid vsock host side (issue 5).
# VSOCK_SRCS is not linked into ember-vmm yet; the builder adds it when it attaches the device.

VSOCK_SRCS := vmm/devices/vsock/packet.c vmm/devices/vsock/conn.c vmm/devices/vsock/hybrid.c \
	vmm/devices/vsock/vsock.c

UNIT_DEPS_test_vsock_packet := vmm/devices/vsock/packet.c vmm/devices/virtio/queue.c \
	vmm/core/gmem.c lib/log.c tests/unit/virtq_driver.c
UNIT_DEPS_test_vsock_conn := $(VSOCK_SRCS) vmm/devices/virtio/queue.c vmm/core/gmem.c \
	lib/log.c tests/unit/virtq_driver.c
FUZZ_DEPS_vsock_pkt := $(VSOCK_SRCS) vmm/devices/virtio/queue.c vmm/core/gmem.c lib/log.c
