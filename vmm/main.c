/* ember-vmm: boot one Linux microVM under KVM (wiring only: argv, config file, API -> vmm). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/api/api.h"
#include "lib/fcapi/schema.h"
#include "vmm/api/server.h"
#include "lib/fcapi/config.h"
#include "vmm/control.h"
#include "vmm/lifecycle.h"
#include "vmm/metrics.h"
#include "vmm/core/vcpu.h"
#include "vmm/devices/boot_timer.h"
#include "vmm/seccomp/filter.h"
#include "lib/util/log.h"

static const char usage[] =
	"usage: ember-vmm [--api-sock PATH] [--id ID] [--config-file FILE | --no-api]\n"
	"                 [--kernel PATH [--initrd PATH] [--cmdline ARGS] [--mem-mib N]\n"
	"                  [--vcpus N] [--drive PATH[,ro][,root]]... [--vsock CID,PATH]]\n"
	"                 [--console FILE] [--log-level LEVEL]\n"
	"\n"
	"Boots one Linux microVM under KVM and exits when the guest powers off.\n"
	"The VM is configured in one of three ways, as in Firecracker: through the\n"
	"API (--api-sock, then InstanceStart), from a JSON file (--config-file, the\n"
	"shape of GET /vm/config), or with the options below (--kernel ...). The last\n"
	"two boot at once; with --api-sock as well, the API then serves the running VM.\n"
	"\n"
	"  --api-sock PATH   serve Firecracker's REST API (HTTP/1.1) on the Unix socket\n"
	"                    PATH; a stale socket is replaced, a live one is an error.\n"
	"                    See vmm/api/API.md\n"
	"  --id ID           the instance id GET / reports (default anonymous-instance)\n"
	"  --config-file FILE  boot from FILE: {\"boot-source\", \"machine-config\",\n"
	"                    \"drives\", \"vsock\", \"entropy\", ...}\n"
	"  --no-api          no API socket (the default without --api-sock)\n"
	"  --restore STATE,MEM  run the snapshot in the state file STATE and the memory\n"
	"                    file MEM (PUT /snapshot/create writes them) instead of booting;\n"
	"                    its configuration comes from the snapshot\n"
	"  --vsock-override PATH  with --restore: the vsock device's Unix socket (the\n"
	"                    load request's vsock_override)\n"
	"  --drive-override ID=PATH  with --restore: drive ID's file (drive_overrides;\n"
	"                    repeatable). A state file's own host paths are used only\n"
	"                    when relative and inside the working directory\n"
	"  --kernel PATH     ELF vmlinux (PVH note or 64-bit entry) or bzImage (protocol >= 2.06)\n"
	"  --initrd PATH     initramfs, placed at the top of low memory\n"
	"  --cmdline ARGS    guest kernel command line (at most 2047 bytes)\n"
	"                    default: \"" CONFIG_DEFAULT_CMDLINE "\"\n"
	"  --mem-mib N       guest memory in MiB, 32 to what the host allows (default 128);\n"
	"                    above 3072 MiB the rest is placed above 4 GiB\n"
	"  --vcpus N         vCPUs, 1 to 32 (default 1)\n"
	"  --console FILE    write the guest console (COM1) to FILE instead of stdout;\n"
	"                    stdin always feeds the console's input\n"
	"  --drive PATH[,ro][,root]\n"
	"                    a virtio-blk disk backed by the file PATH (repeatable, at most 8);\n"
	"                    the guest sees them in order as /dev/vda, /dev/vdb, ...;\n"
	"                    ro: read-only (guest writes fail); root: boot from it\n"
	"                    (adds root=/dev/vdX ro|rw to the command line)\n"
	"  --vsock CID,PATH  a virtio-vsock device with guest CID (3 to 4294967294) whose\n"
	"                    host side is the Unix socket PATH (at most 96 bytes), as in\n"
	"                    Firecracker: connect to PATH and send \"CONNECT <port>\\n\" to reach\n"
	"                    a guest port (answer \"OK <n>\\n\"); a guest connection to CID 2\n"
	"                    port P goes to the socket PATH_P. A stale PATH is replaced,\n"
	"                    one in use is an error; PATH is removed at exit\n"
	"  --log-level L     error, warn, info (default) or debug; logs go to stderr\n"
	"  --seccomp-level N 2 (default): each thread runs under its seccomp allowlist\n"
	"                    (vmm/seccomp/); 0: no filters, for debugging only\n"
	"  --no-seccomp      the same as --seccomp-level 0 (Firecracker's flag)\n"
	"  -h, --help        this text\n"
	"\n"
	"Every VM also has a virtio-rng device (the guest's /dev/hwrng), fed from\n"
	"the host's getrandom().\n"
	"\n"
	"The guest ends the VM by rebooting: use reboot=k (the i8042 reset) on its\n"
	"command line. reboot=t is a triple fault, which counts as a crash.\n"
	"The default's i8042.* flags make the guest skip probing the keyboard\n"
	"controller; without them it probes, a little slower (bench/RESULTS.md).\n"
	"When ember-init writes the boot-timer port, ember-vmm logs\n"
	"\"guest booted in N us\" (from ember-vmm's start).\n"
	"\n"
	"Exit status:\n"
	"  0    the guest powered off or rebooted\n"
	"  1    bad command line or input file (one error line on stderr)\n"
	"  2    the guest crashed (triple fault or reported crash)\n"
	"  3    KVM or host failure\n"
	"  4    guest memory lost: the memory file of a restored VM shrank under it\n"
	"  128+N stopped by signal N (SIGINT, SIGTERM, SIGHUP)\n";

enum {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_MEM,
	OPT_VCPUS,
	OPT_CONSOLE,
	OPT_DRIVE,
	OPT_VSOCK,
	OPT_LOG,
	OPT_API_SOCK,
	OPT_ID,
	OPT_CONFIG_FILE,
	OPT_NO_API,
	OPT_RESTORE,
	OPT_VSOCK_OVERRIDE,
	OPT_DRIVE_OVERRIDE,
	OPT_SECCOMP_LEVEL,
	OPT_NO_SECCOMP,
};

static const struct option options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "mem-mib", required_argument, NULL, OPT_MEM },
	{ "vcpus", required_argument, NULL, OPT_VCPUS },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "drive", required_argument, NULL, OPT_DRIVE },
	{ "vsock", required_argument, NULL, OPT_VSOCK },
	{ "log-level", required_argument, NULL, OPT_LOG },
	{ "api-sock", required_argument, NULL, OPT_API_SOCK },
	{ "id", required_argument, NULL, OPT_ID },
	{ "config-file", required_argument, NULL, OPT_CONFIG_FILE },
	{ "no-api", no_argument, NULL, OPT_NO_API },
	{ "restore", required_argument, NULL, OPT_RESTORE },
	{ "vsock-override", required_argument, NULL, OPT_VSOCK_OVERRIDE },
	{ "drive-override", required_argument, NULL, OPT_DRIVE_OVERRIDE },
	{ "seccomp-level", required_argument, NULL, OPT_SECCOMP_LEVEL },
	{ "no-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* What argv asks for besides the VM's config. */
