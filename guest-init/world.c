/* world: mounts, environment and RESTORE actions for the function's sandbox (see world.h). */
#include "guest-init/world.h"

#include "lib/util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Filesystems a runtime or code image may use, tried in order. */
static const char *const image_types[] = { "erofs", "ext4" };

static int mount_image(const char *dev, const char *dir, char *err, size_t errlen)
{
	int e = ENODEV;

	for (size_t i = 0; i < sizeof(image_types) / sizeof(image_types[0]); i++) {
		if (mount(dev, dir, image_types[i], MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) == 0)
			return 0;
		/* EINVAL: not this filesystem; keep the first other reason. */
		if (errno != EINVAL || e == ENODEV)
			e = errno;
	}
	snprintf(err, errlen, "mount %s on %s (erofs or ext4, read-only): %s", dev, dir,
		 strerror(e));
	return -e;
}

static int mount_one(const char *src, const char *dir, const char *type, unsigned long flags,
		     const char *opts, char *err, size_t errlen)
{
	if (mount(src, dir, type, flags, opts) == 0)
		return 0;
	int e = errno;

	snprintf(err, errlen, "mount %s on %s: %s%s", type, dir, strerror(e),
		 e == ENOENT ? " (the runtime image must contain the mount point)" : "");
	return -e;
}

/* /tmp: the host's disk if there is one, else a tmpfs. The disk is an empty
 * ext4 the host made (api/pool/scratch.c): noinit_itable, since its inode
 * tables were never zeroed and need not be; its root and lost+found are
 * made what Lambda's /tmp is, world-writable and empty. */
static int mount_tmp(unsigned tmp_mib, char *err, size_t errlen)
{
	char opts[64];
	int r;

	if (access(WORLD_TMP_DEV, F_OK) < 0) {
		snprintf(opts, sizeof(opts), "size=%um,mode=1777", tmp_mib);
		return mount_one("tmpfs", WORLD_ROOT "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts,
				 err, errlen);
	}
	r = mount_one(WORLD_TMP_DEV, WORLD_ROOT "/tmp", "ext4", MS_NOSUID | MS_NODEV,
		      "noinit_itable", err, errlen);
	if (r < 0)
		return r;
	if (chmod(WORLD_ROOT "/tmp", 01777) < 0 ||
	    (rmdir(WORLD_ROOT "/tmp/lost+found") < 0 && errno != ENOENT)) {
		r = -errno;
		snprintf(err, errlen, "preparing /tmp on %s: %s", WORLD_TMP_DEV, strerror(errno));
		umount2(WORLD_ROOT "/tmp", MNT_DETACH);
	}
	return r;
}

