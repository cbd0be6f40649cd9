# snapshot: the state file format and the vCPU/VM/config state (issue 8).
# ember-vmm links SNAP_SRCS (the API wiring comes later); the state file's CRC is zlib's crc32()
# (zlib joins ember-vmm's link in vmm/rules.mk).

SNAP_SRCS := $(addprefix vmm/snapshot/,format.c dev.c vcpu_state.c vm_state.c config_state.c \
	state.c)
$(BIN)/ember-vmm: $(SNAP_SRCS:%.c=$(OBJ)/host/%.o)
# The Uffd memory backend (uffd.h): ember-vmm only.
$(BIN)/ember-vmm: $(OBJ)/host/vmm/snapshot/uffd.o

UNIT_DEPS_test_snap_format := vmm/snapshot/format.c vmm/snapshot/dev.c lib/log.c
UNIT_LIBS_test_snap_format := -lz
UNIT_DEPS_test_snap_state := $(SNAP_SRCS) vmm/config.c lib/log.c
UNIT_LIBS_test_snap_state := -lz
FUZZ_DEPS_snap_reader := $(SNAP_SRCS) lib/log.c
FUZZ_LIBS_snap_reader := -lz

# snap-roundtrip: save a fresh VM's vCPU and VM state, restore it into a
# second VM, save again, compare (tests/integration/test_snap_state.py runs it
# where KVM is; no guest code runs).
SNAP_RT_SRCS := tests/integration/snap_roundtrip.c $(SNAP_SRCS) vmm/config.c \
	$(addprefix vmm/core/,kvm.c vm.c vcpu.c gmem.c bus.c) \
	$(addprefix vmm/arch/x86_64/,cpuid.c cpu.c pagetable.c) lib/log.c
$(BIN)/snap-roundtrip: $(SNAP_RT_SRCS:%.c=$(OBJ)/host/%.o)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $^ $(HOST_LDFLAGS) -lpthread -lz
all: $(BIN)/snap-roundtrip
UNIT_DEPS_test_snap_uffd := vmm/snapshot/uffd.c vmm/core/gmem.c lib/log.c
UNIT_LIBS_test_snap_uffd := -lpthread
