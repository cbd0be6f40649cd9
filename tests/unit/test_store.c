/* Unit tests for api/store/: SQLite round trips in a temp folder, versions, image cleanup, the startup sweep, schema versions. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/store/codedir.h"
#include "api/store/db.h"
#include "api/store/store.h"
#include "lib/util/afile.h"
#include "lib/util/log.h"

_Static_assert(DB_SCHEMA_VERSION == 2, "test_schema_version writes the current version as 2");

static char home[] = "/tmp/ember-store-XXXXXX";
static struct runtimes rt;

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_ERR);
	strcpy(home, "/tmp/ember-store-XXXXXX");
	assert_non_null(mkdtemp(home));
	memset(&rt, 0, sizeof(rt));
	snprintf(rt.e[0].name, sizeof(rt.e[0].name), "python3.12");
	snprintf(rt.e[0].image, sizeof(rt.e[0].image), "/rt/python.erofs");
	rt.count = 1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", home);
	return system(cmd) == 0 ? 0 : -1;
}

static struct store *open_store(void)
{
	struct store_opts o = {
		.home = home,
		.region = "eu-west-1",
		.account = "123456789012",
		.runtimes = &rt,
	};
	struct store *s = NULL;

	assert_int_equal(store_open(&o, &s), 0);
	return s;
}

/* A new fn with an image file on disk, as code intake leaves it. */
static struct fn *new_fn(struct store *s, const char *name, uint32_t mem)
{
	struct fn *f = fn_new();

	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->runtime, sizeof(f->runtime), "python3.12");
	snprintf(f->handler, sizeof(f->handler), "app.h");
	snprintf(f->role, sizeof(f->role), "arn:aws:iam::123456789012:role/r");
	snprintf(f->description, sizeof(f->description), "desc %s", name);
	snprintf(f->code_sha256, sizeof(f->code_sha256),
		 "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
	f->code_size = 1234;
	f->memory_mib = mem;
	f->timeout_s = 9;
	assert_int_equal(fn_add_env(f, "AB", "x=y"), 0);
	assert_int_equal(fn_add_env(f, "CD", "{\"json\": \"inside\"}"), 0);
	assert_int_equal(store_image_path(s, name, f->code_image, sizeof(f->code_image)), 0);
	assert_int_equal(afile_write(f->code_image, "img", 3, 0644), 0);
	return f;
}

