/* config: defaults, setters and the single validator for struct vm_config (see config.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->machine.vcpu_count = 1;
	cfg->machine.mem_size_mib = CONFIG_DEFAULT_MEM_MIB;
	snprintf(cfg->boot_source.boot_args, sizeof(cfg->boot_source.boot_args), "%s",
		 CONFIG_DEFAULT_CMDLINE);
}

int config_set_string(char *dst, size_t cap, const char *src, const char *what, char *err,
		      size_t errlen)
{
	size_t len = strlen(src);

	if (len >= cap) {
		snprintf(err, errlen, "%s is %zu bytes long; the limit is %zu", what, len, cap - 1);
		return -E2BIG;
	}
	memcpy(dst, src, len + 1);
	return 0;
}

int config_parse_uint(const char *s, uint64_t min, uint64_t max, const char *what, uint64_t *out,
		      char *err, size_t errlen)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (!isdigit((unsigned char)s[0]))
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	snprintf(err, errlen, "%s: '%.32s' is not a number from %llu to %llu", what, s,
		 (unsigned long long)min, (unsigned long long)max);
	return -EINVAL;
}

int config_validate(const struct vm_config *cfg, char *err, size_t errlen)
{
	const struct machine_config *m = &cfg->machine;

	if (cfg->boot_source.kernel_image_path[0] == '\0') {
		snprintf(err, errlen, "no kernel given (--kernel)");
		return -EINVAL;
	}
	if (m->vcpu_count < CONFIG_MIN_VCPUS || m->vcpu_count > CONFIG_MAX_VCPUS) {
		snprintf(err, errlen, "vcpu_count %u is out of range (%u to %u)", m->vcpu_count,
			 CONFIG_MIN_VCPUS, CONFIG_MAX_VCPUS);
		return -EINVAL;
	}
	if (m->mem_size_mib < CONFIG_MIN_MEM_MIB || m->mem_size_mib > CONFIG_MAX_MEM_MIB) {
		snprintf(err, errlen, "mem_size_mib %llu is out of range (%u to %u)",
			 (unsigned long long)m->mem_size_mib, CONFIG_MIN_MEM_MIB,
			 CONFIG_MAX_MEM_MIB);
		return -EINVAL;
	}
	if (m->smt) {
		snprintf(err, errlen, "smt is not supported");
		return -EINVAL;
	}
	return 0;
}
