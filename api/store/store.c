/* store: functions and versions in memory, every change through one SQLite transaction (see store.h; loading: store_load.c). */
#include "api/store/store_priv.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/store/codedir.h"
#include "api/store/db.h"
#include "api/store/uuid.h"
#include "lib/util/log.h"

struct db *store_db(struct store *s)
{
	return s->db;
}

const char *store_region(const struct store *s)
{
	return s->region;
}

const char *store_account(const struct store *s)
{
	return s->account;
}

unsigned store_count(const struct store *s)
{
	return s->count;
}

const struct store_func *store_at(const struct store *s, unsigned i)
{
	return i < s->count ? s->funcs[i] : NULL;
}

/* The first index whose name is >= name (strict: > name). */
static unsigned lower_bound(const struct store *s, const char *name, bool strict)
{
	unsigned lo = 0, hi = s->count;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int c = strcmp(s->funcs[mid]->latest->name, name);

		if (c < 0 || (strict && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

unsigned store_index_after(const struct store *s, const char *name)
{
	return lower_bound(s, name, true);
}

struct store_func *store_lookup(const struct store *s, const char *name, unsigned *at)
{
	unsigned i = lower_bound(s, name, false);

	if (at != NULL)
		*at = i;
	if (i < s->count && strcmp(s->funcs[i]->latest->name, name) == 0)
		return s->funcs[i];
	return NULL;
}

const struct store_func *store_find(const struct store *s, const char *name)
{
	return store_lookup(s, name, NULL);
}

struct fn *store_version(const struct store_func *sf, const char *qualifier)
{
	if (sf == NULL)
		return NULL;
	if (qualifier == NULL || strcmp(qualifier, FN_LATEST) == 0)
		return sf->latest;
	for (unsigned i = 0; i < sf->nversions; i++) {
		if (strcmp(sf->versions[i]->version, qualifier) == 0)
			return sf->versions[i];
	}
	return NULL;
}

void store_func_free(struct store_func *sf)
{
	if (sf == NULL)
		return;
	for (unsigned i = 0; i < sf->nversions; i++)
		fn_unref(sf->versions[i]);
	free(sf->versions);
	fn_unref(sf->latest);
	free(sf);
}

/* Room for one more function, so that inserting after a commit cannot fail. */
static int reserve_func(struct store *s)
{
	if (s->count == s->cap) {
		unsigned cap = s->cap ? s->cap * 2 : 16;
		struct store_func **n = realloc(s->funcs, cap * sizeof(*n));

		if (n == NULL)
			return -ENOMEM;
		s->funcs = n;
		s->cap = cap;
	}
	return 0;
}

int store_insert_func(struct store *s, struct store_func *sf, unsigned at)
{
	int ret = reserve_func(s);

	if (ret < 0)
		return ret;
	memmove(&s->funcs[at + 1], &s->funcs[at], (s->count - at) * sizeof(*s->funcs));
	s->funcs[at] = sf;
	s->count++;
	return 0;
}

int store_reserve_version(struct store_func *sf)
{
	if (sf->nversions == sf->cap) {
		unsigned cap = sf->cap ? sf->cap * 2 : 4;
		struct fn **n = realloc(sf->versions, cap * sizeof(*n));

		if (n == NULL)
			return -ENOMEM;
		sf->versions = n;
		sf->cap = cap;
	}
	return 0;
}

/* The file name part of a code image path. */
const char *store_image_name(const struct fn *f)
{
	const char *slash = strrchr(f->code_image, '/');

	return slash != NULL ? slash + 1 : f->code_image;
}

static void now_lambda(char out[FN_TIME_MAX + 1])
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	/* "2019-09-16T21:48:31.137+0000": 19 + 4 + 5 characters. */
	n = strftime(out, FN_TIME_MAX + 1, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, FN_TIME_MAX + 1 - n, ".%03d+0000", (int)(ts.tv_nsec / 1000000) % 1000);
}

/* The fields the store owns: ARN, key, runtime image (and, if fresh, a new
 * revision and LastModified). */
int store_complete(struct store *s, struct fn *f, bool fresh)
{
	const char *image = runtimes_image(s->rt, f->runtime);
	int n, ret;

	if (fresh) {
		ret = uuid_v4(f->revision_id);
		if (ret < 0)
			return ret;
		now_lambda(f->last_modified);
	}
	n = snprintf(f->arn, sizeof(f->arn), "arn:aws:lambda:%s:%s:function:%s", s->region,
		     s->account, f->name);
	if (n < 0 || (size_t)n >= sizeof(f->arn))
		return -ENAMETOOLONG;
	snprintf(f->runtime_image, sizeof(f->runtime_image), "%s", image != NULL ? image : "");
	return fn_set_key(f);
}

/* An image and the zip kept beside it (codedir.h). */
static void remove_image(const char *image)
{
	char zip[PATH_MAX];

	if (unlink(image) < 0 && errno != ENOENT)
		log_warn("removing %s: %s", image, strerror(errno));
	if (codedir_zip_path(image, zip, sizeof(zip)) == 0 && unlink(zip) < 0 && errno != ENOENT)
		log_warn("removing %s: %s", zip, strerror(errno));
}

/* Deletes images that were named by `gone` and are named by no fn of sf. */
static void drop_image(const struct store_func *sf, const struct fn *gone)
{
	if (sf != NULL) {
		if (sf->latest != NULL && strcmp(sf->latest->code_image, gone->code_image) == 0)
			return;
		for (unsigned i = 0; i < sf->nversions; i++) {
			if (strcmp(sf->versions[i]->code_image, gone->code_image) == 0)
				return;
		}
	}
	remove_image(gone->code_image);
}

static void func_row(const struct store_func *sf, struct db_function *df)
{
	memset(df, 0, sizeof(*df));
	snprintf(df->name, sizeof(df->name), "%s", sf->latest->name);
	df->next_version = sf->next_version;
	df->reserved = sf->reserved;
	snprintf(df->published_rev, sizeof(df->published_rev), "%s", sf->published_rev);
}

int store_image_path(struct store *s, const char *name, char *out, size_t cap)
{
	return codedir_new_path(s->home, name, out, cap);
}

void store_discard_image(struct store *s, const char *name, const char *path)
{
	/* Only the file: another job may be writing into the same folder (a
	 * concurrent create of the same name). Empty folders go at the next start. */
	(void)s, (void)name;
	remove_image(path);
}

int store_create(struct store *s, struct fn *f)
{
	struct store_func *sf;
	struct db_function df;
	char err[64];
	unsigned at;
	int ret;

	if (store_lookup(s, f->name, &at) != NULL)
		return -EEXIST;
	snprintf(f->version, sizeof(f->version), FN_LATEST);
	ret = store_complete(s, f, true);
	if (ret == 0 && fn_check(f, err, sizeof(err)) < 0) {
		log_err("store: refusing %s: %s", f->name, err);
		ret = -EINVAL;
	}
	if (ret < 0)
		return ret;
	sf = calloc(1, sizeof(*sf));
	if (sf == NULL)
		return -ENOMEM;
	sf->latest = f;
	sf->next_version = 1;
	sf->reserved = STORE_NO_RESERVED;
	func_row(sf, &df);
	ret = reserve_func(s);
	if (ret == 0)
		ret = db_begin(s->db);
	if (ret < 0)
		goto err;
	ret = db_put_function(s->db, &df);
	if (ret == 0)
		ret = db_put_version(s->db, f, store_image_name(f));
	if (ret == 0)
		ret = db_commit(s->db);
	else
		db_rollback(s->db);
	if (ret < 0)
		goto err;
	return store_insert_func(s, sf, at); /* cannot fail: room was reserved */

err:
	sf->latest = NULL;
	free(sf);
	return ret;
}

int store_replace_latest(struct store *s, struct fn *f)
{
	struct store_func *sf = store_lookup(s, f->name, NULL);
	struct fn *old;
	char err[64];
	int ret;

	if (sf == NULL)
		return -ENOENT;
	snprintf(f->version, sizeof(f->version), FN_LATEST);
	ret = store_complete(s, f, true);
	if (ret == 0 && fn_check(f, err, sizeof(err)) < 0) {
		log_err("store: refusing %s: %s", f->name, err);
		ret = -EINVAL;
	}
	if (ret < 0)
		return ret;
	ret = db_begin(s->db);
	if (ret < 0)
		return ret;
	ret = db_put_version(s->db, f, store_image_name(f));
	if (ret < 0) {
		db_rollback(s->db);
		return ret;
	}
	ret = db_commit(s->db);
	if (ret < 0)
		return ret;
	old = sf->latest;
	sf->latest = f;
	drop_image(sf, old);
	fn_unref(old);
	return 0;
}

int store_publish(struct store *s, const char *name, const char *description, struct fn **out,
		  bool *created)
{
	struct store_func *sf = store_lookup(s, name, NULL);
	struct db_function df;
	struct fn *v;
	int ret;

	if (sf == NULL)
		return -ENOENT;
	*created = false;
	if (sf->nversions > 0 && strcmp(sf->published_rev, sf->latest->revision_id) == 0) {
		*out = sf->versions[sf->nversions - 1];
		return 0;
	}
	if (sf->next_version > FN_VERSION_NUM_MAX)
		return -ENOSPC;
	ret = store_reserve_version(sf);
	if (ret < 0)
		return ret;
	v = fn_dup(sf->latest);
	if (v == NULL)
		return -ENOMEM;
	snprintf(v->version, sizeof(v->version), "%u", sf->next_version);
	if (description != NULL)
		snprintf(v->description, sizeof(v->description), "%s", description);
	ret = store_complete(s, v, true);
	if (ret < 0)
		goto err;
	func_row(sf, &df);
	df.next_version = sf->next_version + 1;
	snprintf(df.published_rev, sizeof(df.published_rev), "%s", sf->latest->revision_id);
	ret = db_begin(s->db);
	if (ret < 0)
		goto err;
	ret = db_put_function(s->db, &df);
	if (ret == 0)
		ret = db_put_version(s->db, v, store_image_name(v));
	if (ret == 0) {
		ret = db_commit(s->db);
	} else {
		db_rollback(s->db);
	}
	if (ret < 0)
		goto err;
	sf->next_version++;
	snprintf(sf->published_rev, sizeof(sf->published_rev), "%s", sf->latest->revision_id);
	sf->versions[sf->nversions++] = v;
	*out = v;
	*created = true;
	return 0;

err:
	fn_unref(v);
	return ret;
}

int store_delete(struct store *s, const char *name)
{
	unsigned at;
	struct store_func *sf = store_lookup(s, name, &at);
	int ret;

	if (sf == NULL)
		return -ENOENT;
	ret = db_begin(s->db);
	if (ret < 0)
		return ret;
	ret = db_delete_function(s->db, name);
	if (ret < 0) {
		db_rollback(s->db);
		return ret;
	}
	ret = db_commit(s->db);
	if (ret < 0)
		return ret;
	memmove(&s->funcs[at], &s->funcs[at + 1], (s->count - at - 1) * sizeof(*s->funcs));
	s->count--;
	/* Each image, not the folder: a create of the same name may be writing
	 * there already. The empty folder goes at the next start. */
	drop_image(NULL, sf->latest);
	for (unsigned i = 0; i < sf->nversions; i++) {
		if (strcmp(sf->versions[i]->code_image, sf->latest->code_image) != 0)
			drop_image(NULL, sf->versions[i]);
	}
	store_func_free(sf);
	return 0;
}

int store_delete_version(struct store *s, const char *name, const char *version)
{
	struct store_func *sf = store_lookup(s, name, NULL);
	unsigned i;
	struct fn *v;
	int ret;

	if (sf == NULL)
		return -ENOENT;
	if (strcmp(version, FN_LATEST) == 0)
		return -EINVAL;
	for (i = 0; i < sf->nversions; i++) {
		if (strcmp(sf->versions[i]->version, version) == 0)
			break;
	}
	if (i == sf->nversions)
		return -ENOENT;
	ret = db_begin(s->db);
	if (ret < 0)
		return ret;
	ret = db_delete_version(s->db, name, version);
	if (ret < 0) {
		db_rollback(s->db);
		return ret;
	}
	ret = db_commit(s->db);
	if (ret < 0)
		return ret;
	v = sf->versions[i];
	memmove(&sf->versions[i], &sf->versions[i + 1],
		(sf->nversions - i - 1) * sizeof(*sf->versions));
	sf->nversions--;
	drop_image(sf, v);
	fn_unref(v);
	return 0;
}

int store_set_reserved(struct store *s, const char *name, int64_t reserved)
{
	struct store_func *sf = store_lookup(s, name, NULL);
	struct db_function df;
	int ret;

	if (sf == NULL)
		return -ENOENT;
	func_row(sf, &df);
	df.reserved = reserved;
	ret = db_begin(s->db);
	if (ret < 0)
		return ret;
	ret = db_put_function(s->db, &df);
	if (ret < 0) {
		db_rollback(s->db);
		return ret;
	}
	ret = db_commit(s->db);
	if (ret == 0)
		sf->reserved = reserved;
	return ret;
}

uint64_t store_code_bytes(const struct store *s)
{
	uint64_t total = 0;

	for (unsigned i = 0; i < s->count; i++) {
		total += s->funcs[i]->latest->code_size;
		for (unsigned j = 0; j < s->funcs[i]->nversions; j++)
			total += s->funcs[i]->versions[j]->code_size;
	}
	return total;
}

uint64_t store_reserved_total(const struct store *s)
{
	uint64_t total = 0;

	for (unsigned i = 0; i < s->count; i++) {
		if (s->funcs[i]->reserved > 0)
			total += (uint64_t)s->funcs[i]->reserved;
	}
	return total;
}
