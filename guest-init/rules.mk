# ember-init (static, guest PID 1), the initramfs packer, and the initramfs.

# Lambda mode serves the Runtime API with libevent's evhttp, linked statically.
INIT_SRCS := guest-init/main.c guest-init/cmdline.c guest-init/lambda.c \
	guest-init/runtime_api.c guest-init/bootstrap.c guest-init/world.c lib/log.c \
	lib/gproto.c lib/gproto_reader.c
INIT_LIBS := -l:libevent_extra.a -l:libevent_core.a
$(BIN)/ember-init: $(INIT_SRCS:%.c=$(OBJ)/static/%.o)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(STATIC_LDFLAGS) $(INIT_LIBS)

$(BIN)/mkinitramfs: $(OBJ)/host/guest-init/mkinitramfs.o $(OBJ)/host/guest-init/cpio.o
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $^ $(HOST_LDFLAGS)

# Test guest programs (tests/guests/*.c) are static too, and go to /bin.
GUEST_PROGS := $(patsubst tests/guests/%.c,$(BIN)/guests/%,$(wildcard tests/guests/*.c))
$(BIN)/guests/%: $(OBJ)/static/tests/guests/%.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(STATIC_LDFLAGS)

# Depends on the programs too, so that a new tests/guests/*.c joins the image.
$(GUEST)/initramfs.spec: guest-init/initramfs.spec Makefile guest-init/rules.mk $(GUEST_PROGS)
	@mkdir -p $(@D)
	{ sed 's|@BIN@|$(BIN)|g' $<; \
	  for p in $(GUEST_PROGS); do echo "file /bin/$${p##*/} 0755 $$p"; done; } >$@

$(GUEST)/initramfs.cpio: $(GUEST)/initramfs.spec $(BIN)/mkinitramfs $(BIN)/ember-init $(GUEST_PROGS)
	$(BIN)/mkinitramfs $< $@

initramfs: $(GUEST)/initramfs.cpio
all: $(BIN)/ember-init $(GUEST)/initramfs.cpio
.PHONY: initramfs
