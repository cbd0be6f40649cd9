# make stress: the vsock-load probe under ember-vmm and QEMU microvm side by side, STRESS_RUNS
# times each (tests/stress/vsock_load.py says what it does and prints). Not part of make test:
# a pair of runs takes about 5 s in the testbox, plus its boot.
STRESS_RUNS ?= 20
STRESS_VCPUS ?= 2

.PHONY: stress
stress: all
	BUILD=$(BUILD) $(PYTHON) tests/stress/vsock_load.py --runs $(STRESS_RUNS) --vcpus $(STRESS_VCPUS)
