/* ember-jailer: jail one microVM's VMM, taking Firecracker's jailer arguments (vmm/jail/README.md). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/util/log.h"
#include "vmm/jail/jail.h"

#ifndef CLOSE_RANGE_UNSHARE
#include <linux/close_range.h>
#endif

int main(int argc, char **argv)
{
	struct jail_args a;
	char err[512] = "";
	int ret;

	log_init("ember-jailer", LOG_INFO);
	/* Nothing the caller left open may reach the VMM: standard I/O only. */
	if (close_range(3, ~0u, 0) < 0) {
		log_err("closing inherited files: %s", strerror(errno));
		return 1;
	}
	ret = jail_parse_args(argc, argv, &a, err, sizeof(err));
	if (ret > 0) {
		fputs(jail_usage, stdout);
		return 0;
	}
	if (ret == 0 && geteuid() != 0) {
		snprintf(err, sizeof(err),
			 "must run as root (it creates cgroups, namespaces and "
			 "device nodes, then drops to --uid/--gid)");
		ret = -EPERM;
	}
	if (ret == 0)
		ret = jail_run(&a, err, sizeof(err));
	if (ret < 0) {
		log_err("%s", err);
		return 1;
	}
	return 0; /* --new-pid-ns: the parent, once the VMM's pid is on file */
}
