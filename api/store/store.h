/* store: emberd's functions, their versions and reserved concurrency: in memory for reads, in SQLite for every change.
 *
 * Contract:
 * - store_open() opens $home/ember.db (db.h), loads every function and
 *   version, checks each row (fn_check; a runtime no longer in runtimes.json
 *   is a warning and leaves runtime_image empty; a missing code image is a
 *   warning), and sweeps $home/functions/: code images no row names and
 *   folders of functions that do not exist are removed (the leftovers of a
 *   crash between an image's write and its row's commit).
 * - Reads are from memory: store_find() and the index calls return
 *   pointers that stay valid until the next change on the store; a caller
 *   that keeps a struct fn takes its own reference (fn_ref).
 * - Each change is one SQLite transaction; on success the store holds the
 *   new state in memory too, and on failure neither changed. The code image
 *   a change names must already be on disk (written atomically with
 *   afile.h): store_image_path() gives a fresh path for one. Images that no
 *   version names any more are deleted after the commit.
 * - store_create() and store_replace_latest() take the caller's reference
 *   to f on success (on failure the caller keeps it) and stamp it first:
 *   version $LATEST, a new revision_id, LastModified now, the unqualified
 *   ARN, the key and runtime_image. The caller fills the rest (fn_check must pass).
 * - store_publish() makes version N (next_version) from $LATEST, unless
 *   $LATEST has not changed since the last publish: then *out is that
 *   version and *created false (Lambda's rule).
 * - Functions are kept sorted by name: store_at(i) for i < store_count(),
 *   store_index_after(name) for paging.
 * Errors: -EEXIST, -ENOENT, -EINVAL, -ENOMEM, -EIO (logged).
 * Thread: the loop thread only. */
#ifndef EMBER_API_STORE_H
#define EMBER_API_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/store/fn.h"
#include "api/store/runtimes.h"

struct db;

#define STORE_REGION_MAX  32
#define STORE_ACCOUNT_LEN 12
#define STORE_NO_RESERVED (-1)

struct store_opts {
	const char *home;
	const char *region;  /* "us-east-1" */
	const char *account; /* 12 digits */
	const struct runtimes *runtimes;
};

/* One function: its $LATEST and published versions (ascending). */
struct store_func {
	struct fn *latest;
	struct fn **versions;
	unsigned nversions, cap;
	uint32_t next_version;
	int64_t reserved; /* STORE_NO_RESERVED or >= 0 */
	char published_rev[FN_REVISION_MAX + 1];
};

struct store;

int store_open(const struct store_opts *o, struct store **out);
void store_close(struct store *s);
/* The database, for the event queue's tables (api/async/evdb.h). */
struct db *store_db(struct store *s);

const char *store_region(const struct store *s);
const char *store_account(const struct store *s);

unsigned store_count(const struct store *s);
const struct store_func *store_at(const struct store *s, unsigned i);
unsigned store_index_after(const struct store *s, const char *name);
const struct store_func *store_find(const struct store *s, const char *name);
/* The version named by qualifier (NULL or "$LATEST": $LATEST); NULL if none. */
struct fn *store_version(const struct store_func *sf, const char *qualifier);

/* A new, unused image path for function name: $home/functions/<name>/code/<uuid>.erofs
 * (creates the folders). store_discard_image() removes an image that no row
 * names (a change that failed after its image was built). */
int store_image_path(struct store *s, const char *name, char *out, size_t cap);
void store_discard_image(struct store *s, const char *name, const char *path);

int store_create(struct store *s, struct fn *f);
int store_replace_latest(struct store *s, struct fn *f);
int store_publish(struct store *s, const char *name, const char *description, struct fn **out,
		  bool *created);
int store_delete(struct store *s, const char *name);
int store_delete_version(struct store *s, const char *name, const char *version);
int store_set_reserved(struct store *s, const char *name, int64_t reserved);

/* Totals for GetAccountSettings. */
uint64_t store_code_bytes(const struct store *s);
uint64_t store_reserved_total(const struct store *s);

#endif
