/* config: the typed configuration of one microVM, shaped like Firecracker's GET /vm/config.
 *
 * Contract: config_init() sets the defaults. The command line (main.c) fills
 * the struct today; the --config-file JSON and the API (issue 6) will fill the
 * same struct through the same setters, and config_validate() is the one
 * check for all of them. Setters and the validator return 0 or a negative
 * errno and write one human-readable reason into err (no trailing newline).
 * Field names follow Firecracker's: boot-source {kernel_image_path,
 * initrd_path, boot_args}, machine-config {vcpu_count, mem_size_mib, smt},
 * drives[] {drive_id, path_on_host, is_read_only, is_root_device}, entropy,
 * vsock {vsock_id, guest_cid, uds_path}. */
#ifndef EMBER_CONFIG_H
#define EMBER_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MIN_MEM_MIB     32
#define CONFIG_MAX_MEM_MIB     (1u << 20) /* 1 TiB; the host's overcommit policy may allow less */
#define CONFIG_DEFAULT_MEM_MIB 128
#define CONFIG_MIN_VCPUS       1
#define CONFIG_MAX_VCPUS       32
#define CONFIG_ERR_LEN	       256
/* boot_args, with its NUL: x86 Linux's COMMAND_LINE_SIZE. The VMM's arch layout
 * holds at least this much (a static assertion there). */
#define CONFIG_CMDLINE_MAX 2048
/* The i8042 flags are Firecracker's: they skip Linux's probes of the mouse
 * port, the multiplexer and the keyboard. ember's i8042 answers those at once
 * (devices/i8042.h), so a command line without them boots, and Ctrl-Alt-Del
 * works, all the same; the flags stay because skipping the probes still saves
 * about 160 port exits and 40 ms of a 420 ms boot in the testbox
 * (bench/RESULTS.md, issue 16; ~1 ms on hardware at the testbox's usual
 * 40-50x). noreplace-smp: with one vCPU, Linux otherwise rewrites every lock
 * prefix in its text, one text_poke() each (about 5000), a quarter second of
 * a nested boot (bench/RESULTS.md); the locks cost nothing measurable on one
 * vCPU. */
#define CONFIG_DEFAULT_CMDLINE                                                                     \
	"console=ttyS0 reboot=k panic=1 quiet i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd "  \
	"noreplace-smp"
/* Drives take the first virtio-mmio slots (/dev/vda, vdb, ...), the entropy
 * device the next one; the VMM's free ISA IRQs bound them all. */
#define CONFIG_MAX_DRIVES   8
#define CONFIG_DRIVE_ID_LEN 21 /* virtio-blk serial: 20 bytes + NUL */

struct boot_source_config {
	char kernel_image_path[PATH_MAX];
	char initrd_path[PATH_MAX]; /* "" for none */
	char boot_args[CONFIG_CMDLINE_MAX];
};

/* Firecracker's huge_pages: 4 KiB pages, 2 MiB hugetlbfs pages, or
 * transparent huge pages. ember-vmm accepts all three and backs guest RAM the
 * same way for each: anonymous memory aligned to 2 MiB with MADV_HUGEPAGE, so
 * the host kernel uses 2 MiB pages where it has them (vmm/core/gmem.c). It
 * never uses hugetlbfs, so "2M" needs no pre-allocated pool. */
enum config_huge_pages {
	CONFIG_HUGE_PAGES_NONE, /* "None", the default */
	CONFIG_HUGE_PAGES_2M,	/* "2M": mem_size_mib must be even */
	CONFIG_HUGE_PAGES_THP,	/* "Transparent": mem_size_mib must be even */
};

struct machine_config {
	unsigned vcpu_count;
	uint64_t mem_size_mib;
	bool smt;		/* Firecracker's field; only false is supported */
	bool track_dirty_pages; /* Firecracker's field; for Diff snapshots */
	enum config_huge_pages huge_pages;
};

struct console_config {
	char path[PATH_MAX]; /* "" for stdout */
};

/* Firecracker's drives[]: one virtio-blk device backed by a host file. */
struct drive_config {
	char drive_id[CONFIG_DRIVE_ID_LEN]; /* also the GET_ID serial; "vda" ... by default */
	char path_on_host[PATH_MAX];
	bool is_read_only;
	bool is_root_device; /* adds root=/dev/vdX ro|rw to the command line */
};

/* Firecracker's entropy device; ember always has one unless turned off here. */
struct entropy_config {
	bool enabled;
};

/* Firecracker's vsock: one virtio-vsock device whose host side is the Unix
 * socket uds_path (hybrid vsock). guest_cid is VSOCK_CID_MIN (3) and up, below
 * 2^32 - 1 (VMADDR_CID_ANY). uds_path is at most CONFIG_VSOCK_PATH_MAX bytes so
 * that "<uds_path>_4294967295" still fits a sockaddr_un's sun_path. */
#define CONFIG_VSOCK_CID_MIN  3u
#define CONFIG_VSOCK_CID_MAX  0xfffffffeu
#define CONFIG_VSOCK_PATH_MAX 96u
#define CONFIG_VSOCK_ID_LEN   16u

struct vsock_config {
	bool enabled;
	char vsock_id[CONFIG_VSOCK_ID_LEN]; /* "vsock" */
	uint32_t guest_cid;
	char uds_path[CONFIG_VSOCK_PATH_MAX + 1];
};

struct vm_config {
	struct boot_source_config boot_source;
	struct machine_config machine;
	struct console_config console;
	struct drive_config drives[CONFIG_MAX_DRIVES];
	unsigned ndrives;
	struct entropy_config entropy;
	struct vsock_config vsock;
};

void config_init(struct vm_config *cfg);
/* Copies src into a fixed-size field; -E2BIG if it does not fit. */
int config_set_string(char *dst, size_t cap, const char *src, const char *what, char *err,
		      size_t errlen);
/* Parses a decimal in [min, max] for `what`; -EINVAL with a reason otherwise. */
int config_parse_uint(const char *s, uint64_t min, uint64_t max, const char *what, uint64_t *out,
		      char *err, size_t errlen);
/* Appends a drive from "PATH[,ro][,root]" (the --drive syntax); its drive_id
 * is "vda", "vdb", ... in order. -EINVAL for bad syntax, -ENOSPC past
 * CONFIG_MAX_DRIVES, -E2BIG for a path too long. The file is checked by the
 * builder when it opens it. */
int config_add_drive(struct vm_config *cfg, const char *spec, char *err, size_t errlen);
/* Sets the vsock device from "CID,PATH" (the --vsock syntax). -EINVAL for bad
 * syntax, a CID out of range, an empty path or a second --vsock; -E2BIG for
 * a path longer than CONFIG_VSOCK_PATH_MAX. The socket itself is the
 * builder's: it refuses a live one and replaces a stale one. */
int config_set_vsock(struct vm_config *cfg, const char *spec, char *err, size_t errlen);
int config_validate(const struct vm_config *cfg, char *err, size_t errlen);

#endif
