/* machine_snapshot: a paused VM to a state file and a memory file, and a VM built back from them (see machine.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util/afile.h"
#include "lib/util/log.h"
#include "vmm/snapshot/dev.h"
#include "vmm/snapshot/paths.h"
#include "vmm/snapshot/state.h"
#include "vmm/core/gmem_uffd.h"
#include "vmm/machine/machine_priv.h"

struct machine_restore {
	uint8_t *buf; /* the state file; device sections are read from it */
	size_t len;
	struct snap_file file;
	struct snap_state st;
	int mem_fd; /* -1 with the Uffd backend: the handler has the file */
	uint64_t mem_bytes;
	bool uffd;
	char uffd_path[PATH_MAX]; /* the handler's socket */
};

/* The reason the snapshot code logged, for the API's fault_message. */
static int fail(int ret, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s", what,
		 log_last_error()[0] != '\0' ? log_last_error() : strerror(-ret));
	return ret;
}

/* A memory file appears whole or not at all (lib/util/afile). It is not
 * fsynced: a snapshot is for restoring on this host, not for surviving a crash. */
static int mem_file_open(struct afile *m, const char *path, char *err, size_t errlen)
{
	int ret = afile_open(m, path, 0600);

	if (ret < 0)
		snprintf(err, errlen, "mem_file_path %.200s: %s", path, strerror(-ret));
	return ret;
}

/* Sizes the file to all of RAM (the tail may be a hole), then renames it;
 * on any failure (ret included) removes it. */
static int mem_file_close(struct afile *m, uint64_t size, int ret, char *err, size_t errlen)
{
	if (ret == 0 && ftruncate(m->fd, (off_t)size) < 0)
		ret = -errno;
	if (ret == 0)
		ret = afile_commit_nosync(m);
	else
		afile_abort(m);
	if (ret < 0)
		snprintf(err, errlen, "mem_file_path %.200s: %s", m->path, strerror(-ret));
	return ret;
}

/* Guest RAM, region after region, as one file. Pages that read as zero are
 * left as holes: the file is sparse and the restore reads zeros there. */
static int write_memory(const struct gmem *gm, const char *path, char *err, size_t errlen)
{
	struct afile m;
	uint64_t off = 0;
	int ret = mem_file_open(&m, path, err, errlen);

	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < gmem_nregions(gm) && ret == 0; i++) {
		ret = gmem_dump(gm, i, m.fd, off, NULL);
		off += gmem_region(gm, i).size;
	}
	return mem_file_close(&m, off, ret, err, errlen);
}

/* The pages written since the last snapshot (or the boot or load): KVM's
 * dirty log for the guest's writes, gmem's marks for the devices'. Both are
 * cleared as they are read. bitmap: gmem_dirty_words(gm, region) words. */
static int take_dirty(struct machine *vmm, unsigned region, uint64_t *bitmap)
{
	int ret = vm_get_dirty_log(vmm->vm, region, bitmap);

	if (ret == 0)
		gmem_dirty_take(vmm->gm, region, bitmap);
	return ret;
}

/* A Diff memory file: the same layout as a Full one, holding only the pages
 * written since the last snapshot (zero or not), holes elsewhere. Merging it
 * onto its base (ember-snap-merge) copies its data extents (SEEK_DATA). With
 * path NULL it writes nothing and only clears the dirty state (after a Full
 * snapshot). */
static int write_dirty(struct machine *vmm, const char *path, char *err, size_t errlen)
{
	const struct gmem *gm = vmm->gm;
	struct afile m = { .fd = -1 };
	uint64_t off = 0;
	int ret = path != NULL ? mem_file_open(&m, path, err, errlen) : 0;

	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < gmem_nregions(gm) && ret == 0; i++) {
		uint64_t *bits = calloc(gmem_dirty_words(gm, i), sizeof(uint64_t));

		ret = bits == NULL ? -ENOMEM : take_dirty(vmm, i, bits);
		if (ret == 0 && path != NULL)
			ret = gmem_dump(gm, i, m.fd, off, bits);
		free(bits);
		off += gmem_region(gm, i).size;
	}
	if (path != NULL)
		return mem_file_close(&m, off, ret, err, errlen);
	if (ret < 0)
		snprintf(err, errlen, "resetting the dirty-page log: %s", strerror(-ret));
	return ret;
}

