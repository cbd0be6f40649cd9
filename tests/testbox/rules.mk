# The testbox: L1 kernel, L1 initramfs (busybox + init + agent).

TESTBOX := $(BUILD)/testbox
L1_FRAGMENTS := kernel-config/microvm.fragment kernel-config/testbox-l1.fragment

$(TESTBOX)/bzImage: $(L1_FRAGMENTS) kernel-config/build.sh | deps
	./kernel-config/build.sh testbox-l1 $(TESTBOX) $(L1_FRAGMENTS)
	@touch $@

$(BIN)/testbox-agent: $(OBJ)/static/tests/testbox/agent.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(STATIC_LDFLAGS)

$(TESTBOX)/initramfs.spec: tests/testbox/initramfs.spec
	@mkdir -p $(@D)
	sed 's|@BIN@|$(BIN)|g' $< >$@

$(TESTBOX)/initramfs.cpio: $(TESTBOX)/initramfs.spec $(BIN)/mkinitramfs $(BIN)/testbox-agent tests/testbox/init.sh
	$(BIN)/mkinitramfs $< $@

testbox: $(TESTBOX)/bzImage $(TESTBOX)/initramfs.cpio
all: testbox

testbox-shell: all
	tests/testbox/run --shell

.PHONY: testbox testbox-shell

# A tiny KVM check, run inside L1 (or on any KVM host).
$(BIN)/kvm-smoke: $(OBJ)/host/tests/testbox/kvm_smoke.o
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $^ $(HOST_LDFLAGS)
all: $(BIN)/kvm-smoke
