# `make bench`: ember's benchmark (bench/bench.py), one run: bench/out/<date-time>/
# (every sample, machine, charts) and a dated section in bench/RESULTS.md.
# Where /work/testbox.lock exists (the shared development machine), the run
# holds it, so no other testbox runs meanwhile. BENCH_ARGS=--quick: a short run.
BENCH_LOCK ?= $(if $(wildcard /work/testbox.lock),flock /work/testbox.lock)

.PHONY: bench
bench: all runtimes
	BUILD=$(BUILD) $(BENCH_LOCK) $(PYTHON) bench/bench.py $(BENCH_ARGS)
