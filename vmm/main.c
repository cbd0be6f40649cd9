/* ember-vmm: boot one Linux microVM under KVM (wiring only: argv -> vm_config -> vmm). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "core/vcpu.h"
#include "devices/boot_timer.h"
#include "log.h"
#include "vmm.h"

static const char usage[] =
	"usage: ember-vmm --kernel PATH [--initrd PATH] [--cmdline ARGS] [--mem-mib N]\n"
	"                 [--vcpus N] [--console FILE] [--drive PATH[,ro][,root]]...\n"
	"                 [--vsock CID,PATH] [--log-level LEVEL]\n"
	"\n"
	"Boots one Linux microVM under KVM and exits when the guest powers off.\n"
	"\n"
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
	"  -h, --help        this text\n"
	"\n"
	"Every VM also has a virtio-rng device (the guest's /dev/hwrng), fed from\n"
	"the host's getrandom().\n"
	"\n"
	"The guest ends the VM by rebooting: use reboot=k (the i8042 reset) on its\n"
	"command line. reboot=t is a triple fault, which counts as a crash.\n"
	"Keep the i8042.* flags of the default in a custom command line: without\n"
	"them the guest's i8042 driver spends a second or more probing for a mouse.\n"
	"When ember-init writes the boot-timer port, ember-vmm logs\n"
	"\"guest booted in N us\" (from ember-vmm's start).\n"
	"\n"
	"Exit status:\n"
	"  0    the guest powered off or rebooted\n"
	"  1    bad command line or input file (one error line on stderr)\n"
	"  2    the guest crashed (triple fault or reported crash)\n"
	"  3    KVM or host failure\n"
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
	OPT_LOG
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
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Fills cfg from argv. Returns 0, 1 for --help, or -EINVAL after one error line. */
static int parse_args(int argc, char **argv, struct vm_config *cfg)
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
			ret = config_set_string(bs->kernel_image_path,
						sizeof(bs->kernel_image_path), optarg, "--kernel",
						err, sizeof(err));
			break;
		case OPT_INITRD:
			ret = config_set_string(bs->initrd_path, sizeof(bs->initrd_path), optarg,
						"--initrd", err, sizeof(err));
			break;
		case OPT_CMDLINE:
			ret = config_set_string(bs->boot_args, sizeof(bs->boot_args), optarg,
						"--cmdline", err, sizeof(err));
			break;
		case OPT_MEM:
			ret = config_parse_uint(optarg, CONFIG_MIN_MEM_MIB, CONFIG_MAX_MEM_MIB,
						"--mem-mib", &v, err, sizeof(err));
			cfg->machine.mem_size_mib = v;
			break;
		case OPT_VCPUS:
			ret = config_parse_uint(optarg, CONFIG_MIN_VCPUS, CONFIG_MAX_VCPUS,
						"--vcpus", &v, err, sizeof(err));
			cfg->machine.vcpu_count = (unsigned)v;
			break;
		case OPT_CONSOLE:
			ret = config_set_string(cfg->console.path, sizeof(cfg->console.path),
						optarg, "--console", err, sizeof(err));
			break;
		case OPT_DRIVE:
			ret = config_add_drive(cfg, optarg, err, sizeof(err));
			break;
		case OPT_VSOCK:
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
	if (ret == 0)
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

int main(int argc, char **argv)
{
	uint64_t start_ns = boot_timer_now_ns();
	struct vm_config *cfg;
	struct vmm *vmm;
	int ret;

	guard_std_fds();
	log_init("ember-vmm", LOG_INFO);
	/* A console on a closed pipe must not kill the VMM. */
	signal(SIGPIPE, SIG_IGN);
	cfg = malloc(sizeof(*cfg));
	if (cfg == NULL)
		return VMM_EXIT_KVM;
	config_init(cfg);
	ret = parse_args(argc, argv, cfg);
	if (ret != 0) {
		free(cfg);
		return ret > 0 ? 0 : VMM_EXIT_CONFIG;
	}
	ret = vmm_build(cfg, start_ns, &vmm);
	if (ret == VMM_EXIT_OK) {
		ret = vmm_run(vmm);
		vmm_destroy(vmm);
	}
	free(cfg);
	return ret;
}
