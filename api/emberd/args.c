/* args: emberd's flags and their defaults (see args.h). */
#include "api/emberd/args.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util/version.h"

static const char usage[] =
	"usage: emberd [--home DIR] [--listen ADDR:PORT [--listen-any] | --no-tcp]\n"
	"              [--memory-budget MIB] [--keep-warm SEC] [--no-snapstart]\n"
	"              [--no-standby]\n"
	"              [--vmm PATH] [--kernel PATH] [--initrd PATH] [--runtimes DIR]\n"
	"              [--guest-args STR] [--region R] [--account-id N] [--log-level LEVEL]\n"
	"              [--no-jail | [--jail-uids FIRST-LAST] [--jail-gid GID]\n"
	"               [--jail-memory-margin MIB]]\n"
	"              [--async-retry-base SEC] [--async-concurrency N] [--drain-timeout SEC]\n"
	"              [--log-file PATH]\n"
	"\n"
	"Serves the AWS Lambda API (2015-03-31) and runs each function in KVM microVMs.\n"
	"Clients: the AWS CLI and SDKs (--endpoint-url http://ADDR:PORT, any credentials),\n"
	"and `ember` (the Unix socket HOME/ember.sock, mode 0600).\n"
	"\n"
	"  --home DIR          state: functions, code images, snapshots, logs\n"
	"                      (default $EMBER_HOME, else " EMBERD_DEFAULT_HOME ")\n"
	"  --listen ADDR:PORT  the Lambda API on TCP (default 127.0.0.1:9000; port 0: any\n"
	"                      free port, logged). Loopback only, unless --listen-any\n"
	"  --listen-any        allow a non-loopback --listen: anyone who reaches it can run code\n"
	"  --no-tcp            only the Unix socket\n"
	"  --memory-budget MIB memory all instances may take together (default 75% of RAM)\n"
	"  --keep-warm SEC     idle instances are stopped after SEC seconds (default 300)\n"
	"  --no-snapstart      always cold-start; never snapshot a ready instance\n"
	"  --no-standby        spawn no VMM ahead for a version's next restore (by default\n"
	"                      one waits per snapshotted version, kept as long as --keep-warm)\n"
	"  --vmm PATH          ember-vmm (default: next to emberd)\n"
	"  --kernel PATH       the guest kernel (default: ../guest/vmlinux from emberd)\n"
	"  --initrd PATH       the guest initramfs (default: ../guest/initramfs.cpio)\n"
	"  --runtimes DIR      runtimes.json and the runtime images (default: ../runtimes)\n"
	"  --guest-args STR    appended to the guest kernel command line\n"
	"  --region R          the region in ARNs (default " EMBERD_DEFAULT_REGION ")\n"
	"  --account-id N      the 12-digit account in ARNs (default " EMBERD_DEFAULT_ACCT ")\n"
	"  --log-level LEVEL   error, warn, info (default) or debug\n"
	"  --no-jail           run ember-vmm unconfined, as emberd's user (debugging only);\n"
	"                      by default each one runs under ember-jailer (next to ember-vmm)\n"
	"  --jail-uids FIRST-LAST  a uid of its own for each VM from this range\n"
	"                      (default 10001-19999)\n"
	"  --jail-gid GID      the group of every VM, which reads their files (default 10000)\n"
	"  --jail-memory-margin MIB  a VM's cgroup memory limit is MemorySize + MIB\n"
	"                      (default 64)\n"
	"  --log-file PATH     emberd's own log (default stderr); SIGHUP reopens it\n"
	"  --async-retry-base SEC  an Event that fails is retried after SEC x the attempt\n"
	"                      number (default 60: about 1 and 2 minutes, as Lambda)\n"
	"  --async-concurrency N  Event invocations run at most N at a time (default 4)\n"
	"  --drain-timeout SEC SIGTERM waits up to SEC seconds for running invocations\n"
	"                      (default 30); queued events stay on disk\n";