int machine_snapshot_create(struct machine *vmm, const char *state_path, const char *mem_path,
			    bool diff, char *err, size_t errlen)
{
	bool tracking = vmm->cfg->machine.track_dirty_pages;
	struct snap_writer w;
	struct snap_state st;
	int ret;

	if (diff && !tracking) {
		snprintf(err, errlen,
			 "snapshot_type: a Diff snapshot needs dirty-page tracking "
			 "(machine-config track_dirty_pages, or enable_diff_snapshots "
			 "on load)");
		return -EINVAL;
	}
	log_clear_last_error();
	ret = snap_state_save(vmm->vm, vmm->vcpus, vmm->nvcpus, vmm->gm, vmm->cfg, &st);
	if (ret < 0)
		return fail(ret, err, errlen, "saving the VM state");
	ret = snap_w_init(&w);
	if (ret == 0) {
		snap_state_encode(&w, &st);
		/* Devices in the order of their list (devices.h). */
		ret = devices_save(&vmm->devs, &w);
		if (ret == 0)
			ret = snap_w_finish(&w);
	}
	if (ret == 0)
		ret = snap_w_to_file(&w, state_path);
	snap_w_free(&w);
	snap_state_free(&st);
	if (ret < 0)
		return fail(ret, err, errlen, "snapshot_path");
	if (diff)
		return write_dirty(vmm, mem_path, err, errlen);
	ret = write_memory(vmm->gm, mem_path, err, errlen);
	/* The next Diff holds what changes after this snapshot. */
	if (ret == 0 && tracking)
		ret = write_dirty(vmm, NULL, err, errlen);
	return ret;
}

/* Drive i's file: the override for its id, or the state file's path if it
 * stays inside the working directory (snapshot/paths.h). */
static int drive_path(struct snap_drive *d, const struct schema_load_overrides *ov, char *err,
		      size_t errlen)
{
	char what[CONFIG_DRIVE_ID_LEN + 32];

	for (unsigned i = 0; ov != NULL && i < ov->ndrives; i++) {
		if (strcmp(ov->drives[i].drive_id, d->id) != 0)
			continue;
		/* The record the restore compares against gets the caller's path;
		 * the file must still be the snapshot's (size, inode, mtime). */
		snprintf(d->path, sizeof(d->path), "%s", ov->drives[i].path_on_host);
		return 0;
	}
	snprintf(what, sizeof(what), "drive '%s': path_on_host", d->id);
	return snap_path_confined(d->path, false, what, "drive_overrides", err, errlen);
}

/* Every override must name something the snapshot has. */
static int check_overrides(const struct snap_config *sc, const struct schema_load_overrides *ov,
			   char *err, size_t errlen)
{
	for (unsigned i = 0; ov != NULL && i < ov->ndrives; i++) {
		unsigned j = 0;

		while (j < sc->ndrives && strcmp(sc->drives[j].id, ov->drives[i].drive_id) != 0)
			j++;
		if (j == sc->ndrives) {
			snprintf(err, errlen, "drive_overrides[%u]: the snapshot has no drive '%s'",
				 i, ov->drives[i].drive_id);
			return -EINVAL;
		}
	}
	if (ov != NULL && ov->vsock && !sc->vsock) {
		snprintf(err, errlen, "vsock_override: the snapshot has no vsock device");
		return -EINVAL;
	}
	return 0;
}

/* The configuration the snapshot was taken under, as the VM's config, with
 * every host path chosen by the caller or confined (snapshot/paths.h). sc
 * is the record the restore then checks against: overrides go into it. */
static int config_from_snapshot(struct snap_config *sc, const struct schema_load_overrides *ov,
				struct vm_config *cfg, char *err, size_t errlen)
{
	int ret = check_overrides(sc, ov, err, errlen);

	if (ret < 0)
		return ret;
	config_init(cfg);
	cfg->boot_source.kernel_image_path[0] = '\0'; /* a restore loads no kernel */
	cfg->machine.vcpu_count = sc->vcpu_count;
	cfg->machine.mem_size_mib = sc->mem_size_mib;
	cfg->ndrives = sc->ndrives;
	for (unsigned i = 0; i < sc->ndrives; i++) {
		struct drive_config *d = &cfg->drives[i];

		ret = drive_path(&sc->drives[i], ov, err, errlen);
		if (ret < 0)
			return ret;
		snprintf(d->drive_id, sizeof(d->drive_id), "%s", sc->drives[i].id);
		snprintf(d->path_on_host, sizeof(d->path_on_host), "%s", sc->drives[i].path);
		d->is_read_only = sc->drives[i].read_only;
		d->is_root_device = sc->drives[i].is_root;
	}
	cfg->entropy.enabled = sc->entropy;
	cfg->vsock.enabled = sc->vsock;
	cfg->vsock.guest_cid = sc->vsock_cid;
	if (sc->vsock && ov != NULL && ov->vsock) {
		snprintf(sc->vsock_uds, sizeof(sc->vsock_uds), "%s", ov->vsock_uds_path);
	} else if (sc->vsock) {
		ret = snap_path_confined(sc->vsock_uds, true, "vsock uds_path", "vsock_override",
					 err, errlen);
		if (ret < 0)
			return ret;
	}
	snprintf(cfg->vsock.uds_path, sizeof(cfg->vsock.uds_path), "%s", sc->vsock_uds);
	return 0;
}

