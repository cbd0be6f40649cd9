# Object rules and static libraries shared by every program.
#
# Objects come in four flavours: host (PIE, the host programs), static
# (non-PIE, ember-init and the test guests), san (ASan+UBSan: unit tests and
# fuzz replay) and fuzz (clang's libFuzzer builds). A library is one archive
# per flavour, $(LIBDIR)/<flavour>/lib<name>.a, declared once with
# $(call ember_lib,NAME,SOURCES); programs and tests link libraries by name
# and the linker takes only the objects they use.

$(OBJ)/host/%.o: %.c | deps
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -c -o $@ $<

$(OBJ)/static/%.o: %.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(OBJ)/san/%.o: %.c | deps
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

LIBDIR := $(BUILD)/lib
LIB_FLAVOURS := host static san fuzz
EMBER_LIBS :=

define ember_lib
EMBER_LIBS += $(1)
$(foreach f,$(LIB_FLAVOURS),$(LIBDIR)/$(f)/lib$(1).a: $(patsubst %.c,$(OBJ)/$(f)/%.o,$(2))
)
endef

$(LIBDIR)/%.a:
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

# The contracts between processes (ARCHITECTURE.md), and small helpers: each
# folder lib/<name>/ is the library lib<name>, except lib/util/, which is
# libemberutil (glibc has a libutil).
$(eval $(call ember_lib,emberutil,$(wildcard lib/util/*.c)))
$(foreach d,$(filter-out util,$(patsubst lib/%/,%,$(wildcard lib/*/))),\
	$(eval $(call ember_lib,$(d),$(wildcard lib/$(d)/*.c))))

# Every ember library of one flavour, in one link group (so their order does
# not matter), and the system libraries they use. Programs that need less name
# their libraries themselves (ember-init).
ember_libs = $(EMBER_LIBS:%=$(LIBDIR)/$(1)/lib%.a)
ember_link = -L$(LIBDIR)/$(1) -Wl,--start-group $(EMBER_LIBS:%=-l%) -Wl,--end-group
# --as-needed: a program records only the shared libraries it uses (each one
# costs every exec of ember-vmm its mappings).
SYS_LIBS := -l:libevent_extra.a -l:libevent_core.a -l:libz.a -Wl,--as-needed -lcjson -lsqlite3 \
	-lcrypto -larchive -lcurl -lpthread -Wl,--no-as-needed

# The guest protocol is linked by emberd (host PIE) and by ember-init (static);
# `all` builds it both ways so either flavour's warnings show.
all: $(LIBDIR)/host/libgproto.a $(LIBDIR)/static/libgproto.a
