/* cgroup: which cgroup hierarchy this host offers, for ember-jailer and emberd alike.
 *
 * Contract: cgroup_host_version() is 2 when CGROUP_ROOT is a cgroup2 mount,
 * else 1 (v1 controllers, each under CGROUP_ROOT/<controller>, possibly
 * beside a v2 "unified" hierarchy). One statfs(2); thread: any. */
#ifndef EMBER_UTIL_CGROUP_H
#define EMBER_UTIL_CGROUP_H

#define CGROUP_ROOT "/sys/fs/cgroup"

int cgroup_host_version(void);

#endif
