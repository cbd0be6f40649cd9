# ember-init (static, guest PID 1), the initramfs packer, and the initramfs.

# Everything but the two programs' main() is libinit (unit tests link it too).
$(eval $(call ember_lib,init,$(filter-out guest-init/main.c guest-init/mkinitramfs.c,\
	$(wildcard guest-init/*.c))))

# Lambda mode serves the Runtime API with libevent's evhttp, linked statically.
INIT_LIBS := init gproto emberutil
$(BIN)/ember-init: $(OBJ)/static/guest-init/main.o $(INIT_LIBS:%=$(LIBDIR)/static/lib%.a)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(STATIC_LDFLAGS) -L$(LIBDIR)/static $(INIT_LIBS:%=-l%) \
		-l:libevent_extra.a -l:libevent_core.a

$(BIN)/mkinitramfs: $(OBJ)/host/guest-init/mkinitramfs.o $(LIBDIR)/host/libinit.a
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $< $(HOST_LDFLAGS) -L$(LIBDIR)/host -linit

# Test guest programs (tests/guests/*.c) are static too, and go to /bin.
GUEST_PROGS := $(patsubst tests/guests/%.c,$(BIN)/guests/%,$(wildcard tests/guests/*.c))
$(BIN)/guests/%: $(OBJ)/static/tests/guests/%.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(STATIC_LDFLAGS)

# Two images. initramfs.cpio is the product's: ember-init alone, which is all
# a microVM boots (runtimes come on drives), and what the boot benchmark
# measures. initramfs-test.cpio adds the test programs under /bin; every byte
# in an initramfs costs boot time (the kernel unpacks it before /init runs).
$(GUEST)/initramfs.spec: guest-init/initramfs.spec Makefile guest-init/rules.mk
	@mkdir -p $(@D)
	sed 's|@BIN@|$(BIN)|g' $< >$@

# Depends on the programs too, so that a new tests/guests/*.c joins the image.
$(GUEST)/initramfs-test.spec: $(GUEST)/initramfs.spec $(GUEST_PROGS)
	{ cat $<; for p in $(GUEST_PROGS); do echo "file /bin/$${p##*/} 0755 $$p"; done; } >$@

$(GUEST)/%.cpio: $(GUEST)/%.spec $(BIN)/mkinitramfs $(BIN)/ember-init
	$(BIN)/mkinitramfs $< $@

initramfs: $(GUEST)/initramfs.cpio $(GUEST)/initramfs-test.cpio
all: $(BIN)/ember-init initramfs
.PHONY: initramfs
