# uffd-handler: the example page-fault handler for ember-vmm's Uffd snapshot
# memory backend (issue 8; tests/integration/test_snapshot.py runs it).

$(BIN)/uffd-handler: $(OBJ)/host/tools/uffd-handler/uffd_handler.o $(LIBDIR)/host/libuffdmsg.a
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $< $(HOST_LDFLAGS) -L$(LIBDIR)/host -luffdmsg -lcjson
all: $(BIN)/uffd-handler