int machine_restore_open(const char *state_path, const char *mem_path, bool uffd,
			 const struct schema_load_overrides *ov, struct vm_config *cfg,
			 struct machine_restore **out, char *err, size_t errlen)
{
	struct machine_restore *rs = calloc(1, sizeof(*rs));
	struct stat st;
	int ret;

	if (rs == NULL)
		return -ENOMEM;
	rs->mem_fd = -1;
	log_clear_last_error();
	ret = snap_file_load(state_path, &rs->buf, &rs->len);
	if (ret == 0)
		ret = snap_file_parse(rs->buf, rs->len, &rs->file);
	if (ret == 0)
		ret = snap_state_decode(&rs->file, &rs->st);
	if (ret < 0) {
		fail(ret, err, errlen, "snapshot_path");
		goto err;
	}
	/* Host paths before any file is opened: the state file names none alone. */
	ret = config_from_snapshot(&rs->st.config, ov, cfg, err, errlen);
	if (ret < 0)
		goto err;
	rs->mem_bytes = rs->st.config.mem_size_mib << 20;
	/* Uffd: the regions are laid out from mem_size_mib, so they match the
	 * snapshot by construction; the handler checks its file against them. */
	rs->uffd = uffd;
	if (uffd) {
		snprintf(rs->uffd_path, sizeof(rs->uffd_path), "%s", mem_path);
		goto done;
	}
	rs->mem_fd = open(mem_path, O_RDONLY | O_CLOEXEC);
	if (rs->mem_fd < 0 || fstat(rs->mem_fd, &st) < 0) {
		ret = -errno;
		snprintf(err, errlen, "mem_file_path %.200s: %s", mem_path, strerror(errno));
		goto err;
	}
	if ((uint64_t)st.st_size != rs->mem_bytes) {
		snprintf(err, errlen,
			 "mem_file_path %.200s: %llu bytes, but the snapshot's guest has %llu MiB",
			 mem_path, (unsigned long long)st.st_size,
			 (unsigned long long)rs->st.config.mem_size_mib);
		ret = -EINVAL;
		goto err;
	}
done:
	*out = rs;
	return 0;

err:
	machine_restore_free(rs);
	return ret;
}

void machine_restore_free(struct machine_restore *rs)
{
	if (rs == NULL)
		return;
	snap_state_free(&rs->st);
	free(rs->buf);
	if (rs->mem_fd >= 0)
		close(rs->mem_fd);
	free(rs);
}

int machine_restore_memory(struct machine *vmm, const struct machine_restore *rs)
{
	uint64_t off = 0;
	int ret;

	if (rs->uffd)
		return gmem_uffd_send(vmm->gm, rs->uffd_path, &vmm->uffd);
	/* Kept to say what happened if the file shrinks under the VM (memguard.h). */
	ret = memguard_watch_file(&vmm->guard, rs->mem_fd, rs->mem_bytes);
	if (ret < 0) {
		log_err("the memory file: %s", strerror(-ret));
		return ret;
	}
	/* MAP_PRIVATE: pages fault in lazily from the page cache, shared by
	 * every clone of this file; a guest write copies the page for this VM only. */
	for (unsigned i = 0; i < gmem_nregions(vmm->gm); i++) {
		struct gmem_range r = gmem_region(vmm->gm, i);

		ret = gmem_map_file(vmm->gm, r.gpa, rs->mem_fd, off, r.size);
		if (ret < 0) {
			log_err("mapping the memory file: %s", strerror(-ret));
			return ret;
		}
		off += r.size;
	}
	return 0;
}

int machine_restore_state(struct machine *vmm, const struct machine_restore *rs)
{
	int ret = snap_state_restore(vmm->vm, vmm->vcpus, vmm->nvcpus, vmm->gm, vmm->cfg, &rs->st);

	/* The devices go through their live validators (snapshot/dev.h). */
	if (ret == 0)
		ret = devices_restore(&vmm->devs, &rs->file);
	return ret;
}

void machine_run_paused(struct machine *vmm)
{
	vm_pause_request(vmm->vm);
}
