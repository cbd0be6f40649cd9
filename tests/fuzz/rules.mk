# libFuzzer harnesses (tests/fuzz/fuzz_<name>.c), one per untrusted input.
# `make fuzz-replay` (part of `make test`) builds each with gcc + ASan/UBSan and
# tests/fuzz/replay.c, and runs it over tests/fuzz/corpus/<name>/: no clang
# needed. `make fuzz` builds real libFuzzer binaries with clang, when clang is
# installed, and fuzzes each harness for FUZZ_SECONDS (new inputs go to
# build/fuzz-corpus/<name>/; copy the interesting ones into the corpus).
# Each harness lists the product sources it links in FUZZ_DEPS_<name>, and
# extra libraries (-l flags) in FUZZ_LIBS_<name>. Corpus paths are absolute,
# because a harness may chdir into its own scratch directory.

FUZZ_DEPS_kernel_loader := vmm/arch/x86_64/loader.c vmm/arch/x86_64/elf.c \
	vmm/arch/x86_64/bzimage.c vmm/arch/x86_64/bootparams.c vmm/core/gmem.c \
	vmm/core/filecopy.c lib/log.c
FUZZ_LIBS_kernel_loader := -lpthread

FUZZ_HARNESSES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60
CLANG ?= clang
FUZZ_CFLAGS := $(filter-out -fstack-clash-protection,$(HOST_CFLAGS)) -g -O1 \
	-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer

$(OBJ)/fuzz/%.o: %.c
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -c -o $@ $<

define fuzz_rule
$(BUILD)/tests/fuzz-replay/$(1): $(OBJ)/san/tests/fuzz/fuzz_$(1).o $(OBJ)/san/tests/fuzz/replay.o \
		$$(FUZZ_DEPS_$(1):%.c=$(OBJ)/san/%.o)
	@mkdir -p $$(@D)
	$$(CC) $$(HOST_CFLAGS) $$(SAN_FLAGS) -o $$@ $$^ $$(FUZZ_LIBS_$(1))
$(BUILD)/tests/fuzz/$(1): $(OBJ)/fuzz/tests/fuzz/fuzz_$(1).o $$(FUZZ_DEPS_$(1):%.c=$(OBJ)/fuzz/%.o)
	@mkdir -p $$(@D)
	$(CLANG) $$(FUZZ_CFLAGS) -fsanitize=fuzzer -o $$@ $$^ $$(FUZZ_LIBS_$(1))
endef
$(foreach h,$(FUZZ_HARNESSES),$(eval $(call fuzz_rule,$(h))))

fuzz-replay: $(FUZZ_HARNESSES:%=$(BUILD)/tests/fuzz-replay/%)
	@set -e; for h in $(FUZZ_HARNESSES); do \
		$(BUILD)/tests/fuzz-replay/$$h tests/fuzz/corpus/$$h; done

fuzz:
	@if ! command -v $(CLANG) >/dev/null; then \
		echo "fuzz: $(CLANG) is not installed; 'make fuzz-replay' runs the corpora"; exit 0; fi; \
	set -e; for h in $(FUZZ_HARNESSES); do \
		$(MAKE) --no-print-directory $(BUILD)/tests/fuzz/$$h; \
		mkdir -p $(BUILD)/fuzz-corpus/$$h; \
		$(BUILD)/tests/fuzz/$$h -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
			-rss_limit_mb=2048 $(abspath $(BUILD))/fuzz-corpus/$$h \
			$(abspath tests/fuzz/corpus)/$$h; \
	done

.PHONY: fuzz-replay fuzz
