/* runtimes: the Lambda runtime names emberd accepts, and the runtime image each one runs on.
 *
 * Contract:
 * - runtimes_load() reads <dir>/runtimes.json (at most RUNTIMES_FILE_MAX
 *   bytes): an object mapping a Lambda runtime name ("python3.12") to an
 *   image name ("python"), whose image is <dir>/<image>.erofs. Keys that
 *   start with '_' are comments. Names and images are checked (letters,
 *   digits, '.', '-', '_'; bounded lengths); anything else fails the whole
 *   load with -EINVAL and a log line naming the entry. A missing image file
 *   is only a warning: `make runtimes` may build it later.
 * - runtimes_image() is the image path for a runtime name, or NULL if the
 *   name is not one of them. runtimes_names() writes "a, b, c" (the order of
 *   the file) for error messages, truncated to cap.
 * Errors: negative errno, logged. Thread: load once; then read-only, so any. */
#ifndef EMBER_API_RUNTIMES_H
#define EMBER_API_RUNTIMES_H

#include <limits.h>
#include <stddef.h>

#include "api/store/fn.h"

#define RUNTIMES_MAX	  64
#define RUNTIMES_FILE_MAX 65536
#define RUNTIMES_FILE	  "runtimes.json"

struct runtime_entry {
	char name[FN_RUNTIME_MAX + 1];
	char image[FN_PATH_MAX];
};

struct runtimes {
	unsigned count;
	struct runtime_entry e[RUNTIMES_MAX];
};

int runtimes_load(const char *dir, struct runtimes *rt);
const char *runtimes_image(const struct runtimes *rt, const char *name);
void runtimes_names(const struct runtimes *rt, char *buf, size_t cap);

#endif