struct opts {
	const char *api_sock;
	const char *id;
	const char *config_file;
	bool no_api;
	bool vm_options; /* --kernel and the other VM options */
	bool restore;
	bool overrides;		  /* --vsock-override or --drive-override given */
	struct ctl_args snapshot; /* --restore STATE,MEM and the overrides */
	enum filter_level seccomp;
};

/* --vsock-override PATH and --drive-override ID=PATH (each id once), with the
 * load request's bounds (schema_snapshot_load_put()). */
static int parse_override(int opt, const char *arg, struct schema_load_overrides *ov, char *err,
			  size_t errlen)
{
	const char *eq = strchr(arg, '=');
	size_t n = eq != NULL ? (size_t)(eq - arg) : 0;
	struct schema_drive_override *d;

	if (opt == OPT_VSOCK_OVERRIDE) {
		if (arg[0] == '\0' || strlen(arg) > CONFIG_VSOCK_PATH_MAX) {
			snprintf(err, errlen, "--vsock-override: a path of 1 to %u bytes",
				 CONFIG_VSOCK_PATH_MAX);
			return -EINVAL;
		}
		ov->vsock = true;
		snprintf(ov->vsock_uds_path, sizeof(ov->vsock_uds_path), "%s", arg);
		return 0;
	}
	if (eq == NULL || n == 0 || n >= CONFIG_DRIVE_ID_LEN || eq[1] == '\0' ||
	    strlen(eq + 1) >= PATH_MAX) {
		snprintf(err, errlen, "--drive-override: expected ID=PATH, got '%.64s'", arg);
		return -EINVAL;
	}
	for (unsigned i = 0; i < ov->ndrives; i++) {
		if (strlen(ov->drives[i].drive_id) == n &&
		    memcmp(ov->drives[i].drive_id, arg, n) == 0) {
			snprintf(err, errlen, "--drive-override: drive '%.*s' given twice", (int)n,
				 arg);
			return -EINVAL;
		}
	}
	if (ov->ndrives == CONFIG_MAX_DRIVES) {
		snprintf(err, errlen, "--drive-override: at most %d drives", CONFIG_MAX_DRIVES);
		return -EINVAL;
	}
	d = &ov->drives[ov->ndrives++];
	memcpy(d->drive_id, arg, n);
	d->drive_id[n] = '\0';
	snprintf(d->path_on_host, sizeof(d->path_on_host), "%s", eq + 1);
	return 0;
}

