/* args: ember-jailer's command line, the jail's paths and its cgroup plan; pure (see jail.h). */
#include "vmm/jail/jail.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB ((uint64_t)1024 * 1024)

const char jail_usage[] =
	"usage: ember-jailer --id ID --exec-file PATH --uid UID --gid GID\n"
	"                    [--chroot-base-dir DIR] [--cgroup-version 1|2]\n"
	"                    [--cgroup FILE=VALUE]... [--parent-cgroup PATH]\n"
	"                    [--guest-mem-mib N] [--resource-limit NAME=VALUE]...\n"
	"                    [--netns PATH] [--new-pid-ns] [--daemonize]\n"
	"                    [--link-exec-file]\n"
	"                    [-- VMM ARGUMENTS...]\n"
	"\n"
	"Builds a jail for one microVM and execs the VMM inside it, as Firecracker's\n"
	"jailer does (vmm/jail/README.md): a cgroup with limits, resource limits, new\n"
	"mount, IPC, UTS and network namespaces (and PID with --new-pid-ns), a root that\n"
	"holds only <chroot-base-dir>/<exec name>/<id>/root with /dev/kvm (and\n"
	"/dev/userfaultfd), then the unprivileged UID:GID with no capabilities and\n"
	"no_new_privs. The VMM runs as \"/<exec name> --id ID VMM ARGUMENTS...\".\n"
	"\n"
	"  --id ID              the VM's id: letters, digits and '-', at most 64\n"
	"  --exec-file PATH     the VMM binary; it is copied into the jail\n"
	"  --uid UID, --gid GID the VMM's user and group (numbers, not 0)\n"
	"  --chroot-base-dir DIR  where jails live (default " JAIL_DEFAULT_BASE ")\n"
	"  --cgroup-version V   1 or 2 (default: what /sys/fs/cgroup is)\n"
	"  --cgroup FILE=VALUE  write VALUE to FILE of the VM's cgroup, e.g.\n"
	"                       cpu.max=\"50000 100000\" (repeatable)\n"
	"  --parent-cgroup PATH the VM's cgroup is PATH/ID (default: the exec name)\n"
	"  --guest-mem-mib N    memory limit: N MiB of guest memory plus a margin of\n"
	"                       64 MiB for the VMM itself (an ember extension)\n"
	"  --resource-limit NAME=VALUE  fsize, no-file or nproc (repeatable);\n"
	"                       defaults: no-file=2048, nproc=64\n"
	"  --netns PATH         join this network namespace instead of a new, empty one\n"
	"  --new-pid-ns         run the VMM as PID 1 of a new PID namespace; this\n"
	"                       process writes its pid to <root>/<exec name>.pid and exits\n"
	"  --daemonize          setsid() and standard I/O to /dev/null before the exec\n"
	"  --link-exec-file     hard-link the exec file into the jail instead of copying\n"
	"                       it, if it is root's, writable by no one else, not set-id,\n"
	"                       runnable by others and on the jail's file system (an\n"
	"                       ember extension; otherwise it is copied all the same)\n"
	"  -h, --help           this text\n"
	"\n"
	"Exit status: 1 if the jail could not be built (one error line on stderr);\n"
	"otherwise the VMM's, or 0 from the parent with --new-pid-ns.\n";

enum {
	OPT_ID = 256,
	OPT_EXEC,
	OPT_UID,
	OPT_GID,
	OPT_BASE,
	OPT_CGVER,
	OPT_CGROUP,
	OPT_PARENT,
	OPT_MEM,
	OPT_RLIMIT,
	OPT_NETNS,
	OPT_PIDNS,
	OPT_DAEMON,
	OPT_LINK,
};

