/* fn: one function version as emberd serves it: what the Lambda API stored, and what an instance is built from.
 *
 * Contract:
 * - A struct fn is immutable once published by the store, and reference
 *   counted: the store hands out references (fn_ref), every holder drops its
 *   own (fn_unref), and the last unref frees it. So an instance keeps running
 *   on the configuration it was started with while an update publishes a new
 *   struct fn for the same name and version.
 * - `key` names one immutable configuration ("<name>/<version>/<revision_id>"):
 *   two fns with the same key are the same code and configuration, so
 *   instances (and a snapshot) of one serve the other. Any change to code or
 *   configuration makes a new revision_id, hence a new key.
 * - Strings are NUL-terminated and already validated by the Lambda API layer
 *   against Lambda's rules (name pattern, handler, runtime in runtimes.json,
 *   memory 128..10240 MiB, timeout 1..900 s, environment at most 4 KiB).
 * Thread: the event-loop thread only (the reference count is not atomic). */
#ifndef EMBER_API_FN_H
#define EMBER_API_FN_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FN_NAME_MAX	   64  /* Lambda: [a-zA-Z0-9-_]{1,64} */
#define FN_VERSION_MAX	   16  /* "$LATEST" or a decimal version number */
#define FN_ARN_MAX	   160 /* arn:aws:lambda:<region>:<account>:function:<name>[:<version>] */
#define FN_RUNTIME_MAX	   32  /* "python3.12", "nodejs20.x", "provided.al2023", ... */
#define FN_HANDLER_MAX	   128
#define FN_REVISION_MAX	   36 /* a UUID */
#define FN_SHA256_B64	   44 /* base64 of 32 bytes */
#define FN_KEY_MAX	   (FN_NAME_MAX + 1 + FN_VERSION_MAX + 1 + FN_REVISION_MAX)
#define FN_ENV_MAX	   64	/* variables; Lambda limits their total size to 4 KiB */
#define FN_ENV_BYTES	   4096 /* Lambda's limit on the variables' JSON, {"K":"V",...} */
#define FN_ROLE_MAX	   512	/* an IAM role ARN; accepted, never used */
#define FN_DESC_MAX	   256	/* Lambda: Description 0..256 */
#define FN_TIME_MAX	   28	/* LastModified: "2019-09-16T21:48:31.137+0000" */
#define FN_MEMORY_MIN	   128
#define FN_MEMORY_MAX	   10240
#define FN_TIMEOUT_MIN	   1
#define FN_TIMEOUT_MAX	   900
#define FN_VERSION_NUM_MAX 999999999u
#define FN_LATEST	   "$LATEST"
/* An image's path. A code image is <home>/functions/<name>/code/<uuid>.erofs
 * and EMBER_HOME is short (its sockets fit a sun_path, api/pool/set.c), so it
 * always fits; runtimes.json's images are checked at load. Not PATH_MAX:
 * every version in memory holds two, and emberd holds hundreds. */
#define FN_PATH_MAX 256

struct fn_env {
	char *key, *value;
};

struct fn {
	unsigned refs;
	char key[FN_KEY_MAX + 1];
	char name[FN_NAME_MAX + 1];
	char version[FN_VERSION_MAX + 1];
	char arn[FN_ARN_MAX + 1]; /* unqualified: ...:function:<name> */
	char runtime[FN_RUNTIME_MAX + 1];
	char handler[FN_HANDLER_MAX + 1];
	char revision_id[FN_REVISION_MAX + 1];
	char code_sha256[FN_SHA256_B64 + 1];
	uint64_t code_size;		 /* bytes of the zip */
	char code_image[FN_PATH_MAX];	 /* read-only image mounted at /var/task */
	char runtime_image[FN_PATH_MAX]; /* read-only image mounted at / */
	uint32_t memory_mib;		 /* 128..10240 */
	uint32_t timeout_s;		 /* 1..900 */
	unsigned env_count;
	struct fn_env env[FN_ENV_MAX];
	/* What the Lambda API shows and an instance never needs. */
	char role[FN_ROLE_MAX + 1];
	char description[FN_DESC_MAX + 1];
	char last_modified[FN_TIME_MAX + 1];
};

/* A zeroed fn with one reference; NULL if out of memory. */
struct fn *fn_new(void);
struct fn *fn_ref(struct fn *f);
void fn_unref(struct fn *f);
/* Sets env[i] to copies of key and value; -ENOMEM or -ENOSPC. */
int fn_add_env(struct fn *f, const char *key, const char *value);
/* Frees every variable: env_count becomes 0. */
void fn_clear_env(struct fn *f);
/* A new fn (one reference) with a deep copy of f's fields; NULL if out of memory. */
struct fn *fn_dup(const struct fn *f);
/* Sets key from name, version and revision_id; -ENAMETOOLONG if they do not fit. */
int fn_set_key(struct fn *f);

/* Lambda's name rule, [a-zA-Z0-9-_]{1,64}. */
bool fn_name_valid(const char *name);
/* A published version number: 1..FN_VERSION_NUM_MAX in decimal, no leading zero. */
bool fn_version_number_valid(const char *version);
/* Checks the invariants above (for fns read back from disk): 0, or -EINVAL
 * with the first broken rule in err. */
int fn_check(const struct fn *f, char *err, size_t cap);

#endif
