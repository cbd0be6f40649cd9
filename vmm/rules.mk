# ember-vmm: one KVM microVM per process. Everything under vmm/ except main()
# is the library libvmm, which the unit tests, fuzz harnesses and test
# programs link by name.

# The seccomp filters are generated from vmm/seccomp/allowlist.c (vmm/seccomp/rules.mk).
$(eval $(call ember_lib,vmm,$(filter-out vmm/main.c vmm/jail/% vmm/seccomp/bpfgen.c,\
	$(shell find vmm -name '*.c')) $(BUILD)/gen/vmm/seccomp/bpf.c))

# libevent (evhttp) and zlib are linked in statically: every microVM starts
# with an exec of ember-vmm, and each shared library costs that exec its
# mappings and page faults (0.3 ms of ~1.3 ms on the PVM host; bench/RESULTS.md).
# Debian ships no static cJSON, so it and libc stay shared.
VMM_LIBS := vmm fcapi snapfile uffdmsg emberutil
$(BIN)/ember-vmm: $(OBJ)/host/vmm/main.o $(VMM_LIBS:%=$(LIBDIR)/host/lib%.a)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $< $(HOST_LDFLAGS) -L$(LIBDIR)/host -Wl,--start-group \
		$(VMM_LIBS:%=-l%) -Wl,--end-group $(SYS_LIBS)

all: $(BIN)/ember-vmm
