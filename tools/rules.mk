# Small user tools shipped with ember.

# ember-snap-merge: a Diff snapshot's memory onto its base (issue 8).
$(BIN)/ember-snap-merge: $(OBJ)/host/tools/snap_merge.o
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $^ $(HOST_LDFLAGS)

all: $(BIN)/ember-snap-merge