int world_mount(unsigned tmp_mib, char *err, size_t errlen)
{
	int r;

	if (mkdir(WORLD_ROOT, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", WORLD_ROOT, strerror(errno));
		return -errno;
	}
	r = mount_image(WORLD_RUNTIME_DEV, WORLD_ROOT, err, errlen);
	if (r < 0)
		return r;
	r = mount_image(WORLD_CODE_DEV, WORLD_ROOT WORLD_TASK_ROOT, err, errlen);
	if (r < 0)
		goto err_root;
	r = mount_tmp(tmp_mib, err, errlen);
	if (r < 0)
		goto err_task;
	r = mount_one("proc", WORLD_ROOT "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
		      err, errlen);
	if (r < 0)
		goto err_tmp;
	r = mount_one("devtmpfs", WORLD_ROOT "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755",
		      err, errlen);
	if (r < 0)
		goto err_proc;
	return 0;

err_proc:
	umount2(WORLD_ROOT "/proc", MNT_DETACH);
err_tmp:
	umount2(WORLD_ROOT "/tmp", MNT_DETACH);
err_task:
	umount2(WORLD_ROOT WORLD_TASK_ROOT, MNT_DETACH);
err_root:
	umount2(WORLD_ROOT, MNT_DETACH);
	return r;
}

/* Set by ember-init from INIT or fixed (Lambda's reserved variables, "Defined
 * runtime environment variables" in the Lambda developer guide). */
static const char *const reserved[] = {
	"_HANDLER",
	"_X_AMZN_TRACE_ID",
	"AWS_REGION",
	"AWS_DEFAULT_REGION",
	"AWS_EXECUTION_ENV",
	"AWS_LAMBDA_FUNCTION_NAME",
	"AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
	"AWS_LAMBDA_FUNCTION_VERSION",
	"AWS_LAMBDA_INITIALIZATION_TYPE",
	"AWS_LAMBDA_LOG_GROUP_NAME",
	"AWS_LAMBDA_LOG_STREAM_NAME",
	"AWS_LAMBDA_RUNTIME_API",
	"LAMBDA_TASK_ROOT",
	"LAMBDA_RUNTIME_DIR",
};

/* Defaults Lambda sets and users may override. */
static const char *const defaults[][2] = {
	{ "TZ", ":UTC" },
	{ "LANG", "en_US.UTF-8" },
	{ "PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin" },
	{ "LD_LIBRARY_PATH", "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:"
			     "/var/task:/var/task/lib:/opt/lib" },
};

bool world_env_reserved(const char *key)
{
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcmp(key, reserved[i]) == 0)
			return true;
	return false;
}

static bool user_sets(const struct gproto_init *in, const char *key)
{
	for (uint32_t i = 0; i < in->env_count; i++)
		if (strcmp(in->env[i].key.s, key) == 0)
			return true;
	return false;
}

/* Appends "key=value" at *pos (space was counted by the caller's first pass). */
static void put(char **envp, size_t *n, char **pos, const char *key, const char *value)
{
	int len = sprintf(*pos, "%s=%s", key, value);

	envp[(*n)++] = *pos;
	*pos += len + 1;
}

struct derived {
	const char *key;
	char value[GPROTO_NAME_MAX + 32];
};

