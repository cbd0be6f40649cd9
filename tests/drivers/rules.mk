# Host-side test drivers (test tooling, not product).

$(BIN)/gproto-drive: $(OBJ)/host/tests/drivers/gproto_drive.o $(LIBDIR)/host/libgproto.a \
		$(LIBDIR)/host/libemberutil.a
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $< $(HOST_LDFLAGS) -L$(LIBDIR)/host -lgproto -lemberutil
all: $(BIN)/gproto-drive

# seccomp-probe: test only. It links libvmm and puts on ember-vmm's own thread
# filters, then makes one system call (test_jail_seccomp.py).
$(BIN)/seccomp-probe: $(OBJ)/host/tests/drivers/seccomp_probe.o $$(call ember_libs,host)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $< $(HOST_LDFLAGS) $(call ember_link,host) $(SYS_LIBS)
all: $(BIN)/seccomp-probe

# emberd's benchmark stand-in for ember-vmm and its guest (bench/; never in behaviour tests).
$(BIN)/standin-vmm: $(OBJ)/host/tests/drivers/standin_vmm.o $$(call ember_libs,host)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $< $(HOST_LDFLAGS) $(call ember_link,host) $(SYS_LIBS)
all: $(BIN)/standin-vmm
