# cmocka unit tests, built twice: plain, and with ASan+UBSan. No /dev/kvm.
# Each links every ember library (lib/rules.mk) and the test helpers of
# tests/unit (libunitsupport); the linker takes the objects the test uses.

$(eval $(call ember_lib,unitsupport,$(filter-out tests/unit/test_%.c,$(wildcard tests/unit/*.c))))

UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
UNIT_LINK = -L$(LIBDIR)/$(1) -Wl,--start-group -lunitsupport $(EMBER_LIBS:%=-l%) -Wl,--end-group \
	-lcmocka $(SYS_LIBS)

$(BUILD)/tests/unit/%: $(OBJ)/host/tests/unit/%.o $$(call ember_libs,host)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $< $(HOST_LDFLAGS) $(call UNIT_LINK,host)
$(BUILD)/tests/unit-san/%: $(OBJ)/san/tests/unit/%.o $$(call ember_libs,san)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) $(SAN_FLAGS) -o $@ $< $(call UNIT_LINK,san)

UNIT_BINS := $(UNIT_TESTS:%=$(BUILD)/tests/unit/%) $(UNIT_TESTS:%=$(BUILD)/tests/unit-san/%)
unit: $(UNIT_BINS)
	@set -e; for t in $^; do echo "== $$t"; $$t; done
