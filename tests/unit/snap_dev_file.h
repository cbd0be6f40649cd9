/* snap_dev_file: one-section snapshot files for device save/restore tests (tests/unit).
 *
 * Contract: each call starts a new file in *w (freeing what it held, so
 * zero-initialise it once) and leaves it parsed in *f, whose sections point
 * into w's buffer: keep w until f is no longer used. Failures fail the test
 * (cmocka), so include <cmocka.h> first.
 * - snap_dev_file_save() saves dev through ops as instance `instance`.
 * - snap_dev_file_raw() writes one section of `tag`, `version` whose payload
 *   is the instance number, then `len` bytes of payload: what a corrupt or
 *   hostile file can hold.
 * - snap_dev_file_restore_raw() is file_raw, then snap_dev_restore() of
 *   instance 0 into dev: the restore's return value. */
#ifndef EMBER_TEST_SNAP_DEV_FILE_H
#define EMBER_TEST_SNAP_DEV_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/snapshot/dev.h"

void snap_dev_file_save(struct snap_writer *w, struct snap_file *f, const struct snap_dev_ops *ops,
			const void *dev, uint32_t instance);
void snap_dev_file_raw(struct snap_writer *w, struct snap_file *f, uint32_t tag, uint32_t version,
		       uint32_t instance, const uint8_t *payload, size_t len);
int snap_dev_file_restore_raw(struct snap_writer *w, struct snap_file *f,
			      const struct snap_dev_ops *ops, void *dev, uint32_t version,
			      const uint8_t *payload, size_t len);

#endif