static const struct option options[] = {
	{ "id", required_argument, NULL, OPT_ID },
	{ "exec-file", required_argument, NULL, OPT_EXEC },
	{ "uid", required_argument, NULL, OPT_UID },
	{ "gid", required_argument, NULL, OPT_GID },
	{ "chroot-base-dir", required_argument, NULL, OPT_BASE },
	{ "cgroup-version", required_argument, NULL, OPT_CGVER },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "parent-cgroup", required_argument, NULL, OPT_PARENT },
	{ "guest-mem-mib", required_argument, NULL, OPT_MEM },
	{ "resource-limit", required_argument, NULL, OPT_RLIMIT },
	{ "netns", required_argument, NULL, OPT_NETNS },
	{ "new-pid-ns", no_argument, NULL, OPT_PIDNS },
	{ "daemonize", no_argument, NULL, OPT_DAEMON },
	{ "link-exec-file", no_argument, NULL, OPT_LINK },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* --resource-limit names: Firecracker's two, and nproc (ember). */
static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "fsize", RLIMIT_FSIZE },
	{ "no-file", RLIMIT_NOFILE },
	{ "nproc", RLIMIT_NPROC },
};

/* A decimal number in [min, max], nothing else. */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static bool valid_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > JAIL_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '-')
			return false;
	return true;
}

/* A relative path of plain components: no "", ".", ".." or leading '/'. */
static bool valid_relative(const char *path)
{
	const char *c = path;

	if (*path == '\0' || *path == '/')
		return false;
	while (*c != '\0') {
		size_t n = strcspn(c, "/");

		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		for (size_t i = 0; i < n; i++)
			if (!isalnum((unsigned char)c[i]) && strchr("-_.@:", c[i]) == NULL)
				return false;
		c += n;
		if (*c == '/')
			c++;
		if (*c == '\0' && c[-1] == '/')
			return false;
	}
	return true;
}

/* FILE=VALUE: FILE is <controller>.<name> ([a-z0-9_.]), not one of the files
 * that move processes or enable controllers (the jailer does those itself). */
static int parse_cgroup(const char *spec, struct jail_args *a, char *err, size_t errlen)
{
	static const char *const reserved[] = { "cgroup.procs", "cgroup.threads",
						"cgroup.subtree_control", "tasks" };
	const char *eq = strchr(spec, '=');
	size_t n = eq != NULL ? (size_t)(eq - spec) : 0;
	struct jail_cgroup_setting *s;
	const char *dot;

	if (eq == NULL || n == 0 || n >= JAIL_CGROUP_FILE_MAX) {
		snprintf(err, errlen,
			 "--cgroup: expected FILE=VALUE (e.g. pids.max=64), got '%.64s'", spec);
		return -EINVAL;
	}
	dot = memchr(spec, '.', n);
	for (size_t i = 0; i < n; i++) {
		if (!islower((unsigned char)spec[i]) && !isdigit((unsigned char)spec[i]) &&
		    spec[i] != '_' && spec[i] != '.')
			dot = NULL;
	}
	if (dot == NULL || dot == spec || dot == eq - 1) {
		snprintf(err, errlen,
			 "--cgroup: '%.*s' is not a cgroup file name (<controller>.<name>)", (int)n,
			 spec);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		if (strlen(reserved[i]) == n && memcmp(reserved[i], spec, n) == 0) {
			snprintf(err, errlen, "--cgroup: %s is the jailer's to write", reserved[i]);
			return -EINVAL;
		}
	}
	if (strlen(eq + 1) >= JAIL_CGROUP_VALUE_MAX || strpbrk(eq + 1, "\n\r") != NULL) {
		snprintf(err, errlen,
			 "--cgroup %.*s: the value is longer than %d bytes or has a newline",
			 (int)n, spec, JAIL_CGROUP_VALUE_MAX - 1);
		return -EINVAL;
	}
	if (a->ncgroups == JAIL_MAX_CGROUPS) {
		snprintf(err, errlen, "--cgroup: at most %d of them", JAIL_MAX_CGROUPS);
		return -EINVAL;
	}
	s = &a->cgroups[a->ncgroups++];
	memcpy(s->file, spec, n);
	s->file[n] = '\0';
	snprintf(s->value, sizeof(s->value), "%s", eq + 1);
	return 0;
}

