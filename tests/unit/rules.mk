# cmocka unit tests, built twice: plain, and with ASan+UBSan. No /dev/kvm.
# Each links every ember library (lib/rules.mk) and the test helpers of
# tests/unit (libunitsupport); the linker takes the objects the test uses.
# `make unit` runs both builds; `make unit-valgrind` runs the plain build
# under valgrind's memcheck (uninitialised reads, definite leaks).

$(eval $(call ember_lib,unitsupport,$(filter-out tests/unit/test_%.c,$(wildcard tests/unit/*.c))))

# The checkout's absolute path, so a test finds its data (tests/unit/data,
# tests/fuzz/corpus) from any working directory.
$(OBJ)/host/tests/unit/%.o $(OBJ)/san/tests/unit/%.o: HOST_CFLAGS += -DEMBER_SRC_DIR='"$(CURDIR)"'

UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
UNIT_LINK = $(UNIT_LDFLAGS) -L$(LIBDIR)/$(1) -Wl,--start-group -lunitsupport $(EMBER_LIBS:%=-l%) -Wl,--end-group \
	-lcmocka $(SYS_LIBS)

$(BUILD)/tests/unit/%: $(OBJ)/host/tests/unit/%.o $$(call ember_libs,host)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $< $(HOST_LDFLAGS) $(call UNIT_LINK,host)
$(BUILD)/tests/unit-san/%: $(OBJ)/san/tests/unit/%.o $$(call ember_libs,san)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) $(SAN_FLAGS) -o $@ $< $(call UNIT_LINK,san)

# test_work opens its gate from inside work_pool_free(), at the first join.
$(BUILD)/tests/unit/test_work $(BUILD)/tests/unit-san/test_work: UNIT_LDFLAGS = -Wl,--wrap=pthread_join

UNIT_BINS := $(UNIT_TESTS:%=$(BUILD)/tests/unit/%) $(UNIT_TESTS:%=$(BUILD)/tests/unit-san/%)
unit: $(UNIT_BINS)
	@set -e; for t in $^; do echo "== $$t"; $$t; done

# Every plain unit test under memcheck, two at a time; a test's output is
# shown when it fails (its log stays in $(BUILD)/tests/unit-valgrind/).
# An uninitialised read that decides anything, an invalid access or a
# definitely lost block fails the run.
VALGRIND := valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite
VALGRIND_JOBS ?= 2
# Debian 12's valgrind (3.19) answers openat2(2) with ENOSYS, so the tests of
# code that confines paths with it run only natively and under ASan (`make unit`).
# test_rapi_listen fills the descriptor table up to RLIMIT_NOFILE, which
# valgrind virtualises (its own descriptors sit above the client's limit).
UNIT_NO_VALGRIND := test_snap_paths test_rapi_listen
VALGRIND_TESTS := $(filter-out $(UNIT_NO_VALGRIND),$(UNIT_TESTS))
unit-valgrind: $(VALGRIND_TESTS:%=$(BUILD)/tests/unit/%)
	@mkdir -p $(BUILD)/tests/unit-valgrind
	@printf '%s\n' $(VALGRIND_TESTS) | xargs -P$(VALGRIND_JOBS) -I{} $(SHELL) -c \
		'log=$(BUILD)/tests/unit-valgrind/{}.log; \
		if $(VALGRIND) $(BUILD)/tests/unit/{} >$$log 2>&1; then echo "valgrind ok: {}"; \
		else cat $$log; echo "valgrind FAILED: {} (log: $$log)"; exit 255; fi'

.PHONY: unit unit-valgrind
