/* codedir: per-function code image folders: paths, sweeping (see codedir.h). */
#include "api/store/codedir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/store/uuid.h"
#include "lib/util/log.h"

static int mkdir_if_missing(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		int ret = -errno;

		log_err("creating %s: %s", path, strerror(errno));
		return ret;
	}
	return 0;
}

static int fmt(char *out, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));

static int fmt(char *out, size_t cap, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(out, cap, f, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int codedir_path(const char *home, const char *name, const char *file, char *out, size_t cap)
{
	return fmt(out, cap, "%s/" CODEDIR_FUNCTIONS "/%s/" CODEDIR_CODE "/%s", home, name, file);
}

int codedir_new_path(const char *home, const char *name, char *out, size_t cap)
{
	char dir[PATH_MAX], id[UUID_STR_LEN + 1];
	int ret;

	ret = fmt(dir, sizeof(dir), "%s/" CODEDIR_FUNCTIONS, home);
	if (ret == 0)
		ret = mkdir_if_missing(dir);
	if (ret == 0)
		ret = fmt(dir, sizeof(dir), "%s/" CODEDIR_FUNCTIONS "/%s", home, name);
	if (ret == 0)
		ret = mkdir_if_missing(dir);
	if (ret == 0)
		ret = fmt(dir, sizeof(dir), "%s/" CODEDIR_FUNCTIONS "/%s/" CODEDIR_CODE, home,
			  name);
	if (ret == 0)
		ret = mkdir_if_missing(dir);
	if (ret == 0)
		ret = uuid_v4(id);
	if (ret == 0)
		ret = fmt(out, cap, "%s/%s%s", dir, id, CODEDIR_IMAGE_EXT);
	return ret;
}

bool codedir_image_name_valid(const char *file)
{
	size_t n = strlen(file);

	if (n != UUID_STR_LEN + strlen(CODEDIR_IMAGE_EXT) ||
	    strcmp(file + UUID_STR_LEN, CODEDIR_IMAGE_EXT) != 0)
		return false;
	for (size_t i = 0; i < UUID_STR_LEN; i++) {
		char c = file[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-'))
			return false;
	}
	return true;
}

int codedir_zip_path(const char *image, char *out, size_t cap)
{
	size_t n = strlen(image), ext = strlen(CODEDIR_IMAGE_EXT);

	if (n < ext || strcmp(image + n - ext, CODEDIR_IMAGE_EXT) != 0)
		return -EINVAL;
	return fmt(out, cap, "%.*s" CODEDIR_ZIP_EXT, (int)(n - ext), image);
}

/* keep() of a file: a zip as its image. */
static bool kept(bool (*keep)(void *arg, const char *name, const char *file), void *arg,
		 const char *name, const char *file)
{
	char image[UUID_STR_LEN + sizeof(CODEDIR_IMAGE_EXT)];
	size_t n = strlen(file);

	if (n == UUID_STR_LEN + strlen(CODEDIR_ZIP_EXT) &&
	    strcmp(file + UUID_STR_LEN, CODEDIR_ZIP_EXT) == 0) {
		snprintf(image, sizeof(image), "%.*s" CODEDIR_IMAGE_EXT, UUID_STR_LEN, file);
		return keep(arg, name, image);
	}
	return keep(arg, name, file);
}

void codedir_sweep(const char *home, const char *name,
		   bool (*keep)(void *arg, const char *name, const char *file), void *arg)
{
	char dir[PATH_MAX], fdir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (fmt(fdir, sizeof(fdir), "%s/" CODEDIR_FUNCTIONS "/%s", home, name) < 0 ||
	    fmt(dir, sizeof(dir), "%s/" CODEDIR_FUNCTIONS "/%s/" CODEDIR_CODE, home, name) < 0)
		return;
	d = opendir(dir);
	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			struct stat st;

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (keep != NULL && kept(keep, arg, name, de->d_name))
				continue;
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(st.st_mode)) {
				log_warn("%s/%s: not a code image; left alone", dir, de->d_name);
				continue;
			}
			if (unlinkat(dirfd(d), de->d_name, 0) < 0)
				log_warn("removing %s/%s: %s", dir, de->d_name, strerror(errno));
			else
				log_debug("removed %s/%s", dir, de->d_name);
		}
		closedir(d);
	}
	if (keep == NULL) {
		if (rmdir(dir) < 0 && errno != ENOENT)
			log_warn("removing %s: %s", dir, strerror(errno));
		if (rmdir(fdir) < 0 && errno != ENOENT)
			log_warn("removing %s: %s", fdir, strerror(errno));
	}
}

void codedir_sweep_all(const char *home, bool (*exists)(void *arg, const char *name),
		       bool (*keep)(void *arg, const char *name, const char *file), void *arg)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (fmt(dir, sizeof(dir), "%s/" CODEDIR_FUNCTIONS, home) < 0)
		return;
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (exists(arg, de->d_name)) {
			codedir_sweep(home, de->d_name, keep, arg);
		} else {
			log_info("removing the code of %s (no such function)", de->d_name);
			codedir_sweep(home, de->d_name, NULL, NULL);
		}
	}
	closedir(d);
}
