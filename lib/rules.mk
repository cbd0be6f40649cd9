# Object rules shared by every program. Host objects are PIE; static objects
# (guest programs) are not.

$(OBJ)/host/%.o: %.c | deps
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -c -o $@ $<

$(OBJ)/static/%.o: %.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(OBJ)/san/%.o: %.c | deps
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

# The guest protocol (lib/gproto*.c) is linked by emberd (host PIE) and by
# ember-init (static); `all` builds it both ways so either flavour's warnings
# show up even before a program links it.
GPROTO_SRCS := lib/gproto.c lib/gproto_reader.c
all: $(GPROTO_SRCS:%.c=$(OBJ)/host/%.o) $(GPROTO_SRCS:%.c=$(OBJ)/static/%.o)

UNIT_DEPS_test_gproto := $(GPROTO_SRCS)
FUZZ_DEPS_gproto := $(GPROTO_SRCS)