static void expect_same(const struct fn *a, const struct fn *b)
{
	assert_string_equal(a->key, b->key);
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->version, b->version);
	assert_string_equal(a->arn, b->arn);
	assert_string_equal(a->runtime, b->runtime);
	assert_string_equal(a->handler, b->handler);
	assert_string_equal(a->revision_id, b->revision_id);
	assert_string_equal(a->code_sha256, b->code_sha256);
	assert_int_equal(a->code_size, b->code_size);
	assert_string_equal(a->code_image, b->code_image);
	assert_string_equal(a->runtime_image, b->runtime_image);
	assert_int_equal(a->memory_mib, b->memory_mib);
	assert_int_equal(a->timeout_s, b->timeout_s);
	assert_int_equal(a->env_count, b->env_count);
	for (unsigned i = 0; i < a->env_count; i++) {
		assert_string_equal(a->env[i].key, b->env[i].key);
		assert_string_equal(a->env[i].value, b->env[i].value);
	}
	assert_string_equal(a->role, b->role);
	assert_string_equal(a->description, b->description);
	assert_string_equal(a->last_modified, b->last_modified);
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static void test_create_and_reopen(void **state)
{
	struct store *s = open_store();
	struct fn *f = new_fn(s, "alpha", 256), *copy[3], *v1;
	const struct store_func *sf;
	char first_image[PATH_MAX];
	bool created;

	(void)state;
	assert_int_equal(store_count(s), 0);
	assert_int_equal(store_create(s, f), 0);
	/* The store stamped what it owns. */
	assert_string_equal(f->version, "$LATEST");
	assert_string_equal(f->arn, "arn:aws:lambda:eu-west-1:123456789012:function:alpha");
	assert_string_equal(f->runtime_image, "/rt/python.erofs");
	assert_int_equal(strlen(f->revision_id), 36);
	assert_int_equal(strlen(f->last_modified), 28);
	assert_string_equal(f->last_modified + 23, "+0000");
	assert_memory_equal(f->key, "alpha/$LATEST/", 14);
	/* A second create of the name fails and leaves the first. */
	{
		struct fn *dup = new_fn(s, "alpha", 512);

		assert_int_equal(store_create(s, dup), -EEXIST);
		store_discard_image(s, "alpha", dup->code_image);
		assert_false(exists(dup->code_image));
		fn_unref(dup);
	}
	assert_int_equal(store_create(s, new_fn(s, "beta", 128)), 0);
	/* Publish twice without a change: one version. */
	assert_int_equal(store_publish(s, "alpha", "first", &v1, &created), 0);
	assert_true(created);
	assert_string_equal(v1->version, "1");
	assert_string_equal(v1->description, "first");
	assert_string_equal(v1->arn, "arn:aws:lambda:eu-west-1:123456789012:function:alpha");
	assert_memory_equal(v1->key, "alpha/1/", 8);
	assert_string_equal(v1->code_image, f->code_image);
	{
		struct fn *again;

		assert_int_equal(store_publish(s, "alpha", NULL, &again, &created), 0);
		assert_false(created);
		assert_ptr_equal(again, v1);
	}
	/* New code for $LATEST: the old image stays, version 1 names it. */
	snprintf(first_image, sizeof(first_image), "%s", f->code_image);
	f = new_fn(s, "alpha", 1024);
	assert_int_equal(store_replace_latest(s, f), 0);
	assert_true(exists(first_image));
	assert_int_equal(store_set_reserved(s, "alpha", 5), 0);
	/* The last change to beta: nothing else writes its row after this. */
	assert_int_equal(store_set_reserved(s, "beta", 0), 0);
	assert_int_equal(store_publish(s, "alpha", NULL, &v1, &created), 0);
	assert_string_equal(v1->version, "2");
	sf = store_find(s, "alpha");
	assert_int_equal(sf->nversions, 2);
	copy[0] = fn_ref(sf->latest);
	copy[1] = fn_ref(sf->versions[0]);
	copy[2] = fn_ref(sf->versions[1]);
	store_close(s);

	s = open_store();
	assert_int_equal(store_count(s), 2);
	assert_string_equal(store_at(s, 0)->latest->name, "alpha");
	assert_string_equal(store_at(s, 1)->latest->name, "beta");
	sf = store_find(s, "alpha");
	assert_int_equal(sf->nversions, 2);
	assert_int_equal(sf->next_version, 3);
	assert_int_equal(sf->reserved, 5);
	assert_int_equal(store_find(s, "beta")->reserved, 0);
	expect_same(sf->latest, copy[0]);
	expect_same(sf->versions[0], copy[1]);
	expect_same(sf->versions[1], copy[2]);
	assert_ptr_equal(store_version(sf, NULL), sf->latest);
	assert_ptr_equal(store_version(sf, "$LATEST"), sf->latest);
	assert_ptr_equal(store_version(sf, "2"), sf->versions[1]);
	assert_null(store_version(sf, "3"));
	assert_int_equal(store_reserved_total(s), 5);
	assert_int_equal(store_set_reserved(s, "beta", STORE_NO_RESERVED), 0);
	assert_int_equal(store_code_bytes(s), 4 * 1234);
	/* No change since version 2 was published: still version 2 after a restart. */
	assert_int_equal(store_publish(s, "alpha", NULL, &v1, &created), 0);
	assert_false(created);
	assert_string_equal(v1->version, "2");
	for (int i = 0; i < 3; i++)
		fn_unref(copy[i]);

	/* Deleting version 1 deletes the image only it named. */
	assert_int_equal(store_delete_version(s, "alpha", "1"), 0);
	assert_false(exists(first_image));
	assert_int_equal(store_delete_version(s, "alpha", "1"), -ENOENT);
	assert_int_equal(store_delete_version(s, "alpha", "$LATEST"), -EINVAL);
	sf = store_find(s, "alpha");
	snprintf(first_image, sizeof(first_image), "%s", sf->latest->code_image);
	assert_int_equal(store_delete(s, "alpha"), 0);
	assert_false(exists(first_image));
	assert_null(store_find(s, "alpha"));
	assert_int_equal(store_delete(s, "alpha"), -ENOENT);
	store_close(s);

	s = open_store();
	assert_int_equal(store_count(s), 1);
	assert_null(store_find(s, "alpha"));
	store_close(s);
}

