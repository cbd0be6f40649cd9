# emberd (the Lambda API control plane and the invoker), the `ember` CLI and
# ember-intake (one upload's zip to its code image).
# Everything under api/ except the three programs' main() is the library
# libemberapi, which the unit tests link by name; new files join it by
# being there.

EMBERD_MAINS := api/emberd/main.c api/cli/main.c api/intake/main.c
$(eval $(call ember_lib,emberapi,$(filter-out $(EMBERD_MAINS),$(shell find api -name '*.c'))))

$(BIN)/emberd: $(OBJ)/host/api/emberd/main.o $$(call ember_libs,host)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $< $(HOST_LDFLAGS) $(call ember_link,host) $(SYS_LIBS)

$(BIN)/ember: $(OBJ)/host/api/cli/main.o $$(call ember_libs,host)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $< $(HOST_LDFLAGS) $(call ember_link,host) $(SYS_LIBS)

# ember-intake: one upload's zip to its code image, in a process of its own
# (api/code/intake.h), so that emberd never maps libarchive.
# It alone links libseccomp and libcap-ng (api/intake/confine.h).
$(BIN)/ember-intake: $(OBJ)/host/api/intake/main.o $$(call ember_libs,host)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $< $(HOST_LDFLAGS) $(call ember_link,host) $(SYS_LIBS) \
		-l:libseccomp.a -l:libcap-ng.a

all: $(BIN)/emberd $(BIN)/ember $(BIN)/ember-intake
