/* snap dev: section framing around a device's save/restore ops (see dev.h). */
#include "vmm/snapshot/dev.h"

#include <errno.h>

#include "lib/util/log.h"

int snap_dev_save(const struct snap_dev_ops *ops, const void *dev, uint32_t instance,
		  struct snap_writer *w)
{
	int ret;

	snap_w_section_begin(w, ops->tag, ops->version);
	snap_w_u32(w, instance);
	ret = ops->save(dev, w);
	snap_w_section_end(w);
	return ret < 0 ? ret : w->error;
}

int snap_dev_restore(const struct snap_dev_ops *ops, void *dev, uint32_t instance,
		     const struct snap_file *f)
{
	unsigned n = snap_file_count(f, ops->tag);
	char name[11];

	for (unsigned i = 0; i < n; i++) {
		const struct snap_section *s = snap_file_find(f, ops->tag, i);
		struct snap_reader r;
		int ret;

		snap_r_init(&r, s);
		if (snap_r_u32(&r) != instance)
			continue;
		if (s->version > ops->version)
			return snap_r_fail(&r, "version %u is newer than this ember's %u",
					   s->version, ops->version);
		ret = ops->restore(dev, &r, s->version);
		if (ret < 0)
			return ret;
		return snap_r_done(&r);
	}
	log_err("snapshot state file: no section '%s' for device instance %u",
		snap_tag_name(ops->tag, name), instance);
	return -ENOENT;
}
