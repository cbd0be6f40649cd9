/* scratch: each instance's /tmp on a disk of its own (Lambda's ephemeral storage), copied from one empty ext4 image, or from its snapshot's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/pool/pool_priv.h"
#include "lib/util/log.h"
#include "lib/util/tool.h"

/* Why a disk and not a tmpfs: Lambda's /tmp holds 512 MB whatever the
 * function's memory, and a full one says ENOSPC. A tmpfs would hold the
 * files in guest memory, so a 128 MB function filling /tmp would meet the
 * OOM killer instead.
 *
 * Why copies: the guest's /tmp is mounted before READY, so a snapshot holds
 * the guest's view of that filesystem. Each clone then needs the disk as it
 * was at the pause (snap_take copies it into the snapshot), its own copy
 * (guests never share a writable disk), and the copy must be cheap: an
 * empty ext4 without a journal and with lazy inode tables is a sparse file
 * of some 400 KiB of data, copied extent by extent (copy_file_range). A
 * snapshot's disk holds what INIT left in /tmp as well, so a restore's copy
 * is made on a worker thread (load.c). */

/* The empty filesystem: no journal (scratch space, nothing to recover),
 * no reserved blocks, inode tables left for the guest's ext4 to treat as
 * unused (noinit_itable at mount) rather than zeroed here or there. */
static int make_ext4(const char *path, char *msg, size_t cap)
{
	char size[16];
	char *const argv[] = { "mke2fs",
			       "-q",
			       "-F",
			       "-t",
			       "ext4",
			       "-O",
			       "^has_journal",
			       "-m",
			       "0",
			       "-E",
			       "lazy_itable_init=1,nodiscard,root_owner=0:0",
			       (char *)path,
			       size,
			       NULL };

	snprintf(size, sizeof(size), "%uM", POOL_SCRATCH_MIB);
	return tool_run(argv, msg, cap);
}

int pool_scratch_template(struct pool_set *s)
{
	char tmp[PATH_MAX], msg[256];
	int ret;

	if (snprintf(s->scratch, sizeof(s->scratch), "%s/%s", s->home, POOL_SCRATCH_FILE) >=
		    (int)sizeof(s->scratch) ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp", s->scratch) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp);
	ret = make_ext4(tmp, msg, sizeof(msg));
	if (ret == 0 && rename(tmp, s->scratch) < 0) {
		ret = -errno;
		snprintf(msg, sizeof(msg), "%s", strerror(errno));
	}
	if (ret < 0) {
		unlink(tmp);
		log_err("making the instances' /tmp disk %s: %s", s->scratch, msg);
	}
	return ret;
}

/* in's bytes into a new file at to (mode 0600, or 0400 for a snapshot's),
 * its holes left holes. */
static int copy_sparse(int in, const char *to, uid_t uid, gid_t gid, mode_t mode)
{
	struct stat st;
	int out, ret = 0;

	if (fstat(in, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	if ((uid != 0 || gid != 0) && fchown(out, uid, gid) < 0)
		ret = -errno;
	for (off_t pos = 0; ret == 0 && pos < st.st_size;) {
		off_t data = lseek(in, pos, SEEK_DATA), hole;

		if (data < 0) {
			ret = errno == ENXIO ? 0 : -errno; /* ENXIO: only a hole is left */
			break;
		}
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0) {
			ret = -errno;
			break;
		}
		for (off_t src = data, dst = data; ret == 0 && src < hole;) {
			ssize_t n = copy_file_range(in, &src, out, &dst, (size_t)(hole - src), 0);

			if (n < 0 && errno != EINTR)
				ret = -errno;
			else if (n == 0)
				ret = -EIO; /* the source shrank under us */
		}
		pos = hole;
	}
	if (ret == 0 && (ftruncate(out, st.st_size) < 0 || fchmod(out, mode) < 0))
		ret = -errno;
	close(out);
	if (ret < 0)
		unlink(to);
	return ret;
}

int pool_scratch_for(const struct instance *inst, struct pool_scratch_copy *c)
{
	const struct pool *p = inst->pool;

	if (inst->restore)
		snap_scratch_path(p->snap_dir, c->from, sizeof(c->from));
	else
		snprintf(c->from, sizeof(c->from), "%s", p->set->scratch);
	if (snprintf(c->to, sizeof(c->to), "%s%s", inst->root, POOL_IN_TMP) >= (int)sizeof(c->to))
		return -ENAMETOOLONG;
	/* Jailed: the VMM's own uid writes it; else root's VMM does. */
	c->uid = inst->jailed ? inst->uid : 0;
	c->gid = inst->jailed ? p->set->jail.gid : 0;
	return 0;
}

int pool_scratch_copy(const struct pool_scratch_copy *c)
{
	int in = open(c->from, O_RDONLY | O_CLOEXEC), ret;

	if (in < 0)
		return -errno;
	ret = copy_sparse(in, c->to, c->uid, c->gid, 0600);
	close(in);
	return ret;
}

int pool_scratch_place(struct instance *inst)
{
	struct pool_scratch_copy c;
	int ret = pool_scratch_for(inst, &c);

	if (ret == 0)
		ret = pool_scratch_copy(&c);
	if (ret < 0)
		log_err("instance %s: its /tmp disk from %s: %s", inst->id, c.from, strerror(-ret));
	return ret;
}

int pool_scratch_save(const char *from, const char *to)
{
	/* A jailed VMM owns its root: it may have put anything at from. Only a
	 * regular file is read, and never through a link or a FIFO. */
	int in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), ret;

	if (in < 0)
		return -errno;
	ret = copy_sparse(in, to, 0, 0, 0400);
	close(in);
	return ret;
}
