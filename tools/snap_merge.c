/* ember-snap-merge: a Diff snapshot's memory file onto its base, written as a new Full one.
 *
 * usage: ember-snap-merge BASE_MEM DIFF_MEM OUT_MEM
 * A Diff memory file (PUT /snapshot/create with snapshot_type Diff) has the
 * layout of a Full one and holds data only where the guest's pages changed
 * since the previous snapshot; everything else is a hole. OUT_MEM gets
 * BASE_MEM's data extents, then DIFF_MEM's at the same offsets (found with
 * SEEK_DATA / SEEK_HOLE, so the files must be on a filesystem that reports
 * holes: ext4, xfs, btrfs, tmpfs); its holes stay holes. OUT_MEM with the
 * Diff's state file is then a Full snapshot, as Firecracker's diff merging
 * works. BASE_MEM is only read: clones may map it (MAP_PRIVATE), and a base
 * changed under them would change their memory. OUT_MEM must not exist; it
 * is written under a temporary name, synced, and renamed into place. The
 * two inputs must have the same size. Exit 0, or 1 with one error line. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One error line; 1, the exit status. */
static int fail(const char *what, const char *path)
{
	fprintf(stderr, "ember-snap-merge: %s %s: %s\n", what, path, strerror(errno));
	return 1;
}

/* Copies every data extent of in into out at the same offset. */
static int copy_extents(int in, const char *in_path, int out, const char *out_path)
{
	off_t data = 0, hole;

	for (;;) {
		data = lseek(in, data, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			return 0; /* no data past here */
		if (data < 0)
			return -fail("finding data in", in_path);
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			return -fail("finding a hole in", in_path);
		while (data < hole) {
			off_t from = data, to = data;
			ssize_t n = copy_file_range(in, &from, out, &to, (size_t)(hole - data), 0);

			if (n <= 0)
				return -fail("copying into", out_path);
			data += n;
		}
	}
}

int main(int argc, char **argv)
{
	char tmp[PATH_MAX];
	struct stat bs, ds;
	int base, diff, out;

	if (argc != 4) {
		fprintf(stderr, "usage: ember-snap-merge BASE_MEM DIFF_MEM OUT_MEM\n");
		return 1;
	}
	base = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (base < 0 || fstat(base, &bs) < 0)
		return fail("opening", argv[1]);
	diff = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (diff < 0 || fstat(diff, &ds) < 0)
		return fail("opening", argv[2]);
	if (bs.st_size != ds.st_size) {
		fprintf(stderr,
			"ember-snap-merge: %s has %lld bytes, %s %lld: not the same guest\n",
			argv[1], (long long)bs.st_size, argv[2], (long long)ds.st_size);
		return 1;
	}
	if (access(argv[3], F_OK) == 0) {
		fprintf(stderr, "ember-snap-merge: %s exists: the merge writes a new file\n",
			argv[3]);
		return 1;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.%d.tmp", argv[3], (int)getpid()) >= (int)sizeof(tmp)) {
		fprintf(stderr, "ember-snap-merge: %s: name too long\n", argv[3]);
		return 1;
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return fail("creating", tmp);
	if (ftruncate(out, bs.st_size) < 0)
		fail("sizing", tmp);
	else if (copy_extents(base, argv[1], out, tmp) == 0 &&
		 copy_extents(diff, argv[2], out, tmp) == 0) {
		if (fsync(out) < 0)
			fail("syncing", tmp);
		else if (rename(tmp, argv[3]) < 0)
			fail("naming", argv[3]);
		else
			return 0;
	}
	unlink(tmp);
	return 1;
}
