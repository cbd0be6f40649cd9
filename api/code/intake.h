/* intake: one uploaded zip to one committed code image: hash, unzip into staging, mkfs.erofs, atomic rename.
 *
 * Contract:
 * - emberd calls intake_in_child(), which runs all of intake_run() in a
 *   process of its own (exe: ember-intake, api/intake/main.c): the zip goes
 *   to its stdin and the result comes back as one line of JSON, filling
 *   *in exactly as intake_run() would. A child that dies, or answers
 *   nothing readable, is INTAKE_SERVICE with a message that says so.
 *   Why: the zip is untrusted, and emberd should not map libarchive or
 *   OpenSSL's providers for it (api/intake/main.c).
 * - intake_run() is the whole slow path of CreateFunction and
 *   UpdateFunctionCode, run in ember-intake's process: CodeSha256 and CodeSize of
 *   the zip, zip_extract() into a fresh staging folder under
 *   $home/tmp/, image_build() into a temporary file next to image_path, and
 *   afile_commit() to image_path. The staging folder is always removed.
 *   On success image_path holds the finished image (fsynced, renamed, its
 *   folder fsynced); on failure nothing is left at image_path.
 * - Faults map to Lambda's errors: INTAKE_TOO_LARGE (413
 *   RequestEntityTooLargeException), INTAKE_BAD_ZIP (400
 *   InvalidParameterValueException), INTAKE_SERVICE (500, a host problem).
 *   msg says why, in Lambda's words where Lambda has them.
 * Thread: any; both block (emberd calls intake_in_child() on a worker).
 * They touch nothing but their own files. */
#ifndef EMBER_API_INTAKE_H
#define EMBER_API_INTAKE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "api/code/digest.h"
#include "api/code/zip.h"
#include "api/store/fn.h"

enum intake_fault {
	INTAKE_OK,
	INTAKE_TOO_LARGE,
	INTAKE_BAD_ZIP,
	INTAKE_SERVICE,
};

#define INTAKE_TMP "tmp" /* $home/tmp: staging folders */

struct intake {
	/* in */
	const char *home;
	const uint8_t *zip;
	size_t zip_len;
	char image_path[FN_PATH_MAX];
	/* out */
	enum intake_fault fault;
	char sha256[DIGEST_SHA256_B64_LEN + 1];
	uint64_t unzipped;
	char msg[ZIP_MSG_LEN];
};

void intake_run(struct intake *in);
void intake_in_child(struct intake *in, const char *exe);

#endif
