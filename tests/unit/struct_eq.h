/* struct_eq: field-by-field comparison of the structs tests round-trip, never their bytes.
 *
 * Contract: each function compares the fields that carry meaning (strings up
 * to their NUL, arrays up to their count) and returns NULL when all are
 * equal, else the path of the first field that differs ("drives[1].path_on_host"),
 * in a thread-local buffer valid until the next call. Padding, bytes after a
 * string's NUL and array slots past the count are never read, so the result
 * does not depend on what the memory held before (memcmp of a struct does).
 * Each struct's size is pinned by a static assertion in struct_eq.c: a new
 * field breaks the build there until it is compared. No cmocka: fuzz
 * harnesses use it too; in a cmocka test, assert_fields_equal() fails with
 * the field's name. */
#ifndef EMBER_TEST_STRUCT_EQ_H
#define EMBER_TEST_STRUCT_EQ_H

#include "lib/fcapi/config.h"
#include "vmm/devices/virtio/vsock/packet.h"
#include "vmm/snapshot/config_state.h"
#include "vmm/snapshot/vcpu_state.h"
#include "vmm/snapshot/vm_state.h"

const char *eq_vm_config(const struct vm_config *a, const struct vm_config *b);
const char *eq_vsock_hdr(const struct vsock_hdr *a, const struct vsock_hdr *b);
const char *eq_snap_config(const struct snap_config *a, const struct snap_config *b);
const char *eq_snap_machine(const struct snap_machine *a, const struct snap_machine *b);
const char *eq_snap_vm(const struct platform_state *a, const struct platform_state *b);
const char *eq_snap_vcpu(const struct cpu_state *a, const struct cpu_state *b);

/* In a cmocka test (include <cmocka.h> first): fails naming the field. */
#define assert_fields_equal(eq, a, b)                                                              \
	do {                                                                                       \
		const char *diff_ = eq((a), (b));                                                  \
		if (diff_ != NULL)                                                                 \
			fail_msg("%s: field %s differs", #eq, diff_);                              \
	} while (0)

#endif
