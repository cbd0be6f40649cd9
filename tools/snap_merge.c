/* ember-snap-merge: apply a Diff snapshot's memory file onto its base, making a Full one.
 *
 * usage: ember-snap-merge BASE_MEM DIFF_MEM
 * A Diff memory file (PUT /snapshot/create with snapshot_type Diff) has the
 * layout of a Full one and holds data only where the guest's pages changed
 * since the previous snapshot; everything else is a hole. This copies each
 * data extent of DIFF_MEM (found with SEEK_DATA / SEEK_HOLE, so both files
 * must be on a filesystem that reports holes: ext4, xfs, btrfs, tmpfs) into
 * BASE_MEM at the same offset. Then BASE_MEM with the Diff's state file is a
 * Full snapshot, as Firecracker's diff merging works. The two files must
 * have the same size. Exit 0, or 1 with one error line. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char *what, const char *path)
{
	fprintf(stderr, "ember-snap-merge: %s %s: %s\n", what, path, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	struct stat bs, ds;
	off_t data = 0, hole;
	int base, diff;

	if (argc != 3) {
		fprintf(stderr, "usage: ember-snap-merge BASE_MEM DIFF_MEM\n");
		return 1;
	}
	base = open(argv[1], O_WRONLY | O_CLOEXEC);
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
	for (;;) {
		data = lseek(diff, data, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break; /* no data past here */
		if (data < 0)
			return fail("finding data in", argv[2]);
		hole = lseek(diff, data, SEEK_HOLE);
		if (hole < 0)
			return fail("finding a hole in", argv[2]);
		while (data < hole) {
			off_t in = data, out = data;
			ssize_t n =
				copy_file_range(diff, &in, base, &out, (size_t)(hole - data), 0);

			if (n <= 0)
				return fail("copying into", argv[1]);
			data += n;
		}
	}
	if (fsync(base) < 0)
		return fail("syncing", argv[1]);
	return 0;
}
