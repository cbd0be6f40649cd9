/* mkinitramfs: pack a newc initramfs from a spec file, without root.
 *
 * usage: mkinitramfs SPEC OUT
 * Each SPEC line is one entry, in order (blank lines and # comments skipped):
 *   dir  /path MODE
 *   nod  /path MODE c|b MAJOR MINOR
 *   file /path MODE SOURCE
 * MODE is octal. SOURCE is read from the host. The archive is written to
 * OUT.tmp and renamed, so OUT is either complete or absent. The output is
 * reproducible (see cpio.h). */
#include "guest-init/cpio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_SOURCE (512u << 20) /* a sanity bound, far above any initramfs */

static int read_all(const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	int ret = 0;

	if (f == NULL)
		return -errno;
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > MAX_SOURCE) {
		fclose(f);
		return -EINVAL;
	}
	*len = (size_t)st.st_size;
	*data = malloc(*len ? *len : 1);
	if (*data == NULL)
		ret = -ENOMEM;
	else if (fread(*data, 1, *len, f) != *len)
		ret = -EIO;
	fclose(f);
	if (ret < 0)
		free(*data);
	return ret;
}

static int add_line(struct cpio_writer *w, char *line, const char **why)
{
	char kind[8], path[4096], src[4096], type;
	unsigned int mode, major, minor;
	int n;

	if (sscanf(line, "%7s", kind) != 1)
		return 0;
	if (strcmp(kind, "dir") == 0 && sscanf(line, "%*s %4095s %o %n", path, &mode, &n) == 2 &&
	    line[n] == '\0') {
		*why = "bad dir entry";
		return cpio_add_dir(w, path, mode);
	}
	if (strcmp(kind, "nod") == 0 &&
	    sscanf(line, "%*s %4095s %o %c %u %u %n", path, &mode, &type, &major, &minor, &n) ==
		    5 &&
	    line[n] == '\0') {
		*why = "bad device node";
		return cpio_add_node(w, path, mode, type, major, minor);
	}
	if (strcmp(kind, "file") == 0 &&
	    sscanf(line, "%*s %4095s %o %4095s %n", path, &mode, src, &n) == 3 && line[n] == '\0') {
		char *data = NULL;
		size_t len = 0;
		int ret = read_all(src, &data, &len);

		if (ret < 0) {
			*why = "cannot read source (missing, not a regular file, or too big)";
			return ret;
		}
		*why = "bad file entry";
		ret = cpio_add_file(w, path, mode, data, len);
		free(data);
		return ret;
	}
	*why = "expected 'dir PATH MODE', 'nod PATH MODE c|b MAJ MIN' or 'file PATH MODE SRC'";
	return -EINVAL;
}

int main(int argc, char **argv)
{
	struct cpio_writer w;
	char line[8192], tmp[4096];
	FILE *spec, *out;
	unsigned int lineno = 0;
	int ret = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: mkinitramfs SPEC OUT\n");
		return 1;
	}
	spec = fopen(argv[1], "r");
	if (spec == NULL) {
		fprintf(stderr, "mkinitramfs: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]);
	out = fopen(tmp, "wb");
	if (out == NULL) {
		fprintf(stderr, "mkinitramfs: %s: %s\n", tmp, strerror(errno));
		fclose(spec);
		return 1;
	}
	cpio_init(&w, out);
	while (ret == 0 && fgets(line, sizeof(line), spec) != NULL) {
		const char *why = "";
		char *hash = strchr(line, '#');

		lineno++;
		if (hash != NULL)
			*hash = '\0';
		line[strcspn(line, "\n")] = '\0';
		ret = add_line(&w, line, &why);
		if (ret < 0)
			fprintf(stderr, "mkinitramfs: %s:%u: %s: %s\n", argv[1], lineno, why,
				strerror(-ret));
	}
	if (ret == 0) {
		ret = cpio_finish(&w);
		if (ret < 0)
			fprintf(stderr, "mkinitramfs: %s: %s\n", tmp, strerror(-ret));
	}
	fclose(spec);
	if (fclose(out) != 0 && ret == 0)
		ret = -EIO;
	if (ret == 0 && rename(tmp, argv[2]) < 0)
		ret = -errno;
	if (ret < 0) {
		remove(tmp);
		return 1;
	}
	return 0;
}
