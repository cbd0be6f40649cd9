/* db: SQLite schema, migrations and rows for emberd's store (see db.h). */
#include "api/store/db.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util/log.h"

struct db {
	sqlite3 *h;
};

/* Schema steps: migrations[i] takes user_version i to i + 1. */
static const char *const migrations[] = {
	"CREATE TABLE functions ("
	" name TEXT PRIMARY KEY NOT NULL,"
	" next_version INTEGER NOT NULL,"
	" reserved INTEGER NOT NULL DEFAULT -1,"
	" published_rev TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE versions ("
	" name TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,"
	" version TEXT NOT NULL,"
	" seq INTEGER NOT NULL," /* 0 for $LATEST, else the version number */
	" revision_id TEXT NOT NULL,"
	" runtime TEXT NOT NULL,"
	" handler TEXT NOT NULL,"
	" role TEXT NOT NULL,"
	" description TEXT NOT NULL,"
	" memory_mib INTEGER NOT NULL,"
	" timeout_s INTEGER NOT NULL,"
	" env TEXT NOT NULL,"
	" code_sha256 TEXT NOT NULL,"
	" code_size INTEGER NOT NULL,"
	" code_image TEXT NOT NULL,"
	" last_modified TEXT NOT NULL,"
	" PRIMARY KEY (name, version));",
	/* 2: asynchronous invocations (api/async/evdb.h owns these rows). */
	"CREATE TABLE events ("
	" id INTEGER PRIMARY KEY,"
	" request_id TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" qualifier TEXT NOT NULL,"
	" payload BLOB NOT NULL,"
	" enqueued_ms INTEGER NOT NULL,"
	" next_ms INTEGER NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" running INTEGER NOT NULL DEFAULT 0,"
	" error_type TEXT NOT NULL DEFAULT '',"
	" error_message TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE failed_events ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" request_id TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" qualifier TEXT NOT NULL,"
	" payload BLOB NOT NULL,"
	" enqueued_ms INTEGER NOT NULL,"
	" failed_ms INTEGER NOT NULL,"
	" attempts INTEGER NOT NULL,"
	" condition TEXT NOT NULL,"
	" error_type TEXT NOT NULL,"
	" error_message TEXT NOT NULL);"
	"CREATE INDEX failed_events_name ON failed_events(name, id);"
	"CREATE TABLE event_configs ("
	" name TEXT NOT NULL,"
	" qualifier TEXT NOT NULL,"
	" max_retries INTEGER NOT NULL,"
	" max_age_s INTEGER NOT NULL,"
	" last_modified REAL NOT NULL,"
	" PRIMARY KEY (name, qualifier));",
};

static int fail(struct db *db, const char *what)
{
	log_err("database: %s: %s", what, sqlite3_errmsg(db->h));
	return -EIO;
}

