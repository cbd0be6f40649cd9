# pytest integration suites. The `kvm` fixture (conftest.py) decides where
# KVM tests run: directly on hardware KVM, or in the testbox.

# run_suite.py runs pytest, then re-runs once the tests that a known emulator
# fault in the testbox's L1 took down (and nothing else; see its header).
integration: all
	$(PYTHON) tests/integration/run_suite.py -v -rs tests/integration

# snap-roundtrip: save a fresh VM's vCPU and VM state, restore it into a
# second VM, save again, compare (test_snap_state.py runs it where KVM is; no
# guest code runs).
$(BIN)/snap-roundtrip: $(OBJ)/host/tests/integration/snap_roundtrip.o $$(call ember_libs,host)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $< $(HOST_LDFLAGS) $(call ember_link,host) $(SYS_LIBS)
all: $(BIN)/snap-roundtrip
