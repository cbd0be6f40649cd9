/* config: defaults, setters and the single validator for struct vm_config (see config.h). */
#include "lib/fcapi/config.h"

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
	cfg->entropy.enabled = true;
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

int config_add_drive(struct vm_config *cfg, const char *spec, char *err, size_t errlen)
{
	struct drive_config *d;
	const char *comma = strchr(spec, ',');
	size_t plen = comma != NULL ? (size_t)(comma - spec) : strlen(spec);

	if (cfg->ndrives >= CONFIG_MAX_DRIVES) {
		snprintf(err, errlen, "--drive: at most %u drives", CONFIG_MAX_DRIVES);
		return -ENOSPC;
	}
	if (plen == 0) {
		snprintf(err, errlen, "--drive '%.64s': no path (expected PATH[,ro][,root])", spec);
		return -EINVAL;
	}
	d = &cfg->drives[cfg->ndrives];
	memset(d, 0, sizeof(*d));
	if (plen >= sizeof(d->path_on_host)) {
		snprintf(err, errlen, "--drive: the path is %zu bytes long; the limit is %zu", plen,
			 sizeof(d->path_on_host) - 1);
		return -E2BIG;
	}
	memcpy(d->path_on_host, spec, plen);
	while (comma != NULL) {
		const char *opt = comma + 1, *next = strchr(opt, ',');
		size_t olen = next != NULL ? (size_t)(next - opt) : strlen(opt);

		if (olen == 2 && strncmp(opt, "ro", 2) == 0) {
			d->is_read_only = true;
		} else if (olen == 4 && strncmp(opt, "root", 4) == 0) {
			d->is_root_device = true;
		} else {
			snprintf(err, errlen,
				 "--drive '%.64s': unknown option '%.*s' (expected "
				 "PATH[,ro][,root])",
				 spec, (int)(olen > 32 ? 32 : olen), opt);
			return -EINVAL;
		}
		comma = next;
	}
	/* "vda".."vdz": the name the guest gives it, as long as drives come first. */
	snprintf(d->drive_id, sizeof(d->drive_id), "vd%c", 'a' + (int)cfg->ndrives);
	cfg->ndrives++;
	return 0;
}

int config_set_vsock(struct vm_config *cfg, const char *spec, char *err, size_t errlen)
{
	struct vsock_config *v = &cfg->vsock;
	const char *comma = strchr(spec, ',');
	char cid[16];
	size_t clen = comma != NULL ? (size_t)(comma - spec) : 0;
	uint64_t n;
	int ret;

	if (v->enabled) {
		snprintf(err, errlen, "--vsock: only one vsock device is supported");
		return -EINVAL;
	}
	if (comma == NULL || clen == 0 || clen >= sizeof(cid) || comma[1] == '\0') {
		snprintf(err, errlen, "--vsock '%.64s': expected CID,PATH", spec);
		return -EINVAL;
	}
	memcpy(cid, spec, clen);
	cid[clen] = '\0';
	ret = config_parse_uint(cid, CONFIG_VSOCK_CID_MIN, CONFIG_VSOCK_CID_MAX, "--vsock CID", &n,
				err, errlen);
	if (ret < 0)
		return ret;
	ret = config_set_string(v->uds_path, sizeof(v->uds_path), comma + 1, "--vsock PATH", err,
				errlen);
	if (ret < 0)
		return ret;
	v->guest_cid = (uint32_t)n;
	snprintf(v->vsock_id, sizeof(v->vsock_id), "vsock");
	v->enabled = true;
	return 0;
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
	if (cfg->ndrives > CONFIG_MAX_DRIVES) {
		snprintf(err, errlen, "%u drives; the limit is %u", cfg->ndrives,
			 CONFIG_MAX_DRIVES);
		return -EINVAL;
	}
	for (unsigned i = 0; i < cfg->ndrives; i++) {
		const struct drive_config *d = &cfg->drives[i];

		if (d->path_on_host[0] == '\0' || d->drive_id[0] == '\0') {
			snprintf(err, errlen, "drive %u: no path_on_host or drive_id", i);
			return -EINVAL;
		}
		for (unsigned j = 0; j < i; j++) {
			if (strcmp(cfg->drives[j].drive_id, d->drive_id) == 0) {
				snprintf(err, errlen, "drive_id '%s' is used twice", d->drive_id);
				return -EINVAL;
			}
			if (d->is_root_device && cfg->drives[j].is_root_device) {
				snprintf(err, errlen, "more than one root device");
				return -EINVAL;
			}
		}
	}
	if (cfg->vsock.enabled) {
		const struct vsock_config *v = &cfg->vsock;
		size_t plen = strnlen(v->uds_path, sizeof(v->uds_path));

		if (v->guest_cid < CONFIG_VSOCK_CID_MIN || v->guest_cid > CONFIG_VSOCK_CID_MAX) {
			snprintf(err, errlen, "vsock guest_cid %u is out of range (%u to %u)",
				 v->guest_cid, CONFIG_VSOCK_CID_MIN, CONFIG_VSOCK_CID_MAX);
			return -EINVAL;
		}
		if (plen == 0 || plen > CONFIG_VSOCK_PATH_MAX) {
			snprintf(err, errlen, "vsock uds_path must be 1 to %u bytes long",
				 CONFIG_VSOCK_PATH_MAX);
			return -EINVAL;
		}
	}
	return 0;
}