int world_env_build(const struct gproto_init *in, char ***out)
{
	struct derived d[WORLD_ENV_DERIVED_MAX];
	size_t nd = 0, bytes = 0, slots, n = 0;
	char **envp, *pos;

#define DERIVE(k, ...)                                                                             \
	(d[nd].key = (k), snprintf(d[nd].value, sizeof(d[nd].value), __VA_ARGS__), nd++)
	DERIVE("AWS_LAMBDA_FUNCTION_NAME", "%s", in->function_name.s);
	DERIVE("AWS_LAMBDA_FUNCTION_VERSION", "%s", in->function_version.s);
	DERIVE("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "%u", in->memory_mib);
	DERIVE("AWS_LAMBDA_LOG_GROUP_NAME", "%s", in->log_group.s);
	DERIVE("AWS_LAMBDA_LOG_STREAM_NAME", "%s", in->log_stream.s);
	DERIVE("AWS_LAMBDA_RUNTIME_API", "%s", WORLD_RUNTIME_API);
	DERIVE("AWS_LAMBDA_INITIALIZATION_TYPE", "%s", "on-demand");
	DERIVE("AWS_REGION", "%s", in->region.s);
	DERIVE("AWS_DEFAULT_REGION", "%s", in->region.s);
	DERIVE("_HANDLER", "%s", in->handler.s);
	DERIVE("LAMBDA_TASK_ROOT", "%s", WORLD_TASK_ROOT);
	DERIVE("LAMBDA_RUNTIME_DIR", "%s", WORLD_RUNTIME_DIR);
	/* OS-only runtimes (provided, provided.al2023) have no AWS_EXECUTION_ENV. */
	if (in->runtime.len > 0 && strncmp(in->runtime.s, "provided", 8) != 0)
		DERIVE("AWS_EXECUTION_ENV", "AWS_Lambda_%s", in->runtime.s);
	if (in->log_format == GPROTO_LOG_JSON)
		DERIVE("AWS_LAMBDA_LOG_FORMAT", "%s", "JSON");
#undef DERIVE

	for (size_t i = 0; i < nd; i++)
		bytes += strlen(d[i].key) + strlen(d[i].value) + 2;
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		bytes += strlen(defaults[i][0]) + strlen(defaults[i][1]) + 2;
	for (uint32_t i = 0; i < in->env_count; i++)
		bytes += in->env[i].key.len + in->env[i].value.len + 2;
	slots = nd + sizeof(defaults) / sizeof(defaults[0]) + in->env_count + 1;
	envp = malloc(slots * sizeof(char *) + bytes);
	if (envp == NULL)
		return -ENOMEM;
	pos = (char *)(envp + slots);

	for (size_t i = 0; i < nd; i++)
		put(envp, &n, &pos, d[i].key, d[i].value);
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (!user_sets(in, defaults[i][0]))
			put(envp, &n, &pos, defaults[i][0], defaults[i][1]);
	for (uint32_t i = 0; i < in->env_count; i++) {
		const struct gproto_env *e = &in->env[i];

		if (world_env_reserved(e->key.s)) {
			log_warn("INIT env %s is reserved; ignored", e->key.s);
			continue;
		}
		put(envp, &n, &pos, e->key.s, e->value.s);
	}
	envp[n] = NULL;
	*out = envp;
	return 0;
}

/* Whether root + path exists (any kind of file: exec reports what is wrong). */
static bool exists_under(const char *root, const char *path)
{
	char full[PATH_MAX];
	struct stat st;

	if (snprintf(full, sizeof(full), "%s%s", root, path) >= (int)sizeof(full))
		return false;
	return stat(full, &st) == 0;
}

void world_entrypoint(const char *root, const char *runtime, struct world_entrypoint *ep)
{
	static const char task[] = WORLD_TASK_ROOT "/bootstrap";
	static const char image[] = WORLD_RUNTIME_DIR "/bootstrap";

	if (strncmp(runtime, "provided", 8) == 0) {
		ep->searched = WORLD_TASK_ROOT "/bootstrap " WORLD_RUNTIME_DIR "/bootstrap";
		if (exists_under(root, task)) {
			ep->path = task;
			ep->found = true;
			return;
		}
	} else {
		ep->searched = image;
	}
	ep->path = image;
	ep->found = exists_under(root, image);
}

int world_restore(const struct gproto_restore *r)
{
	struct {
		struct rand_pool_info info;
		uint8_t buf[GPROTO_ENTROPY_LEN];
	} pool;
	struct timespec ts = {
		.tv_sec = (time_t)(r->wall_ns / 1000000000u),
		.tv_nsec = (long)(r->wall_ns % 1000000000u),
	};
	int fd, ret = 0;

	pool.info.entropy_count = GPROTO_ENTROPY_LEN * 8; /* bits, all of them fresh */
	pool.info.buf_size = GPROTO_ENTROPY_LEN;
	memcpy(pool.buf, r->entropy, GPROTO_ENTROPY_LEN);
	fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, RNDADDENTROPY, &pool) < 0) {
		ret = -errno;
		log_err("RESTORE: RNDADDENTROPY: %s", strerror(errno));
	} else if (ioctl(fd, RNDRESEEDCRNG) < 0) {
		/* Credited entropy alone reaches getrandom() only at the CRNG's next
		 * scheduled reseed (up to a minute later in 6.1): until then every
		 * clone of one snapshot would draw the same bytes. Reseed now. */
		ret = -errno;
		log_err("RESTORE: RNDRESEEDCRNG: %s", strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	explicit_bzero(&pool, sizeof(pool));
	if (clock_settime(CLOCK_REALTIME, &ts) < 0) {
		ret = -errno;
		log_err("RESTORE: clock_settime: %s", strerror(errno));
	}
	return ret;
}