/* Sets resource to value, replacing an earlier value (the defaults come first). */
static void set_rlimit(struct jail_args *a, int resource, rlim_t value)
{
	unsigned i = 0;

	while (i < a->nrlimits && a->rlimits[i].resource != resource)
		i++;
	a->rlimits[i] = (struct jail_rlimit){ .resource = resource, .value = value };
	if (i == a->nrlimits)
		a->nrlimits++;
}

static int parse_rlimit(const char *spec, struct jail_args *a, char *err, size_t errlen)
{
	const char *eq = strchr(spec, '=');
	size_t n = eq != NULL ? (size_t)(eq - spec) : 0;
	uint64_t v;

	for (size_t i = 0; eq != NULL && i < sizeof(rlimit_names) / sizeof(rlimit_names[0]); i++) {
		if (strlen(rlimit_names[i].name) != n || memcmp(rlimit_names[i].name, spec, n) != 0)
			continue;
		if (parse_u64(eq + 1, 1, UINT64_MAX - 1, &v) < 0) {
			snprintf(err, errlen,
				 "--resource-limit %s: '%.32s' is not a positive number",
				 rlimit_names[i].name, eq + 1);
			return -EINVAL;
		}
		set_rlimit(a, rlimit_names[i].resource, (rlim_t)v);
		return 0;
	}
	snprintf(err, errlen,
		 "--resource-limit: expected fsize=N, no-file=N or nproc=N, got '%.64s'", spec);
	return -EINVAL;
}

static int parse_id_number(const char *s, const char *flag, uint32_t *out, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_u64(s, 1, UINT32_MAX - 1, &v) < 0) {
		snprintf(err, errlen,
			 "%s: '%.32s' is not a number from 1 to %u (the VMM must not "
			 "run as root)",
			 flag, s, UINT32_MAX - 1);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

/* The checks that need every flag: required ones, and their forms. */
static int check_args(const struct jail_args *a, char *err, size_t errlen)
{
	const char *base;

	if (a->id == NULL || a->exec_file == NULL || a->uid == 0 || a->gid == 0) {
		snprintf(err, errlen, "missing %s (see --help)",
			 a->id == NULL		? "--id"
			 : a->exec_file == NULL ? "--exec-file"
			 : a->uid == 0		? "--uid"
						: "--gid");
		return -EINVAL;
	}
	if (!valid_id(a->id)) {
		snprintf(err, errlen, "--id '%.80s': use 1 to %d letters, digits and '-'", a->id,
			 JAIL_ID_MAX);
		return -EINVAL;
	}
	base = strrchr(a->exec_file, '/');
	base = base != NULL ? base + 1 : a->exec_file;
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		snprintf(err, errlen, "--exec-file '%.200s': not a file name", a->exec_file);
		return -EINVAL;
	}
	if (a->chroot_base[0] != '/') {
		snprintf(err, errlen, "--chroot-base-dir '%.200s': must be an absolute path",
			 a->chroot_base);
		return -EINVAL;
	}
	if (a->parent_cgroup != NULL && !valid_relative(a->parent_cgroup)) {
		snprintf(err, errlen,
			 "--parent-cgroup '%.200s': must be a relative path of plain "
			 "names",
			 a->parent_cgroup);
		return -EINVAL;
	}
	return 0;
}

