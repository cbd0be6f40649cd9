/* store: functions and versions in memory, every change through one SQLite transaction (see store.h). */
#include "api/store/store.h"

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

struct store {
	struct db *db;
	char home[PATH_MAX];
	char region[STORE_REGION_MAX + 1];
	char account[STORE_ACCOUNT_LEN + 1];
	const struct runtimes *rt;
	struct store_func **funcs; /* sorted by name */
	unsigned count, cap;
};

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

static struct store_func *find(const struct store *s, const char *name, unsigned *at)
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
	return find(s, name, NULL);
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

static void func_free(struct store_func *sf)
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

static int insert_func(struct store *s, struct store_func *sf, unsigned at)
{
	int ret = reserve_func(s);

	if (ret < 0)
		return ret;
	memmove(&s->funcs[at + 1], &s->funcs[at], (s->count - at) * sizeof(*s->funcs));
	s->funcs[at] = sf;
	s->count++;
	return 0;
}

static int reserve_version(struct store_func *sf)
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
static const char *image_name(const struct fn *f)
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
static int complete(struct store *s, struct fn *f, bool fresh)
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
	if (unlink(gone->code_image) < 0 && errno != ENOENT)
		log_warn("removing %s: %s", gone->code_image, strerror(errno));
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
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("removing %s: %s", path, strerror(errno));
}

int store_create(struct store *s, struct fn *f)
{
	struct store_func *sf;
	struct db_function df;
	char err[64];
	unsigned at;
	int ret;

	if (find(s, f->name, &at) != NULL)
		return -EEXIST;
	snprintf(f->version, sizeof(f->version), FN_LATEST);
	ret = complete(s, f, true);
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
		ret = db_put_version(s->db, f, image_name(f));
	if (ret == 0)
		ret = db_commit(s->db);
	else
		db_rollback(s->db);
	if (ret < 0)
		goto err;
	return insert_func(s, sf, at); /* cannot fail: room was reserved */

err:
	sf->latest = NULL;
	free(sf);
	return ret;
}

int store_replace_latest(struct store *s, struct fn *f)
{
	struct store_func *sf = find(s, f->name, NULL);
	struct fn *old;
	char err[64];
	int ret;

	if (sf == NULL)
		return -ENOENT;
	snprintf(f->version, sizeof(f->version), FN_LATEST);
	ret = complete(s, f, true);
	if (ret == 0 && fn_check(f, err, sizeof(err)) < 0) {
		log_err("store: refusing %s: %s", f->name, err);
		ret = -EINVAL;
	}
	if (ret < 0)
		return ret;
	ret = db_begin(s->db);
	if (ret < 0)
		return ret;
	ret = db_put_version(s->db, f, image_name(f));
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
	struct store_func *sf = find(s, name, NULL);
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
	ret = reserve_version(sf);
	if (ret < 0)
		return ret;
	v = fn_dup(sf->latest);
	if (v == NULL)
		return -ENOMEM;
	snprintf(v->version, sizeof(v->version), "%u", sf->next_version);
	if (description != NULL)
		snprintf(v->description, sizeof(v->description), "%s", description);
	ret = complete(s, v, true);
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
		ret = db_put_version(s->db, v, image_name(v));
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
	struct store_func *sf = find(s, name, &at);
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
	func_free(sf);
	return 0;
}