/* --restore STATE,MEM: both paths, each non-empty and fitting PATH_MAX. */
static int parse_restore(const char *spec, struct ctl_args *a, char *err, size_t errlen)
{
	const char *comma = strchr(spec, ',');
	size_t n = comma != NULL ? (size_t)(comma - spec) : 0;

	if (comma == NULL || n == 0 || comma[1] == '\0' || n >= sizeof(a->path) ||
	    strlen(comma + 1) >= sizeof(a->mem_path)) {
		snprintf(err, errlen, "--restore: expected STATE,MEM (two file paths), got '%.64s'",
			 spec);
		return -EINVAL;
	}
	memcpy(a->path, spec, n);
	a->path[n] = '\0';
	snprintf(a->mem_path, sizeof(a->mem_path), "%s", comma + 1);
	a->resume = true;
	return 0;
}

#define CONFIG_FILE_MAX (1u << 20)

/* Reads and parses --config-file into cfg (keeping cfg's console). */
static int load_config_file(const char *path, struct vm_config *cfg, char *err, size_t errlen)
{
	struct console_config console = cfg->console;
	char *buf = NULL, why[CONFIG_ERR_LEN / 2];
	size_t len = 0;
	ssize_t n;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "--config-file %s: %s", path, strerror(errno));
		return -errno;
	}
	buf = malloc(CONFIG_FILE_MAX + 1);
	ret = buf == NULL ? -ENOMEM : 0;
	while (ret == 0 && (n = read(fd, buf + len, CONFIG_FILE_MAX + 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (ret == 0 && len > CONFIG_FILE_MAX) {
		snprintf(err, errlen, "--config-file %s: larger than %u bytes", path,
			 CONFIG_FILE_MAX);
		ret = -E2BIG;
	} else if (ret == 0) {
		buf[len] = '\0';
		ret = memchr(buf, '\0', len) != NULL ? -EINVAL : 0;
		if (ret < 0)
			snprintf(why, sizeof(why), "the file contains a NUL byte");
		else
			ret = schema_parse_config_file(buf, cfg, why, sizeof(why));
		if (ret < 0)
			snprintf(err, errlen, "--config-file %s: %s", path, why);
	}
	free(buf);
	cfg->console = console;
	return ret;
}

/* Fills cfg and o from argv. Returns 0, 1 for --help, or -EINVAL after one error line. */
static int parse_args(int argc, char **argv, struct vm_config *cfg, struct opts *o)
{
	struct boot_source_config *bs = &cfg->boot_source;
	char err[CONFIG_ERR_LEN];
	enum log_level level;
	uint64_t v;
	int opt, ret = 0;

	opterr = 0;
	while (ret == 0 && (opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case OPT_KERNEL:
			o->vm_options = true;
			ret = config_set_string(bs->kernel_image_path,
						sizeof(bs->kernel_image_path), optarg, "--kernel",
						err, sizeof(err));
			break;
		case OPT_INITRD:
			o->vm_options = true;
			ret = config_set_string(bs->initrd_path, sizeof(bs->initrd_path), optarg,
						"--initrd", err, sizeof(err));
			break;
		case OPT_CMDLINE:
			o->vm_options = true;
			ret = config_set_string(bs->boot_args, sizeof(bs->boot_args), optarg,
						"--cmdline", err, sizeof(err));
			break;
		case OPT_MEM:
			o->vm_options = true;
			ret = config_parse_uint(optarg, CONFIG_MIN_MEM_MIB, CONFIG_MAX_MEM_MIB,
						"--mem-mib", &v, err, sizeof(err));
			cfg->machine.mem_size_mib = v;
			break;
		case OPT_VCPUS:
			o->vm_options = true;
			ret = config_parse_uint(optarg, CONFIG_MIN_VCPUS, CONFIG_MAX_VCPUS,
						"--vcpus", &v, err, sizeof(err));
			cfg->machine.vcpu_count = (unsigned)v;
			break;
		case OPT_CONSOLE:
			ret = config_set_string(cfg->console.path, sizeof(cfg->console.path),
						optarg, "--console", err, sizeof(err));
			break;
		case OPT_DRIVE:
			o->vm_options = true;
			ret = config_add_drive(cfg, optarg, err, sizeof(err));
			break;
		case OPT_VSOCK:
			o->vm_options = true;
			ret = config_set_vsock(cfg, optarg, err, sizeof(err));
			break;
		case OPT_LOG:
			ret = log_parse_level(optarg, &level);
			if (ret < 0)
				snprintf(err, sizeof(err),
					 "--log-level: '%.32s' is not one of "
					 "error, warn, info, debug",
					 optarg);
			else
				log_set_level(level);
			break;
		case OPT_API_SOCK:
			o->api_sock = optarg;
			break;
		case OPT_ID:
			o->id = optarg;
			break;
		case OPT_CONFIG_FILE:
			o->config_file = optarg;
			break;
		case OPT_NO_API:
			o->no_api = true;
			break;
		case OPT_RESTORE:
			o->restore = true;
			ret = parse_restore(optarg, &o->snapshot, err, sizeof(err));
			break;
		case OPT_VSOCK_OVERRIDE:
		case OPT_DRIVE_OVERRIDE:
			o->overrides = true;
			ret = parse_override(opt, optarg, &o->snapshot.overrides, err, sizeof(err));
			break;
		case OPT_SECCOMP_LEVEL:
			if (strcmp(optarg, "0") != 0 && strcmp(optarg, "2") != 0) {
				snprintf(err, sizeof(err),
					 "--seccomp-level: '%.16s' is not 0 (off) or 2 (on)",
					 optarg);
				ret = -EINVAL;
			}
			o->seccomp = optarg[0] == '0' ? FILTER_LEVEL_OFF : FILTER_LEVEL_ON;
			break;
		case OPT_NO_SECCOMP:
			o->seccomp = FILTER_LEVEL_OFF;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		default:
			snprintf(err, sizeof(err),
				 "unknown or incomplete option '%.64s' (see --help)",
				 argv[optind - 1]);
			ret = -EINVAL;
			break;
		}
	}
	if (ret == 0 && optind < argc) {
		snprintf(err, sizeof(err), "unexpected argument '%.64s' (see --help)",
			 argv[optind]);
		ret = -EINVAL;
	}
	if (ret == 0 && o->config_file != NULL && o->vm_options) {
		snprintf(err, sizeof(err),
			 "--config-file replaces --kernel, --initrd, --cmdline, --mem-mib, "
			 "--vcpus, --drive and --vsock: give one or the other");
		ret = -EINVAL;
	} else if (ret == 0 && o->restore && (o->config_file != NULL || o->vm_options)) {
		snprintf(err, sizeof(err),
			 "--restore takes its configuration from the snapshot: drop --config-file "
			 "and the VM options");
		ret = -EINVAL;
	} else if (ret == 0 && o->overrides && !o->restore) {
		snprintf(err, sizeof(err),
			 "--vsock-override and --drive-override go with --restore");
		ret = -EINVAL;
	} else if (ret == 0 && o->no_api && o->api_sock != NULL) {
		snprintf(err, sizeof(err), "--no-api and --api-sock contradict each other");
		ret = -EINVAL;
	} else if (ret == 0 && o->api_sock == NULL && o->config_file == NULL && !o->vm_options &&
		   !o->restore) {
		snprintf(err, sizeof(err),
			 "nothing to boot: give --kernel, --config-file, --restore or --api-sock "
			 "(see --help)");
		ret = -EINVAL;
	}
	if (ret == 0 && o->config_file != NULL)
		ret = load_config_file(o->config_file, cfg, err, sizeof(err));
	else if (ret == 0 && o->vm_options)
		ret = config_validate(cfg, err, sizeof(err));
	if (ret < 0) {
		log_err("%s", err);
		return -EINVAL;
	}
	return 0;
}

/* If the parent closed stdin/out/err, later opens would land on them. */
static void guard_std_fds(void)
{
	struct stat st;

	for (int fd = 0; fd <= 2; fd++) {
		if (fstat(fd, &st) < 0 && errno == EBADF) {
			int null = open("/dev/null", O_RDWR);

			if (null >= 0 && null != fd) {
				dup2(null, fd);
				close(null);
			}
		}
	}
}

/* Blocks the signals the VMM turns into a clean stop, before any thread
 * exists, so every thread inherits the mask and only signalfds see them. */
static void block_stop_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int main(int argc, char **argv)
{
	uint64_t start_ns = boot_timer_now_ns();
	struct api_server *server = NULL;
	struct opts o = { .id = "anonymous-instance", .seccomp = FILTER_LEVEL_ON };
	struct metrics metrics;
	struct ctl *ctl;
	struct api api;
	int ret;

	guard_std_fds();
	log_init("ember-vmm", LOG_INFO);
	/* A console or API client on a closed pipe must not kill the VMM. */
	signal(SIGPIPE, SIG_IGN);
	/* struct ctl holds the whole config: too big for the stack. */
	ctl = malloc(sizeof(*ctl));
	if (ctl == NULL || ctl_init(ctl) < 0) {
		free(ctl);
		return VMM_EXIT_KVM;
	}
	ret = parse_args(argc, argv, &ctl->cfg, &o);
	if (ret != 0) {
		ctl_destroy(ctl);
		free(ctl);
		return ret > 0 ? 0 : VMM_EXIT_CONFIG;
	}
	if (o.seccomp == FILTER_LEVEL_OFF)
		log_warn("SECCOMP FILTERS ARE OFF (--seccomp-level 0): any thread may make any "
			 "system call. For debugging only, never in production.");
	if (filter_set_level(o.seccomp) < 0) {
		ctl_destroy(ctl);
		free(ctl);
		return VMM_EXIT_KVM;
	}
	block_stop_signals();
	metrics_init(&metrics, api_route_names, api_nroutes);
	api_init(&api, ctl, &metrics, o.id);
	if (o.api_sock != NULL) {
		ret = api_server_create(o.api_sock, &api, &server);
		if (ret == 0)
			ret = api_server_start(server);
	}
	if (ret == 0)
		ret = lifecycle_run(ctl, &metrics, start_ns,
				    o.restore				    ? LIFECYCLE_RESTORE
				    : o.config_file != NULL || o.vm_options ? LIFECYCLE_BOOT
									    : LIFECYCLE_WAIT,
				    &o.snapshot);
	else
		ret = ret == -ENOMEM ? VMM_EXIT_KVM : VMM_EXIT_CONFIG;
	api_server_destroy(server);
	api_destroy(&api);
	metrics_destroy(&metrics);
	ctl_destroy(ctl);
	free(ctl);
	return ret;
}
