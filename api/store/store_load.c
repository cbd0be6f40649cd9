/* store_load: the store at start: every row of ember.db checked and loaded, and the code folders swept of what no row names (see store.h). */
#include "api/store/store_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/store/codedir.h"
#include "lib/util/log.h"

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
	if (store_lookup(s, df->name, &at) != NULL)
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
	ret = store_insert_func(s, sf, at);
	if (ret < 0)
		store_func_free(sf);
	return ret;
}

static int load_row(void *arg, struct fn *f, const char *image)
{
	struct store *s = arg;
	struct store_func *sf = store_lookup(s, f->name, NULL);
	char err[64];
	int ret = -EINVAL;

	if (sf == NULL || !codedir_image_name_valid(image) || fn_check(f, err, sizeof(err)) < 0) {
		log_err("database: bad version row %.64s %.16s", f->name, f->version);
		goto err;
	}
	ret = codedir_path(s->home, f->name, image, f->code_image, sizeof(f->code_image));
	if (ret == 0)
		ret = store_complete(s, f, false);
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
	ret = store_reserve_version(sf);
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
	return store_lookup(arg, name, NULL) != NULL;
}

static bool sweep_keep(void *arg, const char *name, const char *file)
{
	const struct store_func *sf = store_lookup(arg, name, NULL);

	if (sf == NULL)
		return false;
	if (strcmp(store_image_name(sf->latest), file) == 0)
		return true;
	for (unsigned i = 0; i < sf->nversions; i++) {
		if (strcmp(store_image_name(sf->versions[i]), file) == 0)
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
		store_func_free(s->funcs[i]);
	free(s->funcs);
	db_close(s->db);
	free(s);
}
