/* store_priv: the store's state and the helpers shared by store.c (reads and changes) and store_load.c (loading at start). Not a contract for anyone else. */
#ifndef EMBER_API_STORE_PRIV_H
#define EMBER_API_STORE_PRIV_H

#include <limits.h>
#include <stdbool.h>

#include "api/store/db.h"
#include "api/store/store.h"

struct store {
	struct db *db;
	char home[PATH_MAX];
	char region[STORE_REGION_MAX + 1];
	char account[STORE_ACCOUNT_LEN + 1];
	const struct runtimes *rt;
	struct store_func **funcs; /* sorted by name */
	unsigned count, cap;
};

/* name's function (and, in *at, where it is or would go); NULL if none. */
struct store_func *store_lookup(const struct store *s, const char *name, unsigned *at);
int store_insert_func(struct store *s, struct store_func *sf, unsigned at);
void store_func_free(struct store_func *sf);
int store_reserve_version(struct store_func *sf);
/* The file name part of a code image path. */
const char *store_image_name(const struct fn *f);
/* The fields the store owns (ARN, key, runtime image; fresh: a new revision
 * and LastModified). */
int store_complete(struct store *s, struct fn *f, bool fresh);

#endif
