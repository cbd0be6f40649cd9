/* snap config: record, compare and (de)serialise the config a snapshot depends on (see config_state.h). */
#include "vmm/snapshot/config_state.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/util/log.h"

int snap_config_from(const struct vm_config *cfg, struct snap_config *out)
{
	memset(out, 0, sizeof(*out));
	out->vcpu_count = cfg->machine.vcpu_count;
	out->mem_size_mib = cfg->machine.mem_size_mib;
	out->ndrives = cfg->ndrives < CONFIG_MAX_DRIVES ? cfg->ndrives : CONFIG_MAX_DRIVES;
	for (unsigned i = 0; i < out->ndrives; i++) {
		const struct drive_config *d = &cfg->drives[i];
		struct snap_drive *s = &out->drives[i];
		struct stat st;

		memcpy(s->id, d->drive_id, sizeof(s->id));
		s->id[sizeof(s->id) - 1] = '\0';
		memcpy(s->path, d->path_on_host, sizeof(s->path));
		s->path[sizeof(s->path) - 1] = '\0';
		s->read_only = d->is_read_only;
		s->is_root = d->is_root_device;
		if (stat(s->path, &st) < 0) {
			int ret = -errno;

			log_err("snapshot: drive %s: %s: %s", s->id, s->path, strerror(errno));
			return ret;
		}
		s->size = (uint64_t)st.st_size;
		s->ino = (uint64_t)st.st_ino;
		s->mtime_ns =
			(uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
	}
	out->entropy = cfg->entropy.enabled;
	out->vsock = cfg->vsock.enabled;
	if (out->vsock) {
		out->vsock_cid = cfg->vsock.guest_cid;
		memcpy(out->vsock_uds, cfg->vsock.uds_path, sizeof(out->vsock_uds));
		out->vsock_uds[sizeof(out->vsock_uds) - 1] = '\0';
	}
	return 0;
}

#define MISMATCH(what, fmt, a, b)                                                                  \
	do {                                                                                       \
		log_err("snapshot: %s differs: " fmt " in the snapshot, " fmt " here", what, a,    \
			b);                                                                        \
		return -EINVAL;                                                                    \
	} while (0)

static int check_drive(unsigned i, const struct snap_drive *a, const struct snap_drive *b)
{
	char what[PATH_MAX + 64];

	snprintf(what, sizeof(what), "drive %u", i);
	if (strcmp(a->id, b->id) != 0)
		MISMATCH(what, "id '%s'", a->id, b->id);
	snprintf(what, sizeof(what), "drive %s", a->id);
	if (strcmp(a->path, b->path) != 0)
		MISMATCH(what, "path %s", a->path, b->path);
	if (a->read_only != b->read_only)
		MISMATCH(what, "read-only %d", a->read_only, b->read_only);
	if (a->is_root != b->is_root)
		MISMATCH(what, "root %d", a->is_root, b->is_root);
	snprintf(what, sizeof(what), "drive %s's file %s", a->id, a->path);
	if (a->size != b->size)
		MISMATCH(what, "size %llu", (unsigned long long)a->size,
			 (unsigned long long)b->size);
	/* A writable disk is each clone's own copy of it as it was at the pause
	 * (two guests never share one); the caller makes and names that copy,
	 * so only a read-only one can be held to the very same file. */
	if (!a->read_only)
		return 0;
	if (a->ino != b->ino)
		MISMATCH(what, "inode %llu", (unsigned long long)a->ino,
			 (unsigned long long)b->ino);
	/* The same file, written since the snapshot: the guest never saw that disk. */
	if (a->mtime_ns != b->mtime_ns)
		MISMATCH(what, "mtime %llu ns", (unsigned long long)a->mtime_ns,
			 (unsigned long long)b->mtime_ns);
	return 0;
}

int snap_config_check(const struct snap_config *saved, const struct snap_config *cur)
{
	if (saved->vcpu_count != cur->vcpu_count)
		MISMATCH("vcpu_count", "%u", saved->vcpu_count, cur->vcpu_count);
	if (saved->mem_size_mib != cur->mem_size_mib)
		MISMATCH("mem_size_mib", "%llu", (unsigned long long)saved->mem_size_mib,
			 (unsigned long long)cur->mem_size_mib);
	if (saved->ndrives != cur->ndrives)
		MISMATCH("the number of drives", "%u", saved->ndrives, cur->ndrives);
	for (unsigned i = 0; i < saved->ndrives && i < CONFIG_MAX_DRIVES; i++) {
		int ret = check_drive(i, &saved->drives[i], &cur->drives[i]);

		if (ret < 0)
			return ret;
	}
	if (saved->entropy != cur->entropy)
		MISMATCH("the entropy device", "enabled=%d", saved->entropy, cur->entropy);
	if (saved->vsock != cur->vsock)
		MISMATCH("vsock", "enabled=%d", saved->vsock, cur->vsock);
	if (saved->vsock && saved->vsock_cid != cur->vsock_cid)
		MISMATCH("vsock guest_cid", "%u", saved->vsock_cid, cur->vsock_cid);
	if (saved->vsock && strcmp(saved->vsock_uds, cur->vsock_uds) != 0)
		MISMATCH("vsock uds_path", "%s", saved->vsock_uds, cur->vsock_uds);
	return 0;
}

static void w_str(struct snap_writer *w, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	snap_w_u32(w, (uint32_t)n);
	snap_w_bytes(w, s, n);
}

/* Reads a string into dst[cap] (NUL-terminated). */
static void r_str(struct snap_reader *r, char *dst, size_t cap, const char *what)
{
	uint32_t n = snap_r_u32(r);

	dst[0] = '\0';
	if (r->failed)
		return;
	if (n >= cap) {
		snap_r_fail(r, "%s is %u bytes, over %zu", what, n, cap - 1);
		return;
	}
	snap_r_bytes(r, dst, n);
	dst[r->failed ? 0 : n] = '\0';
	if (!r->failed && strlen(dst) != n)
		snap_r_fail(r, "%s holds a NUL byte", what);
}

static bool r_bool(struct snap_reader *r, const char *what)
{
	uint8_t v = snap_r_u8(r);

	if (v > 1)
		snap_r_fail(r, "%s is %u, not 0 or 1", what, v);
	return v == 1;
}

void snap_config_encode(struct snap_writer *w, const struct snap_config *c)
{
	snap_w_section_begin(w, SNAP_TAG_CONFIG, SNAP_CONFIG_VERSION);
	snap_w_u32(w, c->vcpu_count);
	snap_w_u64(w, c->mem_size_mib);
	snap_w_u32(w, c->ndrives);
	for (unsigned i = 0; i < c->ndrives && i < CONFIG_MAX_DRIVES; i++) {
		const struct snap_drive *d = &c->drives[i];

		w_str(w, d->id, sizeof(d->id));
		w_str(w, d->path, sizeof(d->path));
		snap_w_u8(w, d->read_only);
		snap_w_u8(w, d->is_root);
		snap_w_u64(w, d->size);
		snap_w_u64(w, d->ino);
		snap_w_u64(w, d->mtime_ns);
	}
	snap_w_u8(w, c->entropy);
	snap_w_u8(w, c->vsock);
	snap_w_u32(w, c->vsock_cid);
	w_str(w, c->vsock_uds, sizeof(c->vsock_uds));
	snap_w_section_end(w);
}

int snap_config_decode(const struct snap_section *sec, struct snap_config *out)
{
	struct snap_reader r;

	memset(out, 0, sizeof(*out));
	snap_r_init(&r, sec);
	if (sec->version != SNAP_CONFIG_VERSION)
		return snap_r_fail(&r, "version %u, this ember reads version %u", sec->version,
				   SNAP_CONFIG_VERSION);
	out->vcpu_count = snap_r_u32(&r);
	out->mem_size_mib = snap_r_u64(&r);
	out->ndrives = snap_r_u32(&r);
	if (r.failed)
		return -EBADMSG;
	if (out->vcpu_count < CONFIG_MIN_VCPUS || out->vcpu_count > CONFIG_MAX_VCPUS)
		return snap_r_fail(&r, "vcpu_count %u, not in %u..%u", out->vcpu_count,
				   CONFIG_MIN_VCPUS, CONFIG_MAX_VCPUS);
	if (out->mem_size_mib < CONFIG_MIN_MEM_MIB || out->mem_size_mib > CONFIG_MAX_MEM_MIB)
		return snap_r_fail(&r, "mem_size_mib %llu, not in %u..%u",
				   (unsigned long long)out->mem_size_mib, CONFIG_MIN_MEM_MIB,
				   CONFIG_MAX_MEM_MIB);
	if (out->ndrives > CONFIG_MAX_DRIVES)
		return snap_r_fail(&r, "%u drives, over %u", out->ndrives, CONFIG_MAX_DRIVES);
	for (unsigned i = 0; i < out->ndrives && !r.failed; i++) {
		struct snap_drive *d = &out->drives[i];

		r_str(&r, d->id, sizeof(d->id), "a drive id");
		r_str(&r, d->path, sizeof(d->path), "a drive path");
		d->read_only = r_bool(&r, "a drive's read-only flag");
		d->is_root = r_bool(&r, "a drive's root flag");
		d->size = snap_r_u64(&r);
		d->ino = snap_r_u64(&r);
		d->mtime_ns = snap_r_u64(&r);
	}
	out->entropy = r_bool(&r, "the entropy flag");
	out->vsock = r_bool(&r, "the vsock flag");
	out->vsock_cid = snap_r_u32(&r);
	r_str(&r, out->vsock_uds, sizeof(out->vsock_uds), "the vsock uds_path");
	return snap_r_done(&r);
}
