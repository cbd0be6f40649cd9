# seccomp-bpf filters of ember-vmm's threads: vmm/seccomp/allowlist.c is
# compiled to BPF at build time by seccomp-bpfgen (libseccomp), and libvmm
# carries the generated arrays (vmm/rules.mk lists the file). ember-vmm itself
# does not link libseccomp: loading a precompiled filter is one system call.

SECCOMP_BPFGEN := $(BUILD)/tools/seccomp-bpfgen
SECCOMP_BPF_C := $(BUILD)/gen/vmm/seccomp/bpf.c

$(SECCOMP_BPFGEN): $(OBJ)/host/vmm/seccomp/bpfgen.o $(OBJ)/host/vmm/seccomp/allowlist.o
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $^ $(HOST_LDFLAGS) -l:libseccomp.a

$(SECCOMP_BPF_C): $(SECCOMP_BPFGEN)
	@mkdir -p $(@D)
	$(SECCOMP_BPFGEN) $@
