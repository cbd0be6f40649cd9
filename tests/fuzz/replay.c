/* replay: run a libFuzzer harness over corpus files without libFuzzer (gcc, `make fuzz-replay`).
 *
 * Usage: <harness> PATH...  Each PATH is a file or a folder of files; every
 * file is passed once to LLVMFuzzerTestOneInput. A crash or sanitizer report
 * fails the run; otherwise it prints how many inputs it replayed. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long len;

	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = malloc(len > 0 ? (size_t)len : 1);
	if (buf == NULL || (len > 0 && fread(buf, 1, (size_t)len, f) != (size_t)len)) {
		fprintf(stderr, "replay: %s: read failed\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	/* An exact-size heap copy, so ASan catches reads one byte past the input. */
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);
	return 0;
}

static int run_path(const char *path, unsigned *count)
{
	struct dirent **list;
	struct stat st;
	int n, ret = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return run_file(path);
	}
	n = scandir(path, &list, NULL, alphasort);
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		char child[4096];

		if (list[i]->d_name[0] != '.') {
			snprintf(child, sizeof(child), "%s/%s", path, list[i]->d_name);
			if (ret == 0)
				ret = run_path(child, count);
		}
		free(list[i]);
	}
	free(list);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned count = 0;

	for (int i = 1; i < argc; i++) {
		/* Absolute, because a harness may chdir (into its scratch directory). */
		char *abs = realpath(argv[i], NULL);
		int ret = run_path(abs != NULL ? abs : argv[i], &count);

		free(abs);
		if (ret < 0)
			return 1;
	}
	if (count == 0) {
		fprintf(stderr, "replay: no inputs\n");
		return 1;
	}
	printf("replay: %s: %u inputs ok\n", argv[0], count);
	return 0;
}
