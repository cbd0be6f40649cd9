# libFuzzer harnesses (tests/fuzz/fuzz_<name>.c), one per untrusted input.
# `make fuzz-replay` (part of `make test`) builds each with gcc + ASan/UBSan and
# tests/fuzz/replay.c, and runs it over tests/fuzz/corpus/<name>/: no clang
# needed. `make fuzz` builds real libFuzzer binaries with clang, when clang is
# installed, and fuzzes each harness for FUZZ_SECONDS (new inputs go to
# build/fuzz-corpus/<name>/; copy the interesting ones into the corpus).
# `make fuzz-coverage` lists the functions each corpus reaches (README.md).
# Each harness links every ember library, like the unit tests. Corpus paths
# are absolute, because a harness may chdir into its own scratch directory.

FUZZ_HARNESSES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60
CLANG ?= clang
# -fno-sanitize-recover=all: a UBSan finding stops the fuzzer and saves the
# input, as an ASan one does (by default clang's UBSan reports and goes on).
FUZZ_CFLAGS := $(filter-out -fstack-clash-protection,$(HOST_CFLAGS)) -g -O1 \
	-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

$(OBJ)/fuzz/%.o: %.c
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -c -o $@ $<

$(BUILD)/tests/fuzz-replay/%: $(OBJ)/san/tests/fuzz/fuzz_%.o $(OBJ)/san/tests/fuzz/replay.o \
		$$(call ember_libs,san)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) $(SAN_FLAGS) -o $@ $(filter %.o,$^) $(call ember_link,san) $(SYS_LIBS)
$(BUILD)/tests/fuzz/%: $(OBJ)/fuzz/tests/fuzz/fuzz_%.o $$(call ember_libs,fuzz)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(call ember_link,fuzz) $(SYS_LIBS)

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

# Which functions of its target files each harness reaches when its corpus
# is replayed (gcov; tests/fuzz/coverage.py lists the targets). The replay
# binaries are built again with --coverage and no optimisation, without the
# sanitizers, in $(BUILD)/fuzz-cov.
FUZZ_COV := $(BUILD)/fuzz-cov
fuzz-coverage:
	$(MAKE) --no-print-directory BUILD=$(FUZZ_COV) SAN_FLAGS="--coverage -O0 -U_FORTIFY_SOURCE" \
		$(FUZZ_HARNESSES:%=$(FUZZ_COV)/tests/fuzz-replay/%)
	$(PYTHON) tests/fuzz/coverage.py $(FUZZ_COV) $(FUZZ_HARNESSES)

.PHONY: fuzz-coverage