int store_delete_version(struct store *s, const char *name, const char *version)
{
	struct store_func *sf = find(s, name, NULL);
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
	struct store_func *sf = find(s, name, NULL);
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

/* --- loading --- */

/* Loading goes through a staging list first: function rows come before
 * their versions, and a function without a $LATEST row is refused. */
static int load_function(void *arg, const struct db_function *df)
{
	struct store *s = arg;
	struct store_func *sf;
	unsigned at;
	int ret;

	if (!fn_name_valid(df->name) || df->reserved < STORE_NO_RESERVED ||
	    df->reserved > UINT32_MAX) {
		log_err("database: bad function row %.64s", df->name);
		return -EINVAL;
	}
	if (find(s, df->name, &at) != NULL)
		return -EINVAL;
	sf = calloc(1, sizeof(*sf));
	if (sf == NULL)
		return -ENOMEM;
	/* A placeholder latest keeps the array sorted until the row comes. */
	sf->latest = fn_new();
	if (sf->latest == NULL) {
		free(sf);
		return -ENOMEM;
	}
	snprintf(sf->latest->name, sizeof(sf->latest->name), "%s", df->name);
	sf->next_version = df->next_version;
	sf->reserved = df->reserved;
	snprintf(sf->published_rev, sizeof(sf->published_rev), "%s", df->published_rev);
	ret = insert_func(s, sf, at);
	if (ret < 0)
		func_free(sf);
	return ret;
}

static int load_row(void *arg, struct fn *f, const char *image)
{
	struct store *s = arg;
	struct store_func *sf = find(s, f->name, NULL);
	char err[64];
	int ret = -EINVAL;

	if (sf == NULL || !codedir_image_name_valid(image) || fn_check(f, err, sizeof(err)) < 0) {
		log_err("database: bad version row %.64s %.16s", f->name, f->version);
		goto err;
	}
	ret = codedir_path(s->home, f->name, image, f->code_image, sizeof(f->code_image));
	if (ret == 0)
		ret = complete(s, f, false);
	if (ret < 0)
		goto err;
	if (f->runtime_image[0] == '\0')
		log_warn("function %s %s: runtime %s is not in runtimes.json", f->name, f->version,
			 f->runtime);
	if (access(f->code_image, R_OK) < 0)
		log_warn("function %s %s: code image %s: %s", f->name, f->version, f->code_image,
			 strerror(errno));
	if (strcmp(f->version, FN_LATEST) == 0) {
		fn_unref(sf->latest);
		sf->latest = f;
		return 0;
	}
	if (strtoul(f->version, NULL, 10) >= sf->next_version) {
		log_err("database: %s version %s is past next_version", f->name, f->version);
		goto err;
	}
	ret = reserve_version(sf);
	if (ret < 0)
		goto err;
	sf->versions[sf->nversions++] = f;
	return 0;

err:
	fn_unref(f);
	return ret;
}

static bool sweep_exists(void *arg, const char *name)
{
	return find(arg, name, NULL) != NULL;
}

static bool sweep_keep(void *arg, const char *name, const char *file)
{
	const struct store_func *sf = find(arg, name, NULL);

	if (sf == NULL)
		return false;
	if (strcmp(image_name(sf->latest), file) == 0)
		return true;
	for (unsigned i = 0; i < sf->nversions; i++) {
		if (strcmp(image_name(sf->versions[i]), file) == 0)
			return true;
	}
	log_info("removing %s's unused code image %s", name, file);
	return false;
}

int store_open(const struct store_opts *o, struct store **out)
{
	struct store *s = calloc(1, sizeof(*s));
	char path[PATH_MAX];
	int ret = -ENAMETOOLONG, n;

	if (s == NULL)
		return -ENOMEM;
	s->rt = o->runtimes;
	if (snprintf(s->home, sizeof(s->home), "%s", o->home) >= (int)sizeof(s->home) ||
	    snprintf(s->region, sizeof(s->region), "%s", o->region) >= (int)sizeof(s->region) ||
	    snprintf(s->account, sizeof(s->account), "%s", o->account) >= (int)sizeof(s->account))
		goto err;
	n = snprintf(path, sizeof(path), "%s/" DB_FILE, o->home);
	if (n < 0 || (size_t)n >= sizeof(path))
		goto err;
	ret = db_open(path, &s->db);
	if (ret < 0)
		goto err;
	ret = db_load(s->db, load_function, load_row, s);
	if (ret < 0)
		goto err;
	for (unsigned i = 0; i < s->count; i++) {
		if (s->funcs[i]->latest->version[0] == '\0') {
			log_err("database: function %s has no $LATEST", s->funcs[i]->latest->name);
			ret = -EINVAL;
			goto err;
		}
	}
	codedir_sweep_all(s->home, sweep_exists, sweep_keep, s);
	log_info("store: %u functions in %s", s->count, path);
	*out = s;
	return 0;

err:
	if (ret == -ENAMETOOLONG)
		log_err("store: %s: the path is too long", o->home);
	store_close(s);
	return ret;
}

void store_close(struct store *s)
{
	if (s == NULL)
		return;
	for (unsigned i = 0; i < s->count; i++)
		func_free(s->funcs[i]);
	free(s->funcs);
	db_close(s->db);
	free(s);
}
