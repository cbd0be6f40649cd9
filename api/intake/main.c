/* ember-intake: one uploaded zip (on stdin) to one code image, in its own process; emberd runs one per upload.
 *
 * usage: ember-intake HOME IMAGE_PATH SIZE < zip
 *
 * Why a process of its own: the zip is untrusted input, parsed by libarchive.
 * Here a zip that crashes the parser ends one upload, not the control plane,
 * and a parser bug that runs code has what intake_confine() left it
 * (api/intake/confine.h): no capabilities, no sockets, no namespaces;
 * and emberd maps neither libarchive (with its twenty libraries) nor
 * OpenSSL's providers (a SHA-256 loads them), which is most of what an idle
 * emberd's memory would otherwise be (issue 18's RSS target).
 *
 * It reads exactly SIZE bytes (the zip, already base64-decoded by emberd),
 * runs intake_run() (api/code/intake.h) and prints its result as one line of
 * JSON on stdout: {"fault": "ok" | "too_large" | "bad_zip" | "service",
 * "sha256", "unzipped", "msg"}; exit 0. Usage errors and a short stdin:
 * a message on stderr, exit 2. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "api/code/intake.h"
#include "api/intake/confine.h"
#include "lib/util/log.h"

static int usage(const char *why)
{
	fprintf(stderr, "ember-intake: %s\nusage: ember-intake HOME IMAGE_PATH SIZE < zip\n", why);
	return 2;
}

/* Exactly len bytes of stdin; -EPIPE if it ends early. */
static int read_all(uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(STDIN_FILENO, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		got += (size_t)n;
	}
	return 0;
}

static int print_result(const struct intake *in)
{
	static const char *const faults[] = {
		[INTAKE_OK] = "ok",
		[INTAKE_TOO_LARGE] = "too_large",
		[INTAKE_BAD_ZIP] = "bad_zip",
		[INTAKE_SERVICE] = "service",
	};
	cJSON *o = cJSON_CreateObject();
	char *text;
	int ret = 0;

	if (o == NULL || !cJSON_AddStringToObject(o, "fault", faults[in->fault]) ||
	    !cJSON_AddStringToObject(o, "sha256", in->fault == INTAKE_OK ? in->sha256 : "") ||
	    !cJSON_AddNumberToObject(o, "unzipped", (double)in->unzipped) ||
	    !cJSON_AddStringToObject(o, "msg", in->msg) ||
	    (text = cJSON_PrintUnformatted(o)) == NULL) {
		cJSON_Delete(o);
		return usage("out of memory");
	}
	if (printf("%s\n", text) < 0 || fflush(stdout) != 0)
		ret = 1;
	free(text);
	cJSON_Delete(o);
	return ret;
}

int main(int argc, char **argv)
{
	struct intake in = { 0 };
	unsigned long long size;
	uint8_t *zip = NULL;
	char *end, err[256];
	int ret;

	if (argc != 4)
		return usage("three arguments expected");
	errno = 0;
	size = strtoull(argv[3], &end, 10);
	if (errno != 0 || end == argv[3] || *end != '\0' || argv[3][0] == '-')
		return usage("SIZE must be a number of bytes");
	if (snprintf(in.image_path, sizeof(in.image_path), "%s", argv[2]) >=
	    (int)sizeof(in.image_path))
		return usage("IMAGE_PATH is too long");
	log_init("ember-intake", LOG_INFO);
	/* Before the first byte of the zip: it is the attacker's. */
	if (intake_confine(err, sizeof(err)) < 0) {
		fprintf(stderr, "ember-intake: %s\n", err);
		return 2;
	}
	in.home = argv[1];
	in.zip_len = (size_t)size;
	/* Over the limit: intake_run() says so without the bytes. */
	if (size <= ZIP_ZIPPED_MAX) {
		zip = malloc(size > 0 ? (size_t)size : 1);
		if (zip == NULL)
			return usage("out of memory");
		ret = read_all(zip, (size_t)size);
		if (ret < 0) {
			free(zip);
			fprintf(stderr, "ember-intake: reading the zip: %s\n", strerror(-ret));
			return 2;
		}
	}
	in.zip = zip;
	intake_run(&in);
	free(zip);
	return print_result(&in);
}
