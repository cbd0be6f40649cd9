# cmocka unit tests, built twice: plain, and with ASan+UBSan. No /dev/kvm.
# Each test lists the product sources it links in UNIT_DEPS_<test>.

UNIT_DEPS_test_cpio := guest-init/cpio.c
UNIT_DEPS_test_cmdline := guest-init/cmdline.c

UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))

define unit_rule
$(BUILD)/tests/unit/$(1): $(OBJ)/host/tests/unit/$(1).o $$(UNIT_DEPS_$(1):%.c=$(OBJ)/host/%.o)
	@mkdir -p $$(@D)
	$$(CC) $$(HOST_CFLAGS) -o $$@ $$^ $$(HOST_LDFLAGS) -lcmocka $$(UNIT_LIBS_$(1))
$(BUILD)/tests/unit-san/$(1): $(OBJ)/san/tests/unit/$(1).o $$(UNIT_DEPS_$(1):%.c=$(OBJ)/san/%.o)
	@mkdir -p $$(@D)
	$$(CC) $$(HOST_CFLAGS) $$(SAN_FLAGS) -o $$@ $$^ -lcmocka $$(UNIT_LIBS_$(1))
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rule,$(t))))

UNIT_BINS := $(UNIT_TESTS:%=$(BUILD)/tests/unit/%) $(UNIT_TESTS:%=$(BUILD)/tests/unit-san/%)
unit: $(UNIT_BINS)
	@set -e; for t in $^; do echo "== $$t"; $$t; done
