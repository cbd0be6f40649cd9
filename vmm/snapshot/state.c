/* snap state: save, restore, encode and decode the whole VMM state file (see state.h). */
#include "vmm/snapshot/state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/snapshot/dev.h"
#include "lib/util/log.h"

static const uint32_t known_tags[] = {
	SNAP_TAG_CONFIG,   SNAP_TAG_MACHINE,   SNAP_TAG_VM,	   SNAP_TAG_VCPU,
	SNAP_TAG_DEV_MMIO, SNAP_TAG_DEV_BLK,   SNAP_TAG_DEV_VSOCK, SNAP_TAG_DEV_RNG,
	SNAP_TAG_DEV_UART, SNAP_TAG_DEV_I8042,
};

void snap_state_free(struct snap_state *s)
{
	free(s->vcpus);
	s->vcpus = NULL;
	s->nvcpus = 0;
}

int snap_state_save(struct vm *vm, struct vcpu *const *vcpus, unsigned n, const struct gmem *gm,
		    const struct vm_config *cfg, struct snap_state *out)
{
	struct cpu_msr_list *msrs = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	if (n == 0 || n > SNAP_MAX_VCPUS)
		return -EINVAL;
	ret = snap_config_from(cfg, &out->config);
	if (ret < 0)
		return ret;
	snap_machine_from(gm, n, &out->machine);
	out->vcpus = calloc(n, sizeof(out->vcpus[0]));
	msrs = calloc(1, sizeof(*msrs));
	if (out->vcpus == NULL || msrs == NULL) {
		ret = -ENOMEM;
		goto err;
	}
	out->nvcpus = n;
	/* One MSR list for all vCPUs: they share one CPUID shape. */
	ret = cpu_state_msr_list(vcpus[0], msrs);
	for (unsigned i = 0; i < n && ret == 0; i++)
		ret = cpu_state_save(vcpus[i], msrs, &out->vcpus[i]);
	if (ret == 0)
		ret = platform_state_save(vm, &out->vm);
	if (ret < 0)
		goto err;
	free(msrs);
	return 0;

err:
	free(msrs);
	snap_state_free(out);
	return ret;
}

int snap_state_restore(struct vm *vm, struct vcpu *const *vcpus, unsigned n, const struct gmem *gm,
		       const struct vm_config *cfg, const struct snap_state *s)
{
	struct snap_config cur_cfg;
	struct snap_machine cur;
	int ret;

	/* Refuse a mismatch before touching any KVM state. */
	ret = snap_config_from(cfg, &cur_cfg);
	if (ret == 0)
		ret = snap_config_check(&s->config, &cur_cfg);
	if (ret < 0)
		return ret;
	snap_machine_from(gm, n, &cur);
	ret = snap_machine_check(&s->machine, &cur);
	if (ret < 0)
		return ret;
	if (s->nvcpus != n)
		return -EINVAL; /* decode guarantees nvcpus == machine.vcpu_count */
	for (unsigned i = 0; i < n; i++) {
		ret = cpu_state_restore(vcpus[i], &s->vcpus[i]);
		if (ret < 0)
			return ret;
	}
	return platform_state_restore(vm, &s->vm);
}

void snap_state_encode(struct snap_writer *w, const struct snap_state *s)
{
	snap_config_encode(w, &s->config);
	snap_machine_encode(w, &s->machine);
	snap_vm_encode(w, &s->vm);
	for (unsigned i = 0; i < s->nvcpus; i++)
		snap_vcpu_encode(w, &s->vcpus[i]);
}

static const struct snap_section *only_one(const struct snap_file *f, uint32_t tag)
{
	char name[11];
	unsigned n = snap_file_count(f, tag);

	if (n != 1) {
		log_err("snapshot state file: %u '%s' sections, expected exactly one", n,
			snap_tag_name(tag, name));
		return NULL;
	}
	return snap_file_find(f, tag, 0);
}

int snap_state_decode(const struct snap_file *f, struct snap_state *out)
{
	const struct snap_section *conf, *mach, *vmst;
	unsigned n;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = snap_file_check_tags(f, known_tags, sizeof(known_tags) / sizeof(known_tags[0]));
	if (ret < 0)
		return ret;
	conf = only_one(f, SNAP_TAG_CONFIG);
	mach = only_one(f, SNAP_TAG_MACHINE);
	vmst = only_one(f, SNAP_TAG_VM);
	if (conf == NULL || mach == NULL || vmst == NULL)
		return -EBADMSG;
	ret = snap_config_decode(conf, &out->config);
	if (ret == 0)
		ret = snap_machine_decode(mach, &out->machine);
	if (ret == 0)
		ret = snap_vm_decode(vmst, &out->vm);
	if (ret < 0)
		return ret;
	if (out->config.vcpu_count != out->machine.vcpu_count) {
		log_err("snapshot state file: %u vCPUs in the config section, %u in the machine "
			"section",
			out->config.vcpu_count, out->machine.vcpu_count);
		return -EBADMSG;
	}
	n = snap_file_count(f, SNAP_TAG_VCPU);
	if (n != out->machine.vcpu_count) {
		log_err("snapshot state file: %u vCPU sections for %u vCPUs", n,
			out->machine.vcpu_count);
		return -EBADMSG;
	}
	out->vcpus = calloc(n, sizeof(out->vcpus[0]));
	if (out->vcpus == NULL)
		return -ENOMEM;
	out->nvcpus = n;
	for (unsigned i = 0; i < n; i++) {
		ret = snap_vcpu_decode(snap_file_find(f, SNAP_TAG_VCPU, i), &out->vcpus[i]);
		if (ret == 0 && out->vcpus[i].index != i) {
			log_err("snapshot state file: vCPU section %u holds vCPU %u", i,
				out->vcpus[i].index);
			ret = -EBADMSG;
		}
		if (ret < 0) {
			snap_state_free(out);
			return ret;
		}
	}
	return 0;
}

int snap_state_write(const struct snap_state *s, const char *path)
{
	struct snap_writer w;
	int ret;

	ret = snap_w_init(&w);
	if (ret == 0) {
		snap_state_encode(&w, s);
		ret = snap_w_finish(&w);
	}
	if (ret == 0)
		ret = snap_w_to_file(&w, path);
	snap_w_free(&w);
	return ret;
}

int snap_state_read(const char *path, struct snap_state *out)
{
	struct snap_file *f = malloc(sizeof(*f));
	uint8_t *buf = NULL;
	size_t len;
	int ret;

	memset(out, 0, sizeof(*out));
	if (f == NULL)
		return -ENOMEM;
	ret = snap_file_load(path, &buf, &len);
	if (ret == 0)
		ret = snap_file_parse(buf, len, f);
	if (ret == 0)
		ret = snap_state_decode(f, out);
	free(buf);
	free(f);
	return ret;
}
