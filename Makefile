# ember: top-level build. `make test` builds what it needs and runs every suite.
# Each subsystem adds its rules in its own <dir>/rules.mk, included below.

.DEFAULT_GOAL := all
SHELL := /bin/bash

BUILD ?= build
BIN := $(BUILD)/bin
OBJ := $(BUILD)/obj
GUEST := $(BUILD)/guest
export EMBER_CACHE ?= $(HOME)/.cache/ember

CC ?= gcc
# Debian's python3, which has python3-pytest (a python3 earlier in PATH may not).
PYTHON := /usr/bin/python3
WARN := -Wall -Wextra -Wshadow -Wvla -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes
ifneq ($(CI),)
WERROR ?= 1
endif
ifeq ($(WERROR),1)
WARN += -Werror
endif
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection -fcf-protection
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 $(WARN) $(HARDEN) -D_GNU_SOURCE -I. -MMD -MP
HOST_CFLAGS := $(CFLAGS) -fPIE
HOST_LDFLAGS := -pie -Wl,-z,relro,-z,now
# ember-init is PID 1 in the guest: static, so the initramfs needs no libc.
STATIC_LDFLAGS := -static -Wl,-z,relro,-z,now

# Sanitizer build of the unit tests (make test runs both).
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

.PHONY: all deps test unit unit-valgrind integration integration-san format format-check clean distclean run kernel fuzz help
all: deps

help:
	@echo "make deps         install build and test dependencies (Debian 12, root)"
	@echo "make              build binaries, guest kernel and initramfs"
	@echo "make test         unit tests (plain, ASan+UBSan, valgrind), fuzz corpus replay, integration"
	@echo "                  tests, and the quick ones again against ASan+UBSan builds (integration-san)"
	@echo "make runtimes     build the runtime images (provided, python, nodejs) from Debian packages"
	@echo "make run          start emberd, deploy examples/, invoke them cold, restored and warm"
	@echo "make format-check check the C sources against .clang-format"
	@echo "make fuzz-coverage which functions each fuzz corpus reaches (tests/fuzz/README.md)"

# Packages the build and the tests need, installed by name (see deps.sh).
deps:
	@./tools/deps.sh

# lib/rules.mk first: it has the object rules and ember_lib, which the others
# use. Link rules list libraries with $$(call ember_libs,...) (second
# expansion), so the order of the other rules.mk files does not matter.
.SECONDEXPANSION:
# Objects made through pattern-rule chains (unit tests, test guests) are kept:
# make would otherwise delete them as intermediates and rebuild them later.
.SECONDARY:
include lib/rules.mk
include $(filter-out lib/rules.mk,$(wildcard */rules.mk */*/rules.mk */*/*/rules.mk))

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)

C_SOURCES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(C_SOURCES)
format-check:
	@clang-format --dry-run --Werror $(C_SOURCES) && echo "format-check: ok"

test: deps all unit unit-valgrind fuzz-replay integration integration-san

clean:
	rm -rf $(BUILD)
distclean: clean
	rm -rf $(EMBER_CACHE)/kernel $(EMBER_CACHE)/kbuild

# emberd with examples/ deployed and invoked (in the testbox where KVM cannot boot Linux).
run: all runtimes
	$(PYTHON) tools/run-ember
