# ember-vmm: one KVM microVM per process (issue 4).

VMM_ARCH_SRCS := $(addprefix vmm/arch/x86_64/,loader.c elf.c bzimage.c bootparams.c mptable.c \
	pagetable.c cpuid.c cpu.c)
VMM_CORE_SRCS := $(addprefix vmm/core/,gmem.c filecopy.c bus.c evloop.c kvm.c vm.c vcpu.c)
VMM_DEV_SRCS := $(addprefix vmm/devices/,serial.c i8042.c boot_timer.c)
VMM_SRCS := vmm/main.c vmm/vmm.c vmm/vmm_snapshot.c vmm/virtio_slots.c vmm/config.c vmm/control.c vmm/lifecycle.c \
	vmm/metrics.c $(VMM_CORE_SRCS) $(VMM_ARCH_SRCS) \
	$(VMM_DEV_SRCS) lib/log.c lib/uds.c
# The API, virtio and vsock sources join this link from their own rules.mk,
# which make reads after this file (prerequisites are expanded as they are read).

# libevent (evhttp) and zlib are linked in statically: every microVM starts
# with an exec of ember-vmm, and each shared library costs that exec its
# mappings and page faults (0.3 ms of ~1.3 ms on the PVM host; bench/RESULTS.md).
# Debian ships no static cJSON, so it and libc stay shared.
VMM_LIBS := -l:libevent_extra.a -l:libevent_core.a -l:libz.a -lcjson -lpthread
$(BIN)/ember-vmm: $(VMM_SRCS:%.c=$(OBJ)/host/%.o)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $^ $(HOST_LDFLAGS) $(VMM_LIBS)

all: $(BIN)/ember-vmm

# Unit tests (tests/unit/rules.mk builds them; no /dev/kvm needed).
UNIT_DEPS_test_gmem := vmm/core/gmem.c
UNIT_DEPS_test_loader := vmm/arch/x86_64/loader.c vmm/arch/x86_64/elf.c \
	vmm/arch/x86_64/bzimage.c vmm/core/gmem.c vmm/core/filecopy.c
UNIT_LIBS_test_loader := -lpthread
UNIT_DEPS_test_filecopy := vmm/core/filecopy.c
UNIT_LIBS_test_filecopy := -lpthread
UNIT_DEPS_test_bootparams := vmm/arch/x86_64/bootparams.c vmm/core/gmem.c
UNIT_DEPS_test_mptable := vmm/arch/x86_64/mptable.c vmm/core/gmem.c
UNIT_DEPS_test_cpu := vmm/arch/x86_64/cpu.c vmm/arch/x86_64/pagetable.c vmm/core/gmem.c lib/log.c
UNIT_DEPS_test_cpuid := vmm/arch/x86_64/cpuid.c
UNIT_DEPS_test_log := lib/log.c
UNIT_DEPS_test_bus := vmm/core/bus.c
# serial and i8042 carry snapshot hooks, written through the snapshot format.
UNIT_DEPS_test_serial := vmm/devices/serial.c vmm/snapshot/format.c vmm/snapshot/dev.c lib/log.c
UNIT_LIBS_test_serial := -lz
UNIT_DEPS_test_i8042 := vmm/devices/i8042.c vmm/snapshot/format.c vmm/snapshot/dev.c lib/log.c
UNIT_LIBS_test_i8042 := -lz
UNIT_DEPS_test_config := vmm/config.c
UNIT_DEPS_test_control := vmm/control.c vmm/metrics.c vmm/config.c
UNIT_LIBS_test_control := -lcjson -lpthread
