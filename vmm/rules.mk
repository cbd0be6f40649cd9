# ember-vmm: one KVM microVM per process. Everything under vmm/ except main()
# is the library libvmm, which the unit tests, fuzz harnesses and test
# programs link by name.

$(eval $(call ember_lib,vmm,$(filter-out vmm/main.c,$(shell find vmm -name '*.c'))))

# libevent (evhttp) and zlib are linked in statically: every microVM starts
# with an exec of ember-vmm, and each shared library costs that exec its
# mappings and page faults (0.3 ms of ~1.3 ms on the PVM host; bench/RESULTS.md).
# Debian ships no static cJSON, so it and libc stay shared.
$(BIN)/ember-vmm: $(OBJ)/host/vmm/main.o $$(call ember_libs,host)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $< $(HOST_LDFLAGS) $(call ember_link,host) $(SYS_LIBS)

all: $(BIN)/ember-vmm
