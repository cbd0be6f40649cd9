/* cgroup: which cgroup hierarchy this host offers (see cgroup.h). */
#include "lib/util/cgroup.h"

#include <sys/statfs.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

int cgroup_host_version(void)
{
	struct statfs st;

	return statfs(CGROUP_ROOT, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC ? 2 : 1;
}
