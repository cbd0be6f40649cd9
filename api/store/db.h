/* db: emberd's SQLite database: the schema, its migrations, and the rows of functions and versions.
 *
 * Contract:
 * - db_open() opens (or creates) the database file in WAL mode with
 *   synchronous=FULL and foreign keys on, and brings the schema to
 *   DB_SCHEMA_VERSION (PRAGMA user_version). A database from a newer emberd
 *   (a higher user_version) is refused with -EPROTO.
 * - Every change runs in one transaction: db_begin(), the row calls,
 *   db_commit() (or db_rollback() on any failure). After db_commit()
 *   returns 0 the change is on disk.
 * - Rows: a function row (name, next version number, reserved concurrency
 *   or -1, the $LATEST revision of the last publish) and version rows (one
 *   struct fn each; the code image is stored as a file name relative to the
 *   function's code folder, the environment as a JSON object).
 * - db_load() calls the callbacks for every function row, then for every
 *   version row (ordered by name, then $LATEST first, then versions in
 *   ascending order). It fills what the rows hold; the caller checks them
 *   (a database is an input) and completes arn, key and image paths.
 * Errors: negative errno (-EIO for SQLite failures), logged with SQLite's
 * message. Thread: one thread (the loop) owns a db. */
#ifndef EMBER_API_DB_H
#define EMBER_API_DB_H

#include <stdint.h>

#include "api/store/fn.h"

#define DB_SCHEMA_VERSION 2
#define DB_FILE		  "ember.db"

struct db;
struct sqlite3;

struct db_function {
	char name[FN_NAME_MAX + 1];
	uint32_t next_version;
	int64_t reserved; /* -1: none */
	char published_rev[FN_REVISION_MAX + 1];
};

int db_open(const char *path, struct db **out);
void db_close(struct db *db);
/* The connection, for modules that keep their own tables in this database
 * (api/async/evdb.h: the event queue); same thread rule. */
struct sqlite3 *db_sqlite(struct db *db);

int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);

int db_put_function(struct db *db, const struct db_function *df);
/* image_name: the code image's file name (no folder). */
int db_put_version(struct db *db, const struct fn *f, const char *image_name);
int db_delete_function(struct db *db, const char *name); /* and its versions */
int db_delete_version(struct db *db, const char *name, const char *version);

/* fn_row gets a fresh fn (owned by the callee from then on) and the image
 * file name; a negative return stops the load with that error. */
int db_load(struct db *db, int (*fn_function)(void *arg, const struct db_function *df),
	    int (*fn_row)(void *arg, struct fn *f, const char *image_name), void *arg);

#endif
