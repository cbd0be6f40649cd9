# The guest kernel: tinyconfig + microvm.fragment + guest.fragment, cached
# outside the checkout. (The testbox's L1 kernel shares microvm.fragment.)

GUEST_FRAGMENTS := kernel-config/microvm.fragment kernel-config/guest.fragment

$(GUEST)/vmlinux: $(GUEST_FRAGMENTS) kernel-config/build.sh | deps
	./kernel-config/build.sh guest $(GUEST) $(GUEST_FRAGMENTS)
	@touch $@
$(GUEST)/bzImage: $(GUEST)/vmlinux

kernel: $(GUEST)/vmlinux
all: kernel