static void test_paging_index(void **state)
{
	struct store *s = open_store();
	const char *names[] = { "c", "a", "b", "d" };

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(store_create(s, new_fn(s, names[i], 128)), 0);
	assert_string_equal(store_at(s, 0)->latest->name, "a");
	assert_string_equal(store_at(s, 3)->latest->name, "d");
	assert_int_equal(store_index_after(s, "a"), 1);
	assert_int_equal(store_index_after(s, "bb"), 2); /* a deleted marker still works */
	assert_int_equal(store_index_after(s, "d"), 4);
	assert_int_equal(store_index_after(s, ""), 0);
	assert_null(store_at(s, 4));
	store_close(s);
}

static void test_startup_sweep(void **state)
{
	struct store *s = open_store();
	struct fn *f = new_fn(s, "kept", 128);
	char stray[PATH_MAX], tmp[PATH_MAX + 32], gone_dir[PATH_MAX], keep[PATH_MAX];

	(void)state;
	assert_int_equal(store_create(s, f), 0);
	snprintf(keep, sizeof(keep), "%s", f->code_image);
	/* A crash between an image's write and its row, and a half-written image. */
	assert_int_equal(store_image_path(s, "kept", stray, sizeof(stray)), 0);
	assert_int_equal(afile_write(stray, "x", 1, 0644), 0);
	snprintf(tmp, sizeof(tmp), "%s.0123456789abcdef.tmp", stray);
	assert_int_equal(afile_write(tmp, "x", 1, 0644), 0);
	/* Code of a function whose create never committed. */
	assert_int_equal(store_image_path(s, "never", gone_dir, sizeof(gone_dir)), 0);
	assert_int_equal(afile_write(gone_dir, "x", 1, 0644), 0);
	store_close(s);

	s = open_store();
	assert_true(exists(keep));
	assert_false(exists(stray));
	assert_false(exists(tmp));
	assert_false(exists(gone_dir));
	snprintf(gone_dir, sizeof(gone_dir), "%s/functions/never", home);
	assert_false(exists(gone_dir));
	store_close(s);
}

static void test_schema_version(void **state)
{
	struct store_opts o = {
		.home = home,
		.region = "us-east-1",
		.account = "000000000000",
		.runtimes = &rt,
	};
	struct store *s = open_store();
	char path[PATH_MAX];
	sqlite3 *db;
	int v = -1;
	sqlite3_stmt *st;

	(void)state;
	store_close(s);
	log_set_level(LOG_NONE); /* the refusals below log errors on purpose */
	snprintf(path, sizeof(path), "%s/ember.db", home);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	assert_int_equal(v, DB_SCHEMA_VERSION);
	/* A database from a newer emberd is refused, not misread. */
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	s = NULL;
	assert_int_equal(store_open(&o, &s), -EPROTO);
	assert_null(s);
	/* A row that breaks the rules (memory out of range) fails the load. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "PRAGMA user_version = 2;" /* the current schema */
				      "INSERT INTO functions VALUES ('f', 1, -1, '');"
				      "INSERT INTO versions VALUES ('f', '$LATEST', 0, "
				      "'11111111-2222-4333-8444-555555555555', 'python3.12', 'h', "
				      "'r', '', 99999, 3, '{}', 'x', 1, "
				      "'11111111-2222-4333-8444-555555555555.erofs', 't')",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(&o, &s), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paging_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_startup_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_version, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
