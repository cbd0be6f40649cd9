# Host-side test drivers (test tooling, not product).

$(BIN)/gproto-drive: $(OBJ)/host/tests/drivers/gproto_drive.o $(LIBDIR)/host/libgproto.a \
		$(LIBDIR)/host/libemberutil.a
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $< $(HOST_LDFLAGS) -L$(LIBDIR)/host -lgproto -lemberutil
all: $(BIN)/gproto-drive