enum {
	OPT_HOME = 256,
	OPT_LISTEN,
	OPT_LISTEN_ANY,
	OPT_NO_TCP,
	OPT_BUDGET,
	OPT_KEEP,
	OPT_VMM,
	OPT_KERNEL,
	OPT_INITRD,
	OPT_RUNTIMES,
	OPT_GUEST_ARGS,
	OPT_NO_SNAP,
	OPT_NO_STANDBY,
	OPT_LOG,
	OPT_REGION,
	OPT_ACCOUNT,
	OPT_VERSION,
	OPT_NO_JAIL,
	OPT_JAIL_UIDS,
	OPT_JAIL_GID,
	OPT_JAIL_MARGIN,
	OPT_RETRY_BASE,
	OPT_ASYNC_CONC,
	OPT_DRAIN,
	OPT_LOG_FILE,
};

static const struct option options[] = {
	{ "home", required_argument, NULL, OPT_HOME },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "listen-any", no_argument, NULL, OPT_LISTEN_ANY },
	{ "no-tcp", no_argument, NULL, OPT_NO_TCP },
	{ "memory-budget", required_argument, NULL, OPT_BUDGET },
	{ "keep-warm", required_argument, NULL, OPT_KEEP },
	{ "vmm", required_argument, NULL, OPT_VMM },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "runtimes", required_argument, NULL, OPT_RUNTIMES },
	{ "guest-args", required_argument, NULL, OPT_GUEST_ARGS },
	{ "no-snapstart", no_argument, NULL, OPT_NO_SNAP },
	{ "no-standby", no_argument, NULL, OPT_NO_STANDBY },
	{ "log-level", required_argument, NULL, OPT_LOG },
	{ "region", required_argument, NULL, OPT_REGION },
	{ "account-id", required_argument, NULL, OPT_ACCOUNT },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "no-jail", no_argument, NULL, OPT_NO_JAIL },
	{ "jail-uids", required_argument, NULL, OPT_JAIL_UIDS },
	{ "jail-gid", required_argument, NULL, OPT_JAIL_GID },
	{ "jail-memory-margin", required_argument, NULL, OPT_JAIL_MARGIN },
	{ "async-retry-base", required_argument, NULL, OPT_RETRY_BASE },
	{ "async-concurrency", required_argument, NULL, OPT_ASYNC_CONC },
	{ "drain-timeout", required_argument, NULL, OPT_DRAIN },
	{ "log-file", required_argument, NULL, OPT_LOG_FILE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

bool emberd_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

int emberd_parse_listen(const char *s, char *host, size_t cap, uint16_t *port)
{
	const char *colon, *h = s;
	size_t hl;
	char *end;
	unsigned long p;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -EINVAL;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= cap)
		return -EINVAL;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || p > 65535)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (strcmp(host, "localhost") == 0)
		snprintf(host, cap, "127.0.0.1");
	*port = (uint16_t)p;
	return 0;
}

static int set_path(char *dst, const char *src, const char *what)
{
	if (snprintf(dst, PATH_MAX, "%s", src) >= PATH_MAX) {
		log_err("%s: the path is too long", what);
		return -EINVAL;
	}
	return 0;
}

