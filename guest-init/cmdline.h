/* cmdline: parse the ember.* options of the guest kernel command line.
 *
 * The kernel hands init only the words it does not recognise, and drops
 * dotted ones, so ember-init reads /proc/cmdline and picks out its own keys:
 *   ember.run=PATH    run PATH, print its exit status, power off
 *   ember.probe=1     print cpus=, mem_kb= and kernel= lines
 *   ember.lambda=1    be the Lambda execution environment (lambda.h): serve
 *                     the guest protocol on vsock port 1024 until the VM ends
 *   ember.tmp_mib=N   size of the function's /tmp tmpfs in MiB (default 512,
 *                     1..CMDLINE_TMP_MIB_MAX, as Lambda's ephemeral storage)
 * Values may be double-quoted, as the kernel allows. Other words are ignored;
 * an unknown ember.* key or an over-long value is an error, reported in
 * `err` so that a typo does not go unnoticed. Pure function: no I/O. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define CMDLINE_TMP_MIB_DEFAULT 512u
#define CMDLINE_TMP_MIB_MAX	10240u /* Lambda's largest ephemeral storage */

struct init_args {
	char run[PATH_MAX]; /* "" when ember.run is absent */
	bool probe;
	bool lambda;
	unsigned tmp_mib;
};

/* Fills `out` from the NUL-terminated command line `s`. Returns 0, or
 * -EINVAL with a message in err[errlen]. */
int cmdline_parse(const char *s, struct init_args *out, char *err, size_t errlen);
