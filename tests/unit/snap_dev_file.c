/* snap_dev_file: one-section snapshot files for device save/restore tests (see snap_dev_file.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/unit/snap_dev_file.h"

static void finish(struct snap_writer *w, struct snap_file *f)
{
	assert_int_equal(snap_w_finish(w), 0);
	assert_int_equal(snap_file_parse(w->buf, w->len, f), 0);
	assert_int_equal(f->nsections, 1);
}

void snap_dev_file_save(struct snap_writer *w, struct snap_file *f, const struct snap_dev_ops *ops,
			const void *dev, uint32_t instance)
{
	snap_w_free(w);
	assert_int_equal(snap_w_init(w), 0);
	assert_int_equal(snap_dev_save(ops, dev, instance, w), 0);
	finish(w, f);
}

void snap_dev_file_raw(struct snap_writer *w, struct snap_file *f, uint32_t tag, uint32_t version,
		       uint32_t instance, const uint8_t *payload, size_t len)
{
	snap_w_free(w);
	assert_int_equal(snap_w_init(w), 0);
	snap_w_section_begin(w, tag, version);
	snap_w_u32(w, instance);
	snap_w_bytes(w, payload, len);
	snap_w_section_end(w);
	finish(w, f);
}

int snap_dev_file_restore_raw(struct snap_writer *w, struct snap_file *f,
			      const struct snap_dev_ops *ops, void *dev, uint32_t version,
			      const uint8_t *payload, size_t len)
{
	snap_dev_file_raw(w, f, ops->tag, version, 0, payload, len);
	return snap_dev_restore(ops, dev, 0, f);
}
