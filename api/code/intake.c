/* intake: zip -> staging folder -> EROFS image, in ember-intake's process (see intake.h). */
#include "api/code/intake.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/code/image.h"
#include "api/store/codedir.h"
#include "api/store/uuid.h"
#include "lib/util/afile.h"
#include "lib/util/log.h"

#define RM_FDS 16

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0)
		log_warn("removing %s: %s", path, strerror(errno));
	return 0;
}

/* Removes a staging tree; FTW_PHYS: symlinks are removed, never followed. */
static void rm_tree(const char *dir)
{
	nftw(dir, rm_one, RM_FDS, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static int make_staging(const char *home, char *out, size_t cap)
{
	char id[UUID_STR_LEN + 1];
	int n;

	n = snprintf(out, cap, "%s/" INTAKE_TMP, home);
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	if (mkdir(out, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (uuid_v4(id) < 0)
		return -EIO;
	n = snprintf(out, cap, "%s/" INTAKE_TMP "/%s", home, id);
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	return mkdir(out, 0700) < 0 ? -errno : 0;
}

static void service(struct intake *in, const char *what, int err)
{
	in->fault = INTAKE_SERVICE;
	snprintf(in->msg, sizeof(in->msg), "%s: %s", what, strerror(-err));
	log_err("code intake: %s", in->msg);
}

void intake_run(struct intake *in)
{
	char staging[PATH_MAX], zip[PATH_MAX];
	struct afile af;
	int dirfd, ret;

	in->fault = INTAKE_OK;
	in->msg[0] = '\0';
	in->unzipped = 0;
	if (in->zip_len > ZIP_ZIPPED_MAX) {
		in->fault = INTAKE_TOO_LARGE;
		snprintf(in->msg, sizeof(in->msg), "Zipped size must be smaller than %llu bytes",
			 ZIP_ZIPPED_MAX);
		return;
	}
	if (digest_sha256_b64(in->zip, in->zip_len, in->sha256) < 0) {
		service(in, "hashing the zip", -EINVAL);
		return;
	}
	ret = make_staging(in->home, staging, sizeof(staging));
	if (ret < 0) {
		service(in, "creating a staging folder", ret);
		return;
	}
	dirfd = open(staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		service(in, "opening the staging folder", -errno);
		goto out_rm;
	}
	ret = zip_extract(in->zip, in->zip_len, dirfd, ZIP_UNZIPPED_MAX, &in->unzipped, in->msg,
			  sizeof(in->msg));
	close(dirfd);
	if (ret < 0) {
		in->fault = ret == -EFBIG    ? INTAKE_TOO_LARGE
			    : ret == -EINVAL ? INTAKE_BAD_ZIP
					     : INTAKE_SERVICE;
		if (in->fault == INTAKE_SERVICE)
			log_err("code intake: %s", in->msg);
		goto out_rm;
	}
	/* The image's root is /var/task in the guest: readable by all, like Lambda's. */
	if (chmod(staging, 0755) < 0) {
		service(in, "preparing the staging folder", -errno);
		goto out_rm;
	}
	ret = afile_open(&af, in->image_path, 0644);
	if (ret < 0) {
		service(in, "creating the code image", ret);
		goto out_rm;
	}
	ret = image_build(staging, af.tmp, in->msg, sizeof(in->msg));
	if (ret < 0) {
		in->fault = INTAKE_SERVICE;
		log_err("code intake: %s", in->msg);
		afile_abort(&af);
		goto out_rm;
	}
	/* The zip as uploaded, beside its image, for GetFunction's Code.Location;
	 * both are written before the version's row names them. */
	ret = codedir_zip_path(in->image_path, zip, sizeof(zip));
	if (ret == 0)
		ret = afile_write(zip, in->zip, in->zip_len, 0600);
	if (ret < 0) {
		service(in, "keeping the zip", ret);
		afile_abort(&af);
		goto out_rm;
	}
	ret = afile_commit(&af);
	if (ret < 0) {
		service(in, "writing the code image", ret);
		unlink(zip);
	}
out_rm:
	rm_tree(staging);
}