static int parse_u64(const char *s, const char *what, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || s[0] == '-' || v < min || v > max) {
		log_err("%s %s: expected a number from %llu to %llu", what, s,
			(unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Seconds, fractions allowed (tests shorten retries to milliseconds). */
static int parse_seconds(const char *s, const char *what, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || !(v >= min && v <= max)) {
		log_err("%s %s: expected seconds from %g to %g", what, s, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* The defaults next to the binary, as the build tree lays them out. */
static void defaults(struct emberd_args *a)
{
	char exe[PATH_MAX], *dir;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	const char *home = getenv("EMBER_HOME");

	memset(a, 0, sizeof(*a));
	snprintf(a->home, sizeof(a->home), "%s",
		 home != NULL && home[0] != '\0' ? home : EMBERD_DEFAULT_HOME);
	snprintf(a->host, sizeof(a->host), EMBERD_DEFAULT_HOST);
	a->port = EMBERD_DEFAULT_PORT;
	a->tcp = true;
	a->keep_warm_s = EMBERD_DEFAULT_KEEP_S;
	a->snapstart = true;
	a->standby = true;
	a->jail.uid_first = POOL_JAIL_UID_FIRST;
	a->jail.uid_count = POOL_JAIL_UID_COUNT;
	a->jail.gid = POOL_JAIL_GID;
	a->jail.mem_margin_mib = POOL_JAIL_MARGIN_MIB;
	a->async_retry_base_s = EMBERD_DEFAULT_RETRY_BASE;
	a->async_concurrency = EMBERD_DEFAULT_ASYNC_CONC;
	a->drain_timeout_s = EMBERD_DEFAULT_DRAIN_S;
	a->level = LOG_INFO;
	snprintf(a->region, sizeof(a->region), EMBERD_DEFAULT_REGION);
	snprintf(a->account, sizeof(a->account), EMBERD_DEFAULT_ACCT);
	if (pages > 0 && psize > 0)
		a->memory_budget_mib = (uint64_t)pages * (uint64_t)psize / 4 * 3 >> 20;
	exe[n > 0 ? n : 0] = '\0';
	dir = dirname(exe);
	snprintf(a->vmm, sizeof(a->vmm), "%.4000s/ember-vmm", dir);
	snprintf(a->intake, sizeof(a->intake), "%.4000s/ember-intake", dir);
	snprintf(a->kernel, sizeof(a->kernel), "%.4000s/../guest/vmlinux", dir);
	snprintf(a->initrd, sizeof(a->initrd), "%.4000s/../guest/initramfs.cpio", dir);
	snprintf(a->runtimes, sizeof(a->runtimes), "%.4000s/../runtimes", dir);
}

/* --jail-uids FIRST-LAST: no uid 0, FIRST <= LAST. */
static int parse_uids(const char *s, struct pool_jail *j)
{
	unsigned long first, last;
	char *end;

	errno = 0;
	first = strtoul(s, &end, 10);
	if (errno == 0 && end != s && *end == '-') {
		const char *l = end + 1;

		last = strtoul(l, &end, 10);
		if (errno == 0 && end != l && *end == '\0' && first > 0 && first <= last &&
		    last < UINT32_MAX) {
			j->uid_first = (uint32_t)first;
			j->uid_count = (uint32_t)(last - first + 1);
			return 0;
		}
	}
	log_err("--jail-uids %s: expected FIRST-LAST, 0 < FIRST <= LAST", s);
	return -EINVAL;
}

static bool valid_region(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	}
	return true;
}

static bool valid_account(const char *s)
{
	if (strlen(s) != 12)
		return false;
	for (int i = 0; i < 12; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

int emberd_args_parse(int argc, char **argv, struct emberd_args *a)
{
	uint64_t v;
	int opt, ret = 0;

	defaults(a);
	optind = 1;
	while (ret == 0 && (opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case OPT_HOME:
			ret = set_path(a->home, optarg, "--home");
			break;
		case OPT_LISTEN:
			ret = emberd_parse_listen(optarg, a->host, sizeof(a->host), &a->port);
			if (ret < 0)
				log_err("--listen %s: expected ADDR:PORT or [V6ADDR]:PORT", optarg);
			a->tcp = true;
			break;
		case OPT_LISTEN_ANY:
			a->listen_any = true;
			break;
		case OPT_NO_TCP:
			a->tcp = false;
			break;
		case OPT_BUDGET:
			ret = parse_u64(optarg, "--memory-budget", 128, UINT64_C(1) << 40,
					&a->memory_budget_mib);
			break;
		case OPT_KEEP:
			ret = parse_u64(optarg, "--keep-warm", 0, 86400 * 7, &v);
			a->keep_warm_s = (unsigned)v;
			break;
		case OPT_VMM:
			ret = set_path(a->vmm, optarg, "--vmm");
			break;
		case OPT_KERNEL:
			ret = set_path(a->kernel, optarg, "--kernel");
			break;
		case OPT_INITRD:
			ret = set_path(a->initrd, optarg, "--initrd");
			break;
		case OPT_RUNTIMES:
			ret = set_path(a->runtimes, optarg, "--runtimes");
			break;
		case OPT_GUEST_ARGS:
			if (snprintf(a->guest_args, sizeof(a->guest_args), "%s", optarg) >=
			    (int)sizeof(a->guest_args)) {
				log_err("--guest-args: at most %zu bytes",
					sizeof(a->guest_args) - 1);
				ret = -EINVAL;
			}
			a->has_guest_args = true;
			break;
		case OPT_NO_SNAP:
			a->snapstart = false;
			break;
		case OPT_NO_STANDBY:
			a->standby = false;
			break;
		case OPT_LOG:
			ret = log_parse_level(optarg, &a->level);
			if (ret < 0)
				log_err("--log-level %s: expected error, warn, info or debug",
					optarg);
			break;
		case OPT_REGION:
			if (!valid_region(optarg)) {
				log_err("--region %s: expected a region name like us-east-1",
					optarg);
				ret = -EINVAL;
			}
			snprintf(a->region, sizeof(a->region), "%.32s", optarg);
			break;
		case OPT_ACCOUNT:
			if (!valid_account(optarg)) {
				log_err("--account-id %s: expected 12 digits", optarg);
				ret = -EINVAL;
			}
			snprintf(a->account, sizeof(a->account), "%.12s", optarg);
			break;
		case OPT_NO_JAIL:
			a->jail.off = true;
			break;
		case OPT_JAIL_UIDS:
			ret = parse_uids(optarg, &a->jail);
			break;
		case OPT_JAIL_GID:
			ret = parse_u64(optarg, "--jail-gid", 1, UINT32_MAX - 1, &v);
			a->jail.gid = (uint32_t)v;
			break;
		case OPT_JAIL_MARGIN:
			ret = parse_u64(optarg, "--jail-memory-margin", 0, 1u << 20, &v);
			a->jail.mem_margin_mib = (uint32_t)v;
			break;
		case OPT_RETRY_BASE:
			ret = parse_seconds(optarg, "--async-retry-base", 0.001, 3600,
					    &a->async_retry_base_s);
			break;
		case OPT_ASYNC_CONC:
			ret = parse_u64(optarg, "--async-concurrency", 1, 1000, &v);
			a->async_concurrency = (unsigned)v;
			break;
		case OPT_DRAIN:
			ret = parse_seconds(optarg, "--drain-timeout", 0, 3600,
					    &a->drain_timeout_s);
			break;
		case OPT_LOG_FILE:
			ret = set_path(a->log_file, optarg, "--log-file");
			break;
		case OPT_VERSION:
			printf("emberd %s\n", EMBER_VERSION);
			return 1;
		case 'h':
			fputs(usage, stdout);
			return 1;
		default:
			fputs(usage, stderr);
			return -EINVAL;
		}
	}
	if (ret == 0 && optind < argc) {
		log_err("unexpected argument %s (see --help)", argv[optind]);
		ret = -EINVAL;
	}
	if (ret == 0 && a->tcp && !emberd_is_loopback(a->host)) {
		if (!a->listen_any) {
			log_err("--listen %s: not a loopback address. The Lambda API has no "
				"authentication: anyone who reaches it can run code here. Add "
				"--listen-any to do it anyway",
				a->host);
			ret = -EINVAL;
		} else {
			log_warn("serving the Lambda API on %s, beyond this host: anyone who "
				 "reaches it can run code here",
				 a->host);
		}
	}
	return ret;
}
