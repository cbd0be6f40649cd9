/* spawn: an instance's folder, its configuration file, and ember-vmm started in it with posix_spawn; leftovers of an earlier emberd. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/pool/pool_priv.h"
#include "lib/fcapi/schema.h"
#include "lib/util/log.h"

void inst_remove_dir(const char *dir)
{
	static const char *const names[] = { POOL_API_SOCK, POOL_VSOCK_SOCK, POOL_VM_CONFIG,
					     POOL_PID_FILE, POOL_TMP_DISK };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	if (rmdir(dir) < 0 && errno != ENOENT)
		log_warn("instance folder %s: %s", dir, strerror(errno));
}

unsigned pool_vcpus(const struct fn *fn)
{
	unsigned n = (fn->memory_mib + POOL_LAMBDA_VCPU_MIB - 1) / POOL_LAMBDA_VCPU_MIB;

	return n < 1 ? 1 : n > POOL_MAX_VCPUS ? POOL_MAX_VCPUS : n;
}

static int write_config(struct instance *inst)
{
	const struct pool_set *s = inst->pool->set;
	const struct fn *fn = inst->pool->fn;
	struct vm_config *cfg = malloc(sizeof(*cfg));
	char err[CONFIG_ERR_LEN], path[PATH_MAX];
	char *json = NULL;
	int ret = -ENOMEM, fd;

	if (cfg == NULL)
		return -ENOMEM;
	config_init(cfg);
	/* Jailed, the VMM sees its files at fixed paths in its root. */
	if (snprintf(cfg->boot_source.kernel_image_path, PATH_MAX, "%s",
		     inst->jailed ? POOL_IN_KERNEL : s->kernel) >= PATH_MAX ||
	    snprintf(cfg->boot_source.initrd_path, PATH_MAX, "%s",
		     inst->jailed && s->initrd[0] ? POOL_IN_INITRD : s->initrd) >= PATH_MAX ||
	    snprintf(cfg->boot_source.boot_args, CONFIG_CMDLINE_MAX, "%s ember.lambda=1%s%s",
		     CONFIG_DEFAULT_CMDLINE, s->guest_args[0] ? " " : "",
		     s->guest_args) >= CONFIG_CMDLINE_MAX) {
		ret = -ENAMETOOLONG;
		goto out;
	}
	cfg->machine.mem_size_mib = fn->memory_mib;
	cfg->machine.vcpu_count = pool_vcpus(fn);
	cfg->ndrives = 3;
	snprintf(cfg->drives[0].drive_id, CONFIG_DRIVE_ID_LEN, POOL_DRIVE_RUNTIME);
	snprintf(cfg->drives[0].path_on_host, PATH_MAX, "%s",
		 inst->jailed ? POOL_IN_RUNTIME : fn->runtime_image);
	cfg->drives[0].is_read_only = true;
	snprintf(cfg->drives[1].drive_id, CONFIG_DRIVE_ID_LEN, POOL_DRIVE_CODE);
	snprintf(cfg->drives[1].path_on_host, PATH_MAX, "%s",
		 inst->jailed ? POOL_IN_CODE : fn->code_image);
	cfg->drives[1].is_read_only = true;
	/* Its /tmp (scratch.c): the guest's ember-init mounts the third disk
	 * there. A path in its folder ("/" in a jail, its working directory
	 * unjailed), the same for every clone of a snapshot. */
	snprintf(cfg->drives[2].drive_id, CONFIG_DRIVE_ID_LEN, POOL_DRIVE_TMP);
	snprintf(cfg->drives[2].path_on_host, PATH_MAX, "%s",
		 inst->jailed ? POOL_IN_TMP : POOL_TMP_DISK);
	cfg->vsock.enabled = true;
	cfg->vsock.guest_cid = CONFIG_VSOCK_CID_MIN;
	snprintf(cfg->vsock.vsock_id, sizeof(cfg->vsock.vsock_id), "vsock");
	snprintf(cfg->vsock.uds_path, sizeof(cfg->vsock.uds_path), "%s", POOL_VSOCK_SOCK);
	ret = config_validate(cfg, err, sizeof(err));
	if (ret < 0) {
		log_err("instance %s: configuration: %s", inst->id, err);
		goto out;
	}
	json = schema_vm_config_to_json(cfg);
	if (json == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", inst->root, POOL_VM_CONFIG);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	ret = write(fd, json, strlen(json)) == (ssize_t)strlen(json) ? 0 : -EIO;
	/* The jailed VMM reads it; only root may change it. */
	if (ret == 0 && inst->jailed && (fchown(fd, 0, s->jail.gid) < 0 || fchmod(fd, 0440) < 0))
		ret = -errno;
	close(fd);
out:
	free(json);
	free(cfg);
	return ret;
}

