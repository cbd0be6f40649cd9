/* intake: one uploaded zip to one committed code image: hash, unzip into staging, mkfs.erofs, atomic rename.
 *
 * Contract:
 * - intake_run() is the whole slow path of CreateFunction and
 *   UpdateFunctionCode, run on a worker thread: CodeSha256 and CodeSize of
 *   the zip, zip_extract() into a fresh staging folder under
 *   $home/tmp/, image_build() into a temporary file next to image_path, and
 *   afile_commit() to image_path. The staging folder is always removed.
 *   On success image_path holds the finished image (fsynced, renamed, its
 *   folder fsynced); on failure nothing is left at image_path.
 * - Faults map to Lambda's errors: INTAKE_TOO_LARGE (413
 *   RequestEntityTooLargeException), INTAKE_BAD_ZIP (400
 *   InvalidParameterValueException), INTAKE_SERVICE (500, a host problem).
 *   msg says why, in Lambda's words where Lambda has them.
 * Thread: any; blocks (a worker). Touches nothing but its own files. */
#ifndef EMBER_API_INTAKE_H
#define EMBER_API_INTAKE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "api/code/digest.h"
#include "api/code/zip.h"

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
	char image_path[PATH_MAX];
	/* out */
	enum intake_fault fault;
	char sha256[DIGEST_SHA256_B64_LEN + 1];
	uint64_t unzipped;
	char msg[ZIP_MSG_LEN];
};

void intake_run(struct intake *in);

#endif
