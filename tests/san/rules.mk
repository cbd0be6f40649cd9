# The sanitizer builds of what only the integration tests run (vmm/machine,
# lifecycle, main, the KVM core, guest-init), and the quick integration
# subset against them (make integration-san, part of make test):
# - $(BIN_SAN)/ember-vmm: ASan+UBSan (the san flavour of every library).
# - $(BIN_SAN)/ember-init: UBSan only, and static like the real one; ASan
#   cannot link statically, and gcc has no minimal UBSan runtime, so it links
#   libubsan.a itself (the driver refuses -static with -fsanitize).
# - $(GUEST_SAN): the guest images with that ember-init; the kernels are the
#   build's (links).
# tests/san/options.c holds the sanitizers' settings. The tests find these
# through EMBER_VMM and EMBER_GUEST_DIR (tests/integration/guest.py).

BIN_SAN := $(BUILD)/bin-san
GUEST_SAN := $(BUILD)/guest-san
SAN_REPORTS := $(abspath $(BUILD))/san-reports
SAN_EXIT := 86
UBSAN_STATIC := -fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

$(OBJ)/san/tests/san/options.o: HOST_CFLAGS += -DSAN_REPORT_DIR='"$(SAN_REPORTS)"' \
	-DSAN_EXIT='"$(SAN_EXIT)"'

$(BIN_SAN)/ember-vmm.bin: $(OBJ)/san/vmm/main.o $(OBJ)/san/tests/san/options.o \
		$$(call ember_libs,san)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) $(SAN_FLAGS) -o $@ $(filter %.o,$^) $(HOST_LDFLAGS) \
		$(call ember_link,san) $(SYS_LIBS)
# The sanitizer build runs without seccomp filters: the sanitizers' runtimes
# make system calls outside ember-vmm's allowlist (LeakSanitizer starts a
# tracer thread at exit), which the filters would answer with SIGSYS. The
# filters themselves are tested on the product binary (test_jail_seccomp.py
# and every other integration test).
$(BIN_SAN)/ember-vmm: $(BIN_SAN)/ember-vmm.bin
	printf '#!/bin/sh\nexec "$$(dirname "$$0")/ember-vmm.bin" --no-seccomp "$$@"\n' >$@
	chmod 755 $@

# ember-init's libraries (guest-init/rules.mk: INIT_LIBS), built with UBSan.
$(OBJ)/ubsan-static/%.o: %.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(UBSAN_STATIC) -c -o $@ $<
ubsan_objs = $(patsubst %.c,$(OBJ)/ubsan-static/%.o,$(1))
$(LIBDIR)/ubsan-static/libinit.a: $(call ubsan_objs,$(filter-out guest-init/main.c \
	guest-init/mkinitramfs.c,$(wildcard guest-init/*.c)))
$(LIBDIR)/ubsan-static/libgproto.a: $(call ubsan_objs,$(wildcard lib/gproto/*.c))
$(LIBDIR)/ubsan-static/libemberutil.a: $(call ubsan_objs,$(wildcard lib/util/*.c))

$(BIN_SAN)/ember-init: $(OBJ)/ubsan-static/guest-init/main.o \
		$(OBJ)/ubsan-static/tests/san/options.o $(INIT_LIBS:%=$(LIBDIR)/ubsan-static/lib%.a)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(filter %.o,$^) $(STATIC_LDFLAGS) -L$(LIBDIR)/ubsan-static \
		$(INIT_LIBS:%=-l%) -l:libevent_extra.a -l:libevent_core.a -lubsan -lstdc++ -lm \
		-lpthread -ldl

$(GUEST_SAN)/%.spec: $(GUEST)/%.spec
	@mkdir -p $(@D)
	sed 's|^file /init 0755 .*|file /init 0755 $(BIN_SAN)/ember-init|' $< >$@
$(GUEST_SAN)/%.cpio: $(GUEST_SAN)/%.spec $(BIN)/mkinitramfs $(BIN_SAN)/ember-init
	$(BIN)/mkinitramfs $< $@
$(GUEST_SAN)/vmlinux $(GUEST_SAN)/bzImage: $(GUEST_SAN)/%: $(GUEST)/%
	@mkdir -p $(@D)
	ln -sf ../guest/$* $@

SAN_BUILDS := $(BIN_SAN)/ember-vmm $(addprefix $(GUEST_SAN)/,initramfs.cpio \
	initramfs-test.cpio vmlinux bzImage)
san: $(SAN_BUILDS)

# The tests marked quick, against the sanitizer builds. A sanitizer report
# fails the run even where the test passed (a report in a process the test
# did not wait for, or killed): each one is printed.
integration-san: all $(SAN_BUILDS)
	@rm -rf $(SAN_REPORTS) && mkdir -p $(SAN_REPORTS)
	@EMBER_VMM=$(abspath $(BIN_SAN))/ember-vmm EMBER_GUEST_DIR=$(abspath $(GUEST_SAN)) \
		$(PYTHON) tests/integration/run_suite.py -v -rs -m quick tests/integration; rc=$$?; \
	for r in $(SAN_REPORTS)/*; do [ -e "$$r" ] || continue; \
		echo "== sanitizer report $$r"; cat "$$r"; rc=1; done; \
	exit $$rc

.PHONY: san integration-san