static void write_pid(const struct instance *inst)
{
	char path[PATH_MAX], text[24];
	int fd, n = snprintf(text, sizeof(text), "%d\n", (int)inst->pid);

	snprintf(path, sizeof(path), "%s/%s", inst->dir, POOL_PID_FILE);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, (size_t)n) != n)
		log_warn("instance %s: pid file: %s", inst->id, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* The process whose pid the file names, if it still runs in that folder. */
static void stop_leftover(const char *dir)
{
	char path[PATH_MAX], proc[64], cwd[PATH_MAX], text[24] = "";
	ssize_t n;
	int fd, pid;

	if (snprintf(path, sizeof(path), "%s/%s", dir, POOL_PID_FILE) >= (int)sizeof(path))
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, text, sizeof(text) - 1);
		text[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	pid = atoi(text);
	if (pid <= 1)
		return;
	snprintf(proc, sizeof(proc), "/proc/%d/cwd", pid);
	n = readlink(proc, cwd, sizeof(cwd) - 1);
	if (n < 0)
		return;
	cwd[n] = '\0';
	if (strcmp(cwd, dir) != 0)
		return; /* that pid is some other process now */
	log_warn("stopping ember-vmm %d, left behind in %s by an earlier emberd", pid, dir);
	kill(pid, SIGKILL);
}

void inst_sweep_leftovers(const char *home)
{
	char run[PATH_MAX], dir[PATH_MAX];
	struct dirent *e;
	DIR *d;

	snprintf(run, sizeof(run), "%s/run", home);
	d = opendir(run);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' ||
		    snprintf(dir, sizeof(dir), "%s/%s", run, e->d_name) >= (int)sizeof(dir))
			continue;
		stop_leftover(dir);
		inst_remove_dir(dir);
	}
	closedir(d);
}

static int make_id(char *id)
{
	uint8_t b[POOL_ID_LEN / 2];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -EIO;
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(id + 2 * i, 3, "%02x", b[i]);
	return 0;
}

/* posix_spawn ember-vmm (jailed: ember-jailer, which execs it in the jail)
 * in the instance folder, stdout and stderr to pipes. A restore loads the
 * snapshot through the API once it listens (snap_load). */
static int spawn_vmm(struct instance *inst, int out_w, int err_w)
{
	const struct pool_set *s = inst->pool->set;
	char *argv[POOL_JAIL_ARGC + 12];
	char jail_buf[192], api[sizeof(POOL_API_SOCK) + 1];
	char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int argc = 0, ret, devnull;

	if (inst->jailed) {
		inst->netns_fd = pool_netns_take(s->netns);
		argc = pool_jail_argv(inst, argv, jail_buf, sizeof(jail_buf));
		if (argc < 0)
			return argc;
		/* The jailer puts --id first; from "/" in the jail. */
		snprintf(api, sizeof(api), "/%s", POOL_API_SOCK);
	} else {
		argv[argc++] = (char *)s->vmm;
		argv[argc++] = "--id";
		argv[argc++] = inst->id;
		snprintf(api, sizeof(api), "%s", POOL_API_SOCK);
	}
	argv[argc++] = "--api-sock";
	argv[argc++] = api;
	if (!inst->restore) {
		argv[argc++] = "--config-file";
		argv[argc++] = POOL_VM_CONFIG;
	}
	/* At debug level ember-vmm says "ready to run" once a restore is done. */
	argv[argc++] = "--log-level";
	argv[argc++] = "debug";
	argv[argc] = NULL;
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0)
		return -errno;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* Its own session (a Ctrl-C at emberd's terminal is emberd's to
	 * handle), no inherited signal mask or ignored signals. */
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	ret = posix_spawn_file_actions_addchdir_np(&fa, inst->root);
	if (ret == 0)
		ret = posix_spawn_file_actions_adddup2(&fa, devnull, 0);
	if (ret == 0)
		ret = posix_spawn_file_actions_adddup2(&fa, out_w, 1);
	if (ret == 0)
		ret = posix_spawn_file_actions_adddup2(&fa, err_w, 2);
	/* Nothing else of emberd's (sockets, the store) reaches the VMM. */
	if (ret == 0)
		ret = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (ret == 0)
		ret = posix_spawn(&inst->pid, argv[0], &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(devnull);
	return -ret;
}