static int exec(struct db *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_err("database: %s", msg != NULL ? msg : sqlite3_errmsg(db->h));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int user_version(struct db *db, int *out)
{
	sqlite3_stmt *st;
	int ret = -EIO;

	if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return fail(db, "reading the schema version");
	if (sqlite3_step(st) == SQLITE_ROW) {
		*out = sqlite3_column_int(st, 0);
		ret = 0;
	}
	sqlite3_finalize(st);
	return ret;
}

static int migrate(struct db *db)
{
	int v, ret = user_version(db, &v);
	char sql[64];

	if (ret < 0)
		return ret;
	if (v > DB_SCHEMA_VERSION) {
		log_err("database: schema version %d is newer than this emberd's (%d)", v,
			DB_SCHEMA_VERSION);
		return -EPROTO;
	}
	for (; v < DB_SCHEMA_VERSION; v++) {
		ret = db_begin(db);
		if (ret < 0)
			return ret;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (exec(db, migrations[v]) < 0 || exec(db, sql) < 0) {
			db_rollback(db);
			return -EIO;
		}
		ret = db_commit(db);
		if (ret < 0)
			return ret;
		log_info("database: schema version %d", v + 1);
	}
	return 0;
}

int db_open(const char *path, struct db **out)
{
	struct db *db = calloc(1, sizeof(*db));
	int ret;

	if (db == NULL)
		return -ENOMEM;
	if (sqlite3_open_v2(path, &db->h,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		ret = db->h != NULL ? fail(db, path) : -ENOMEM;
		goto err;
	}
	sqlite3_extended_result_codes(db->h, 1);
	ret = exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
		       "PRAGMA foreign_keys = ON;");
	if (ret < 0)
		goto err;
	ret = migrate(db);
	if (ret < 0)
		goto err;
	*out = db;
	return 0;

err:
	db_close(db);
	return ret;
}

struct sqlite3 *db_sqlite(struct db *db)
{
	return db->h;
}

void db_close(struct db *db)
{
	if (db == NULL)
		return;
	sqlite3_close(db->h);
	free(db);
}

int db_begin(struct db *db)
{
	return exec(db, "BEGIN IMMEDIATE");
}

int db_commit(struct db *db)
{
	if (exec(db, "COMMIT") < 0) {
		db_rollback(db);
		return -EIO;
	}
	return 0;
}

void db_rollback(struct db *db)
{
	if (!sqlite3_get_autocommit(db->h))
		exec(db, "ROLLBACK");
}

/* Runs one prepared statement to completion and finalizes it. */
static int step_done(struct db *db, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(db, what);
	return 0;
}

int db_put_function(struct db *db, const struct db_function *df)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db->h,
			       "INSERT INTO functions (name, next_version, reserved, published_rev)"
			       " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET"
			       " next_version = ?2, reserved = ?3, published_rev = ?4",
			       -1, &st, NULL) != SQLITE_OK)
		return fail(db, "writing a function");
	sqlite3_bind_text(st, 1, df->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, df->next_version);
	sqlite3_bind_int64(st, 3, df->reserved);
	sqlite3_bind_text(st, 4, df->published_rev, -1, SQLITE_STATIC);
	return step_done(db, st, "writing a function");
}

/* The variables as a JSON object; NULL if out of memory. */
static char *env_json(const struct fn *f)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (o == NULL)
		return NULL;
	for (unsigned i = 0; i < f->env_count; i++) {
		if (cJSON_AddStringToObject(o, f->env[i].key, f->env[i].value) == NULL)
			goto out;
	}
	s = cJSON_PrintUnformatted(o);
out:
	cJSON_Delete(o);
	return s;
}

static uint32_t version_seq(const char *version)
{
	return strcmp(version, "$LATEST") == 0 ? 0 : (uint32_t)strtoul(version, NULL, 10);
}

int db_put_version(struct db *db, const struct fn *f, const char *image_name)
{
	char *env = env_json(f);
	sqlite3_stmt *st;
	int ret;

	if (env == NULL)
		return -ENOMEM;
	if (sqlite3_prepare_v2(
		    db->h,
		    "INSERT OR REPLACE INTO versions (name, version, seq, revision_id,"
		    " runtime, handler, role, description, memory_mib, timeout_s, env,"
		    " code_sha256, code_size, code_image, last_modified) VALUES"
		    " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
		    -1, &st, NULL) != SQLITE_OK) {
		free(env);
		return fail(db, "writing a version");
	}
	sqlite3_bind_text(st, 1, f->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, f->version, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, version_seq(f->version));
	sqlite3_bind_text(st, 4, f->revision_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, f->runtime, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, f->handler, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, f->role, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, f->description, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, f->memory_mib);
	sqlite3_bind_int64(st, 10, f->timeout_s);
	sqlite3_bind_text(st, 11, env, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, f->code_sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 13, (sqlite3_int64)f->code_size);
	sqlite3_bind_text(st, 14, image_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 15, f->last_modified, -1, SQLITE_STATIC);
	ret = step_done(db, st, "writing a version");
	free(env);
	return ret;
}

int db_delete_function(struct db *db, const char *name)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db->h, "DELETE FROM functions WHERE name = ?1", -1, &st, NULL) !=
	    SQLITE_OK)
		return fail(db, "deleting a function");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return step_done(db, st, "deleting a function");
}

int db_delete_version(struct db *db, const char *name, const char *version)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db->h, "DELETE FROM versions WHERE name = ?1 AND version = ?2", -1,
			       &st, NULL) != SQLITE_OK)
		return fail(db, "deleting a version");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, version, -1, SQLITE_STATIC);
	return step_done(db, st, "deleting a version");
}

/* Copies column i into a fixed field; false if it is NULL or does not fit. */
static bool col_text(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	int n = sqlite3_column_bytes(st, i);

	if (t == NULL || n < 0 || (size_t)n >= cap || memchr(t, '\0', (size_t)n) != NULL)
		return false;
	memcpy(out, t, (size_t)n);
	out[n] = '\0';
	return true;
}

