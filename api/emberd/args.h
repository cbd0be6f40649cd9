/* args: emberd's command line: flags, environment and the defaults found next to the emberd binary.
 *
 * Contract:
 * - emberd_args_parse() fills a from argv (and EMBER_HOME). Defaults: home
 *   /var/lib/ember, listen 127.0.0.1:9000, memory budget 75% of RAM,
 *   keep-warm 300 s, region us-east-1, account 000000000000, Event retries
 *   after 60 s x the attempt, 4 Events at a time, a 30 s drain, and the VM's
 *   files next to the binary (<bin>/ember-vmm, <bin>/ember-intake, <bin>/../guest/vmlinux,
 *   <bin>/../guest/initramfs.cpio, <bin>/../runtimes), as `make` lays them
 *   out in $(BUILD).
 * - Every instance is jailed (api/pool/pool.h) unless --no-jail; --jail-uids
 *   FIRST-LAST, --jail-gid and --jail-memory-margin change the jail's uids,
 *   group and the cgroup's memory margin above MemorySize.
 * - --listen must be a loopback address (127.0.0.0/8, ::1, localhost)
 *   unless --listen-any is given: the API has no authentication.
 * - Returns 0 to run, 1 after printing --help or --version, or -EINVAL
 *   with the reason logged.
 * Thread: main, once. */
#ifndef EMBER_API_ARGS_H
#define EMBER_API_ARGS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/pool/pool.h"
#include "lib/util/log.h"

#define EMBERD_DEFAULT_HOME	  "/var/lib/ember"
#define EMBERD_DEFAULT_HOST	  "127.0.0.1"
#define EMBERD_DEFAULT_PORT	  9000
#define EMBERD_DEFAULT_KEEP_S	  300
#define EMBERD_DEFAULT_REGION	  "us-east-1"
#define EMBERD_DEFAULT_ACCT	  "000000000000"
#define EMBERD_SOCKET		  "ember.sock"
#define EMBERD_HOST_MAX		  64
#define EMBERD_DEFAULT_RETRY_BASE 60.0 /* s: Lambda's ~1 min, then ~2 min */
#define EMBERD_DEFAULT_ASYNC_CONC 4
#define EMBERD_DEFAULT_DRAIN_S	  30.0

struct emberd_args {
	char home[PATH_MAX];
	char host[EMBERD_HOST_MAX]; /* without brackets */
	uint16_t port;
	bool tcp, listen_any;
	uint64_t memory_budget_mib;
	unsigned keep_warm_s;
	char vmm[PATH_MAX], kernel[PATH_MAX], initrd[PATH_MAX], runtimes[PATH_MAX];
	char intake[PATH_MAX]; /* ember-intake: next to emberd */
	char guest_args[1024];
	bool has_guest_args;
	bool snapstart;
	bool standby;
	struct pool_jail jail;
	enum log_level level;
	char region[33], account[13];
	double async_retry_base_s;
	unsigned async_concurrency;
	double drain_timeout_s;
	char log_file[PATH_MAX]; /* "": stderr */
};

int emberd_args_parse(int argc, char **argv, struct emberd_args *a);
/* "host:port", or "[v6]:port"; -EINVAL if it is neither. */
int emberd_parse_listen(const char *s, char *host, size_t cap, uint16_t *port);
bool emberd_is_loopback(const char *host);

#endif
