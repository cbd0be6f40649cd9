# ember-jailer: Firecracker's jailer for ember-vmm (vmm/jail/README.md).
# Everything but main() is the library libjail, which the unit tests link.
# It is linked statically (glibc, libcap-ng): every jailed VM starts with two
# execs, the jailer's and the VMM's, and a static binary skips the dynamic
# loader's work on the first (bench/RESULTS.md).

$(eval $(call ember_lib,jail,$(filter-out vmm/jail/main.c,$(wildcard vmm/jail/*.c))))

$(BIN)/ember-jailer: $(OBJ)/static/vmm/jail/main.o $(LIBDIR)/static/libjail.a \
		$(LIBDIR)/static/libemberutil.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(STATIC_LDFLAGS) -L$(LIBDIR)/static -ljail -lemberutil \
		-l:libcap-ng.a

all: $(BIN)/ember-jailer