int inst_spawn(struct pool *p, bool restore, bool standby, struct instance **out)
{
	struct pool_set *s = p->set;
	struct instance *inst = calloc(1, sizeof(*inst));
	int out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 };
	int ret;

	if (inst == NULL)
		return -ENOMEM;
	inst->pool = p;
	inst->restore = restore;
	inst->fresh = true;
	inst->pidfd = inst->out_fd = inst->err_fd = inst->netns_fd = -1;
	inst->state = INST_NSTATES; /* new: counted nowhere yet */
	ret = make_id(inst->id);
	if (ret < 0)
		goto err_free;
	if (snprintf(inst->dir, sizeof(inst->dir), "%s/run/%s", s->home, inst->id) >=
	    (int)sizeof(inst->dir)) {
		ret = -ENAMETOOLONG; /* pool_set_new() checked it */
		goto err_free;
	}
	if (mkdir(inst->dir, 0700) < 0) {
		ret = -errno;
		log_err("instance folder %s: %s", inst->dir, strerror(errno));
		goto err_free;
	}
	snprintf(inst->root, sizeof(inst->root), "%s", inst->dir);
	if (!s->jail.off) {
		ret = pool_jail_prepare(inst);
		if (ret < 0)
			goto err_dir;
	}
	/* A restore's /tmp disk is copied on a worker thread (load.c). */
	if (!restore) {
		ret = pool_scratch_place(inst);
		if (ret == 0)
			ret = write_config(inst);
		if (ret < 0)
			goto err_dir;
	}
	if (pipe2(out_p, O_CLOEXEC) < 0 || pipe2(err_p, O_CLOEXEC) < 0) {
		ret = -errno;
		goto err_pipes;
	}
	/* Only emberd's ends are non-blocking: the VMM's console blocks as usual. */
	fcntl(out_p[0], F_SETFL, O_NONBLOCK);
	fcntl(err_p[0], F_SETFL, O_NONBLOCK);
	inst->t_spawn_ns = pool_now_ns();
	ret = spawn_vmm(inst, out_p[1], err_p[1]);
	close(out_p[1]);
	close(err_p[1]);
	out_p[1] = err_p[1] = -1;
	if (ret < 0) {
		log_err("spawning %s: %s", s->jail.off ? s->vmm : s->jailer, strerror(-ret));
		goto err_pipes;
	}
	inst->out_fd = out_p[0];
	inst->err_fd = err_p[0];
	write_pid(inst);
	inst->pidfd = pidfd_open(inst->pid, 0);
	if (inst->pidfd < 0) {
		ret = -errno;
		kill(inst->pid, SIGKILL);
		waitpid(inst->pid, NULL, 0);
		goto err_fds;
	}
	ret = inst_attach(inst, standby);
	if (ret < 0) {
		pidfd_send_signal(inst->pidfd, SIGKILL, NULL, 0);
		waitpid(inst->pid, NULL, 0);
		close(inst->pidfd);
		goto err_fds;
	}
	*out = inst;
	return 0;

err_fds:
	close(inst->out_fd);
	close(inst->err_fd);
	out_p[0] = err_p[0] = -1;
err_pipes:
	for (int i = 0; i < 2; i++) {
		if (out_p[i] >= 0)
			close(out_p[i]);
		if (err_p[i] >= 0)
			close(err_p[i]);
	}
err_dir:
	pool_netns_drop(inst);
	pool_jail_release(inst);
	inst_remove_dir(inst->dir);
err_free:
	free(inst);
	return ret;
}
