# The guest kernel: tinyconfig + microvm.fragment, cached outside the checkout.

$(GUEST)/vmlinux: kernel-config/microvm.fragment kernel-config/build.sh | deps
	./kernel-config/build.sh guest $(GUEST) kernel-config/microvm.fragment
	@touch $@
$(GUEST)/bzImage: $(GUEST)/vmlinux

kernel: $(GUEST)/vmlinux
all: kernel
