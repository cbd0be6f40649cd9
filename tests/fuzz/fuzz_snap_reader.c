/* fuzz_snap_reader: libFuzzer harness for the snapshot state file (vmm/snapshot/), no KVM.
 *
 * Input: one control byte, then a state file.
 * - Control bit 0 set: the harness first rewrites the file's total length and
 *   CRC to match, so mutations get past the checksum and reach the section
 *   parser and the decoders. Clear: the bytes are parsed as they are (the
 *   header, length and CRC checks themselves).
 * 1. snap_file_parse(), then snap_state_decode() over the whole file.
 * 2. Every decoder also runs on every parsed section, whatever its tag, so
 *    each decoder's validation sees arbitrary payloads.
 * 3. A state that decodes must survive encode -> parse -> decode -> encode
 *    unchanged (the codec's two sides agree on every field and limit).
 * Whatever the bytes, nothing may crash, read out of bounds or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "vmm/snapshot/state.h"
#include "lib/util/le.h"
#include "lib/util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct snap_file file, file2;
static struct cpu_state vcpu;

static void every_decoder(const struct snap_file *f)
{
	struct snap_config c;
	struct snap_machine m;
	struct platform_state v;

	for (unsigned i = 0; i < f->nsections; i++) {
		snap_config_decode(&f->sections[i], &c);
		snap_machine_decode(&f->sections[i], &m);
		snap_vm_decode(&f->sections[i], &v);
		snap_vcpu_decode(&f->sections[i], &vcpu);
	}
}

static void check_round_trip(const struct snap_state *s)
{
	struct snap_writer w1, w2;
	struct snap_state again;

	if (snap_w_init(&w1) != 0)
		__builtin_trap();
	snap_state_encode(&w1, s);
	if (snap_w_finish(&w1) != 0 || snap_file_parse(w1.buf, w1.len, &file2) != 0 ||
	    snap_state_decode(&file2, &again) != 0)
		__builtin_trap();
	if (snap_w_init(&w2) != 0)
		__builtin_trap();
	snap_state_encode(&w2, &again);
	if (snap_w_finish(&w2) != 0 || w1.len != w2.len || memcmp(w1.buf, w2.buf, w1.len) != 0)
		__builtin_trap();
	snap_state_free(&again);
	snap_w_free(&w1);
	snap_w_free(&w2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snap_state s;
	uint8_t *buf;

	log_init("fuzz_snap_reader", LOG_NONE);
	if (size < 1 || size - 1 > SNAP_MAX_STATE_BYTES)
		return 0;
	size--;
	/* An exact-size copy of the file (the control byte left out), so ASan
	 * sees a read even one byte past its end. */
	buf = malloc(size);
	if (buf == NULL && size > 0)
		return 0;
	if (size > 0)
		memcpy(buf, data + 1, size);
	if ((data[0] & 1) && size >= SNAP_HEADER_LEN + SNAP_CRC_LEN) {
		le_put(buf + 16, size, 8);
		le_put(buf + size - SNAP_CRC_LEN, crc32(0, buf, (uInt)(size - SNAP_CRC_LEN)), 4);
	}
	if (snap_file_parse(buf, size, &file) == 0) {
		if (snap_state_decode(&file, &s) == 0) {
			check_round_trip(&s);
			snap_state_free(&s);
		}
		every_decoder(&file);
	}
	free(buf);
	return 0;
}
