/* paths: accept a state file's host path only inside the working directory (see paths.h). */
#include "vmm/snapshot/paths.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static bool cwd_is_root(void)
{
	struct stat cwd, root;

	if (stat(".", &cwd) < 0 || stat("/", &root) < 0)
		return true; /* cannot tell: treat it as unconfined */
	return cwd.st_dev == root.st_dev && cwd.st_ino == root.st_ino;
}

static int refuse(int ret, char *err, size_t errlen, const char *what, const char *path,
		  const char *why, const char *hint)
{
	snprintf(err, errlen,
		 "%s %.200s from the snapshot %s: a state file cannot choose host files; "
		 "give the path in %s",
		 what, path, why, hint);
	return ret;
}

int snap_path_confined(const char *path, bool socket, const char *what, const char *hint, char *err,
		       size_t errlen)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
	char dir[PATH_MAX];
	const char *target = path;
	int fd;

	if (path[0] == '\0')
		return refuse(-EINVAL, err, errlen, what, "\"\"", "is empty", hint);
	if (path[0] == '/')
		return refuse(-EPERM, err, errlen, what, path, "is absolute", hint);
	if (cwd_is_root())
		return refuse(-EPERM, err, errlen, what, path,
			      "would resolve from \"/\" (ember-vmm's working directory)", hint);
	if (socket) {
		const char *slash = strrchr(path, '/');
		const char *name = slash != NULL ? slash + 1 : path;

		if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			return refuse(-EINVAL, err, errlen, what, path, "names no socket", hint);
		if (slash == NULL) {
			target = ".";
		} else {
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
			target = dir;
		}
		how.flags |= O_DIRECTORY;
	}
	fd = (int)syscall(SYS_openat2, AT_FDCWD, target, &how, sizeof(how));
	if (fd < 0) {
		int e = errno;

		if (e == EXDEV || e == ELOOP)
			return refuse(-EXDEV, err, errlen, what, path,
				      "leads outside ember-vmm's working directory", hint);
		if (e == ENOSYS)
			return refuse(-ENOSYS, err, errlen, what, path,
				      "cannot be checked (openat2 needs Linux 5.6)", hint);
		snprintf(err, errlen, "%s %.200s from the snapshot: %s", what, path, strerror(e));
		return -e;
	}
	close(fd);
	return 0;
}
