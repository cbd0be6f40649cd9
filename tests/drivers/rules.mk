# Host-side test drivers (test tooling, not product).

$(BIN)/gproto-drive: $(OBJ)/host/tests/drivers/gproto_drive.o $(GPROTO_SRCS:%.c=$(OBJ)/host/%.o)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $^ $(HOST_LDFLAGS)
all: $(BIN)/gproto-drive