int jail_parse_args(int argc, char **argv, struct jail_args *a, char *err, size_t errlen)
{
	uint64_t v;
	int opt, ret = 0;

	memset(a, 0, sizeof(*a));
	a->chroot_base = JAIL_DEFAULT_BASE;
	set_rlimit(a, RLIMIT_NOFILE, JAIL_DEFAULT_NOFILE);
	set_rlimit(a, RLIMIT_NPROC, JAIL_DEFAULT_NPROC);
	optind = 1;
	opterr = 0;
	while (ret == 0 && (opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (opt) {
		case OPT_ID:
			a->id = optarg;
			break;
		case OPT_EXEC:
			a->exec_file = optarg;
			break;
		case OPT_UID:
			ret = parse_id_number(optarg, "--uid", &a->uid, err, errlen);
			break;
		case OPT_GID:
			ret = parse_id_number(optarg, "--gid", &a->gid, err, errlen);
			break;
		case OPT_BASE:
			a->chroot_base = optarg;
			break;
		case OPT_CGVER:
			if (strcmp(optarg, "1") != 0 && strcmp(optarg, "2") != 0) {
				snprintf(err, errlen, "--cgroup-version: '%.16s' is not 1 or 2",
					 optarg);
				ret = -EINVAL;
			}
			a->cgroup_version = optarg[0] - '0';
			break;
		case OPT_CGROUP:
			ret = parse_cgroup(optarg, a, err, errlen);
			break;
		case OPT_PARENT:
			a->parent_cgroup = optarg;
			break;
		case OPT_MEM:
			ret = parse_u64(optarg, 1, JAIL_MAX_GUEST_MEM_MIB, &v);
			if (ret < 0)
				snprintf(err, errlen,
					 "--guest-mem-mib: '%.32s' is not a number from 1 "
					 "to %u",
					 optarg, JAIL_MAX_GUEST_MEM_MIB);
			a->guest_mem_mib = v;
			break;
		case OPT_RLIMIT:
			ret = parse_rlimit(optarg, a, err, errlen);
			break;
		case OPT_NETNS:
			a->netns = optarg;
			break;
		case OPT_PIDNS:
			a->new_pid_ns = true;
			break;
		case OPT_DAEMON:
			a->daemonize = true;
			break;
		case OPT_LINK:
			a->link_exec = true;
			break;
		case 'h':
			return 1;
		default:
			snprintf(err, errlen, "unknown or incomplete option '%.64s' (see --help)",
				 argv[optind - 1]);
			ret = -EINVAL;
			break;
		}
	}
	if (ret == 0 && optind < argc && strcmp(argv[optind - 1], "--") != 0) {
		snprintf(err, errlen,
			 "unexpected argument '%.64s': the VMM's arguments go after --",
			 argv[optind]);
		ret = -EINVAL;
	}
	if (ret == 0)
		ret = check_args(a, err, errlen);
	a->vmm_argv = argv + optind;
	a->vmm_argc = argc - optind;
	return ret;
}

int jail_paths(const struct jail_args *a, struct jail_paths *p, char *err, size_t errlen)
{
	const char *name = strrchr(a->exec_file, '/');
	const char *base = a->chroot_base;
	size_t blen = strlen(base);
	int n[5];

	name = name != NULL ? name + 1 : a->exec_file;
	while (blen > 1 && base[blen - 1] == '/')
		blen--; /* "/srv/jailer/" is "/srv/jailer" */
	n[0] = snprintf(p->exec_name, sizeof(p->exec_name), "%s", name);
	n[1] = snprintf(p->jail_dir, sizeof(p->jail_dir), "%.*s/%s/%s", (int)blen, base, name,
			a->id);
	n[2] = snprintf(p->root, sizeof(p->root), "%s/root", p->jail_dir);
	n[3] = snprintf(p->exec_in_root, sizeof(p->exec_in_root), "%s/%s", p->root, name);
	n[4] = snprintf(p->cgroup_rel, sizeof(p->cgroup_rel), "%s/%s",
			a->parent_cgroup != NULL ? a->parent_cgroup : name, a->id);
	snprintf(p->pid_file, sizeof(p->pid_file), "/%s.pid", p->exec_name);
	if (n[0] >= (int)sizeof(p->exec_name) || n[1] >= (int)sizeof(p->jail_dir) ||
	    n[2] >= (int)sizeof(p->root) || n[3] >= (int)sizeof(p->exec_in_root) ||
	    n[4] >= (int)sizeof(p->cgroup_rel)) {
		snprintf(err, errlen,
			 "--chroot-base-dir %.200s: the jail's paths would be longer "
			 "than %d bytes",
			 base, PATH_MAX - 1);
		return -ENAMETOOLONG;
	}
	return 0;
}

static struct jail_cgroup_write *plan_slot(struct jail_cgroup_plan *plan, const char *file)
{
	for (unsigned i = 0; i < plan->n; i++)
		if (strcmp(plan->w[i].file, file) == 0)
			return &plan->w[i];
	return plan->n < JAIL_MAX_CGROUP_WRITES ? &plan->w[plan->n++] : NULL;
}

static void plan_set(struct jail_cgroup_plan *plan, const char *file, const char *value)
{
	struct jail_cgroup_write *w = plan_slot(plan, file);
	size_t n = strcspn(file, ".");

	/* Never NULL: the plan has room for every default and setting. */
	snprintf(w->controller, sizeof(w->controller), "%.*s", (int)n, file);
	snprintf(w->file, sizeof(w->file), "%s", file);
	snprintf(w->value, sizeof(w->value), "%s", value);
}

int jail_cgroup_plan(const struct jail_args *a, int version, struct jail_cgroup_plan *plan,
		     char *err, size_t errlen)
{
	char v[JAIL_CGROUP_VALUE_MAX];

	if (version != 1 && version != 2) {
		snprintf(err, errlen, "cgroup version %d: only 1 and 2 exist", version);
		return -EINVAL;
	}
	plan->n = 0;
	/* A bound on the VM's tasks whatever its uid (a fork bomb stops here). */
	snprintf(v, sizeof(v), "%d", JAIL_DEFAULT_PIDS_MAX);
	plan_set(plan, "pids.max", v);
	if (a->guest_mem_mib != 0) {
		snprintf(v, sizeof(v), "%" PRIu64,
			 (a->guest_mem_mib + JAIL_MEM_OVERHEAD_MIB) * MIB);
		plan_set(plan, version == 2 ? "memory.max" : "memory.limit_in_bytes", v);
	}
	for (unsigned i = 0; i < a->ncgroups; i++)
		plan_set(plan, a->cgroups[i].file, a->cgroups[i].value);
	return 0;
}

/* Field f (0-based, space-separated) of a mountinfo line, or NULL. */
static const char *field(const char *line, const char *end, unsigned f, size_t *len)
{
	const char *p = line;

	for (unsigned i = 0; i < f && p < end; i++) {
		p = memchr(p, ' ', (size_t)(end - p));
		if (p == NULL)
			return NULL;
		p++;
	}
	if (p >= end)
		return NULL;
	*len = strcspn(p, " \n");
	if (p + *len > end)
		*len = (size_t)(end - p);
	return p;
}

/* Whether the comma list s (len bytes) holds word. */
static bool has_word(const char *s, size_t len, const char *word)
{
	size_t w = strlen(word);

	while (len > 0) {
		size_t n = 0;

		while (n < len && s[n] != ',')
			n++;
		if (n == w && memcmp(s, word, w) == 0)
			return true;
		s += n < len ? n + 1 : n;
		len -= n < len ? n + 1 : n;
	}
	return false;
}

int jail_cgroup_mount(const char *mountinfo, const char *controller, char *out, size_t outlen)
{
	const char *line = mountinfo;

	while (*line != '\0') {
		const char *end = strchr(line, '\n');
		const char *sep, *mnt, *type, *opts;
		size_t mlen, tlen, olen;

		end = end != NULL ? end : line + strlen(line);
		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - TYPE SOURCE SUPEROPTS" */
		sep = strstr(line, " - ");
		mnt = field(line, end, 4, &mlen);
		if (sep != NULL && sep < end && mnt != NULL) {
			type = field(sep + 3, end, 0, &tlen);
			opts = field(sep + 3, end, 2, &olen);
			if (type != NULL && opts != NULL &&
			    ((controller == NULL && tlen == 7 && memcmp(type, "cgroup2", 7) == 0) ||
			     (controller != NULL && tlen == 6 && memcmp(type, "cgroup", 6) == 0 &&
			      has_word(opts, olen, controller))) &&
			    memchr(mnt, '\\', mlen) == NULL) {
				if (mlen >= outlen)
					return -ENAMETOOLONG;
				memcpy(out, mnt, mlen);
				out[mlen] = '\0';
				return 0;
			}
		}
		line = *end != '\0' ? end + 1 : end;
	}
	return -ENOENT;
}