static int load_env(struct fn *f, const char *json)
{
	cJSON *o = cJSON_Parse(json), *it;
	int ret = -EINVAL;

	if (!cJSON_IsObject(o))
		goto out;
	cJSON_ArrayForEach(it, o)
	{
		if (!cJSON_IsString(it) || it->string == NULL)
			goto out;
		ret = fn_add_env(f, it->string, it->valuestring);
		if (ret < 0)
			goto out;
	}
	ret = 0;
out:
	cJSON_Delete(o);
	return ret;
}

static int load_functions(struct db *db, int (*cb)(void *, const struct db_function *), void *arg)
{
	sqlite3_stmt *st;
	int rc, ret = 0;

	if (sqlite3_prepare_v2(db->h,
			       "SELECT name, next_version, reserved, published_rev FROM functions"
			       " ORDER BY name",
			       -1, &st, NULL) != SQLITE_OK)
		return fail(db, "reading functions");
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_function df = { 0 };
		sqlite3_int64 next = sqlite3_column_int64(st, 1);

		if (!col_text(st, 0, df.name, sizeof(df.name)) ||
		    !col_text(st, 3, df.published_rev, sizeof(df.published_rev)) || next < 1 ||
		    next > UINT32_MAX) {
			log_err("database: a bad function row");
			ret = -EINVAL;
			break;
		}
		df.next_version = (uint32_t)next;
		df.reserved = sqlite3_column_int64(st, 2);
		ret = cb(arg, &df);
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = fail(db, "reading functions");
	sqlite3_finalize(st);
	return ret;
}

static int load_versions(struct db *db, int (*cb)(void *, struct fn *, const char *), void *arg)
{
	sqlite3_stmt *st;
	int rc, ret = 0;

	if (sqlite3_prepare_v2(db->h,
			       "SELECT name, version, revision_id, runtime, handler, role,"
			       " description, memory_mib, timeout_s, env, code_sha256, code_size,"
			       " code_image, last_modified FROM versions ORDER BY name, seq",
			       -1, &st, NULL) != SQLITE_OK)
		return fail(db, "reading versions");
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct fn *f = fn_new();
		char image[FN_NAME_MAX + 64];
		sqlite3_int64 mem = sqlite3_column_int64(st, 7), tmo = sqlite3_column_int64(st, 8);
		sqlite3_int64 size = sqlite3_column_int64(st, 11);
		const char *env = (const char *)sqlite3_column_text(st, 9);

		if (f == NULL) {
			ret = -ENOMEM;
			break;
		}
		if (!col_text(st, 0, f->name, sizeof(f->name)) ||
		    !col_text(st, 1, f->version, sizeof(f->version)) ||
		    !col_text(st, 2, f->revision_id, sizeof(f->revision_id)) ||
		    !col_text(st, 3, f->runtime, sizeof(f->runtime)) ||
		    !col_text(st, 4, f->handler, sizeof(f->handler)) ||
		    !col_text(st, 5, f->role, sizeof(f->role)) ||
		    !col_text(st, 6, f->description, sizeof(f->description)) ||
		    !col_text(st, 10, f->code_sha256, sizeof(f->code_sha256)) ||
		    !col_text(st, 12, image, sizeof(image)) ||
		    !col_text(st, 13, f->last_modified, sizeof(f->last_modified)) || mem < 0 ||
		    mem > UINT32_MAX || tmo < 0 || tmo > UINT32_MAX || size < 0 || env == NULL ||
		    load_env(f, env) < 0) {
			log_err("database: a bad version row (function %.64s)", f->name);
			fn_unref(f);
			ret = -EINVAL;
			break;
		}
		f->memory_mib = (uint32_t)mem;
		f->timeout_s = (uint32_t)tmo;
		f->code_size = (uint64_t)size;
		ret = cb(arg, f, image);
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = fail(db, "reading versions");
	sqlite3_finalize(st);
	return ret;
}

int db_load(struct db *db, int (*fn_function)(void *arg, const struct db_function *df),
	    int (*fn_row)(void *arg, struct fn *f, const char *image_name), void *arg)
{
	int ret = load_functions(db, fn_function, arg);

	return ret < 0 ? ret : load_versions(db, fn_row, arg);
}
