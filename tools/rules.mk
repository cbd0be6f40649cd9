# Small user tools shipped with ember.

# ember-snap-merge: a Diff snapshot's memory onto its base (issue 8).
$(BIN)/ember-snap-merge: $(OBJ)/host/tools/snap_merge.o
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $^ $(HOST_LDFLAGS)

all: $(BIN)/ember-snap-merge

# make install [PREFIX=/usr/local] [DESTDIR=]: emberd and its VM's files keep
# the build tree's layout under $(PREFIX)/lib/ember (emberd finds them next to
# itself), `ember` and `emberd` are linked into $(PREFIX)/bin, and the unit goes
# to $(PREFIX)/lib/systemd/system with its paths filled in.
PREFIX ?= /usr/local
INSTALL_LIB := $(PREFIX)/lib/ember
INSTALL_BINS := emberd ember ember-intake ember-vmm ember-jailer ember-snap-merge
.PHONY: install
install: all runtimes
	install -d $(DESTDIR)$(INSTALL_LIB)/bin $(DESTDIR)$(INSTALL_LIB)/guest \
		$(DESTDIR)$(INSTALL_LIB)/runtimes $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0755 $(INSTALL_BINS:%=$(BIN)/%) $(DESTDIR)$(INSTALL_LIB)/bin/
	install -m 0644 $(GUEST)/vmlinux $(GUEST)/initramfs.cpio $(DESTDIR)$(INSTALL_LIB)/guest/
	install -m 0644 $(BUILD)/runtimes/runtimes.json $(BUILD)/runtimes/*.erofs \
		$(DESTDIR)$(INSTALL_LIB)/runtimes/
	ln -sf ../lib/ember/bin/emberd $(DESTDIR)$(PREFIX)/bin/emberd
	ln -sf ../lib/ember/bin/ember $(DESTDIR)$(PREFIX)/bin/ember
	sed 's|@LIBEXECDIR@|$(INSTALL_LIB)|g' tools/ember.service \
		>$(DESTDIR)$(PREFIX)/lib/systemd/system/ember.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/ember.service
