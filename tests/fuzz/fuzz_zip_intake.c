/* fuzz_zip_intake: libFuzzer harness for uploaded function zips (api/code/zip.c with libarchive; digest.c).
 *
 * Input: any bytes, as the decoded Code.ZipFile. zip_extract() unpacks them
 * into a fresh folder under a private scratch folder, with a 1 MiB unzipped
 * limit. Whatever they say: no crash or leak; 0, or -EINVAL with a message
 * (a host error such as a full disk is not expected here); and nothing is
 * ever written next to the folder (the scratch folder holds only it). The
 * input is also base64-encoded, decoded back and hashed (digest.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/code/digest.h"
#include "api/code/zip.h"

#define UNZIPPED_MAX (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static char scratch[64];

static void remove_scratch(void)
{
	rmdir(scratch);
}

static unsigned entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;

	if (d == NULL)
		abort();
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char dir[128], msg[ZIP_MSG_LEN], sha[DIGEST_SHA256_B64_LEN + 1];
	uint64_t unzipped = 0;
	uint8_t *back = NULL;
	size_t back_len = 0;
	char *b64;
	int fd, ret;

	if (scratch[0] == '\0') {
		strcpy(scratch, "/tmp/ember-fuzz-zip-XXXXXX");
		if (mkdtemp(scratch) == NULL)
			abort();
		atexit(remove_scratch);
	}
	snprintf(dir, sizeof(dir), "%s/stage", scratch);
	if (mkdir(dir, 0700) < 0)
		abort();
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		abort();
	msg[0] = '\0';
	ret = zip_extract(data, size, fd, UNZIPPED_MAX, &unzipped, msg, sizeof(msg));
	close(fd);
	if ((ret != 0 && ret != -EINVAL) || (ret != 0 && msg[0] == '\0') || unzipped > UNZIPPED_MAX)
		abort();
	if (entries(scratch) != 1) /* only the staging folder: nothing escaped it */
		abort();
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	/* base64 round trip and the hash. */
	b64 = digest_b64_encode(data, size);
	if (b64 == NULL || digest_b64_decode(b64, strlen(b64), &back, &back_len) != 0 ||
	    back_len != size || (size > 0 && memcmp(back, data, size) != 0) ||
	    digest_sha256_b64(data, size, sha) != 0 || strlen(sha) != DIGEST_SHA256_B64_LEN)
		abort();
	free(back);
	free(b64);
	return 0;
}
