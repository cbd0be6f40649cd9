/* evdb: SQL for the event queue, the failed record and the event invoke configs (see evdb.h). */
#include "api/async/evdb.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util/log.h"

/* Statements prepared once: the accept path runs one INSERT per event. */
enum stmt {
	ST_INSERT,
	ST_PAYLOAD,
	ST_RUNNING,
	ST_RETRY,
	ST_DONE,
	ST_COUNT,
};

static const char *const sql[ST_COUNT] = {
	[ST_INSERT] = "INSERT INTO events (request_id, name, qualifier, payload, enqueued_ms,"
		      " next_ms, attempts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_PAYLOAD] = "SELECT payload FROM events WHERE id = ?1",
	[ST_RUNNING] = "UPDATE events SET running = ?2 WHERE id = ?1",
	[ST_RETRY] = "UPDATE events SET running = 0, attempts = ?2, next_ms = ?3,"
		     " error_type = ?4, error_message = ?5 WHERE id = ?1",
	[ST_DONE] = "DELETE FROM events WHERE id = ?1",
};

struct evdb {
	sqlite3 *h;
	sqlite3_stmt *st[ST_COUNT];
};

/* SQLite's last error as an errno: a full disk says so. */
static int err_of(struct evdb *e)
{
	return (sqlite3_errcode(e->h) & 0xff) == SQLITE_FULL ? -ENOSPC : -EIO;
}

static int fail(struct evdb *e, const char *what)
{
	log_err("database: %s: %s", what, sqlite3_errmsg(e->h));
	return err_of(e);
}

static int exec(struct evdb *e, const char *s)
{
	char *msg = NULL;

	if (sqlite3_exec(e->h, s, NULL, NULL, &msg) != SQLITE_OK) {
		log_err("database: %s", msg != NULL ? msg : sqlite3_errmsg(e->h));
		sqlite3_free(msg);
		return err_of(e);
	}
	return 0;
}

static void rollback(struct evdb *e)
{
	if (!sqlite3_get_autocommit(e->h))
		exec(e, "ROLLBACK");
}

static int commit(struct evdb *e)
{
	int ret = exec(e, "COMMIT");

	if (ret < 0)
		rollback(e);
	return ret;
}

int evdb_begin(struct evdb *e)
{
	return exec(e, "BEGIN IMMEDIATE");
}

int evdb_commit(struct evdb *e)
{
	return commit(e);
}

void evdb_rollback(struct evdb *e)
{
	rollback(e);
}

/* synchronous=NORMAL for one bookkeeping change, then FULL again (the
 * connection is shared with the store, whose changes must be FULL). */
static void relaxed(struct evdb *e, bool on)
{
	exec(e, on ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL");
}

int evdb_open(struct sqlite3 *h, struct evdb **out)
{
	struct evdb *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return -ENOMEM;
	e->h = h;
	for (int i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(h, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &e->st[i], NULL) !=
		    SQLITE_OK) {
			fail(e, "preparing the event statements");
			evdb_close(e);
			return -EIO;
		}
	}
	*out = e;
	return 0;
}

void evdb_close(struct evdb *e)
{
	if (e == NULL)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(e->st[i]);
	free(e);
}

/* Runs a cached statement to its end and resets it. */
static int run(struct evdb *e, enum stmt i, const char *what)
{
	int rc = sqlite3_step(e->st[i]);

	sqlite3_reset(e->st[i]);
	sqlite3_clear_bindings(e->st[i]);
	if (rc != SQLITE_DONE)
		return fail(e, what);
	return 0;
}

/* Prepares, runs to its end and finalizes a one-off statement; *changes gets
 * the rows it touched when not NULL. */
static int once(struct evdb *e, sqlite3_stmt *st, const char *what, int *changes)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(e, what);
	if (changes != NULL)
		*changes = sqlite3_changes(e->h);
	return 0;
}

int evdb_enqueue(struct evdb *e, struct evrow *row, const void *payload, size_t len)
{
	sqlite3_stmt *st = e->st[ST_INSERT];
	int ret;

	sqlite3_bind_text(st, 1, row->request_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, row->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, row->qualifier, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 4, len > 0 ? payload : "", len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, row->enqueued_ms);
	sqlite3_bind_int64(st, 6, row->next_ms);
	sqlite3_bind_int64(st, 7, row->attempts);
	ret = run(e, ST_INSERT, "queueing an event");
	if (ret == 0)
		row->id = sqlite3_last_insert_rowid(e->h);
	return ret;
}

static bool col_text(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	int n = sqlite3_column_bytes(st, i);

	if (t == NULL || n < 0 || (size_t)n >= cap)
		return false;
	memcpy(out, t, (size_t)n);
	out[n] = '\0';
	return true;
}

int evdb_load(struct evdb *e, unsigned *requeued, int (*cb)(void *arg, const struct evrow *row),
	      void *arg)
{
	sqlite3_stmt *st;
	int rc, ret = 0;

	if (sqlite3_prepare_v2(e->h, "UPDATE events SET running = 0 WHERE running != 0", -1, &st,
			       NULL) != SQLITE_OK)
		return fail(e, "requeueing events");
	rc = 0;
	ret = once(e, st, "requeueing events", &rc);
	if (ret < 0)
		return ret;
	*requeued = (unsigned)rc;
	if (sqlite3_prepare_v2(
		    e->h,
		    "SELECT id, request_id, name, qualifier, enqueued_ms, next_ms, attempts"
		    " FROM events ORDER BY id",
		    -1, &st, NULL) != SQLITE_OK)
		return fail(e, "reading events");
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct evrow row = { .id = sqlite3_column_int64(st, 0) };
		sqlite3_int64 att = sqlite3_column_int64(st, 6);

		if (!col_text(st, 1, row.request_id, sizeof(row.request_id)) ||
		    !col_text(st, 2, row.name, sizeof(row.name)) ||
		    !col_text(st, 3, row.qualifier, sizeof(row.qualifier)) || att < 0 ||
		    att > 100) {
			log_err("database: a bad event row (%lld): dropped", (long long)row.id);
			continue;
		}
		row.enqueued_ms = sqlite3_column_int64(st, 4);
		row.next_ms = sqlite3_column_int64(st, 5);
		row.attempts = (unsigned)att;
		ret = cb(arg, &row);
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = fail(e, "reading events");
	sqlite3_finalize(st);
	return ret;
}

int evdb_payload(struct evdb *e, int64_t id, uint8_t **out, size_t *len)
{
	sqlite3_stmt *st = e->st[ST_PAYLOAD];
	int rc, ret = -ENOENT;

	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(st, 0);
		int n = sqlite3_column_bytes(st, 0);

		*out = malloc(n > 0 ? (size_t)n : 1);
		if (*out == NULL) {
			ret = -ENOMEM;
		} else {
			if (n > 0)
				memcpy(*out, p, (size_t)n);
			*len = (size_t)n;
			ret = 0;
		}
	} else if (rc != SQLITE_DONE) {
		ret = fail(e, "reading a payload");
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

int evdb_set_running(struct evdb *e, int64_t id, bool running)
{
	int ret;

	sqlite3_bind_int64(e->st[ST_RUNNING], 1, id);
	sqlite3_bind_int(e->st[ST_RUNNING], 2, running);
	relaxed(e, true);
	ret = run(e, ST_RUNNING, "marking an event");
	relaxed(e, false);
	return ret;
}

int evdb_retry(struct evdb *e, const struct evrow *row, const char *error_type,
	       const char *error_message)
{
	sqlite3_stmt *st = e->st[ST_RETRY];
	int ret;

	sqlite3_bind_int64(st, 1, row->id);
	sqlite3_bind_int64(st, 2, row->attempts);
	sqlite3_bind_int64(st, 3, row->next_ms);
	sqlite3_bind_text(st, 4, error_type != NULL ? error_type : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, error_message != NULL ? error_message : "", -1, SQLITE_STATIC);
	relaxed(e, true);
	ret = run(e, ST_RETRY, "rescheduling an event");
	relaxed(e, false);
	return ret;
}

int evdb_done(struct evdb *e, int64_t id)
{
	int ret;

	sqlite3_bind_int64(e->st[ST_DONE], 1, id);
	relaxed(e, true);
	ret = run(e, ST_DONE, "removing an event");
	relaxed(e, false);
	return ret;
}

int evdb_fail(struct evdb *e, const struct evrow *row, const char *condition,
	      const char *error_type, const char *error_message, int64_t failed_ms,
	      int64_t *failed_id)
{
	sqlite3_stmt *st;
	int ret, changes = 0;

	relaxed(e, true);
	ret = exec(e, "BEGIN IMMEDIATE");
	if (ret < 0)
		goto out;
	if (sqlite3_prepare_v2(e->h,
			       "INSERT INTO failed_events (request_id, name, qualifier, payload,"
			       " enqueued_ms, failed_ms, attempts, condition, error_type,"
			       " error_message) SELECT request_id, name, qualifier, payload,"
			       " enqueued_ms, ?2, ?3, ?4, COALESCE(?5, error_type),"
			       " COALESCE(?6, error_message) FROM events WHERE id = ?1",
			       -1, &st, NULL) != SQLITE_OK) {
		ret = fail(e, "recording a failed event");
		goto err;
	}
	sqlite3_bind_int64(st, 1, row->id);
	sqlite3_bind_int64(st, 2, failed_ms);
	sqlite3_bind_int64(st, 3, row->attempts);
	sqlite3_bind_text(st, 4, condition, -1, SQLITE_STATIC);
	if (error_type != NULL)
		sqlite3_bind_text(st, 5, error_type, -1, SQLITE_STATIC);
	if (error_message != NULL)
		sqlite3_bind_text(st, 6, error_message, -1, SQLITE_STATIC);
	ret = once(e, st, "recording a failed event", &changes);
	if (ret < 0)
		goto err;
	if (changes != 1) {
		ret = -ENOENT;
		goto err;
	}
	*failed_id = sqlite3_last_insert_rowid(e->h);
	sqlite3_bind_int64(e->st[ST_DONE], 1, row->id);
	ret = run(e, ST_DONE, "removing a failed event from the queue");
	if (ret < 0)
		goto err;
	ret = commit(e);
	goto out;

err:
	rollback(e);
out:
	relaxed(e, false);
	return ret;
}

int evdb_failed_each(struct evdb *e, const char *name, int64_t id,
		     void (*cb)(void *arg, const struct evfailed *f), void *arg)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(e->h,
			       "SELECT id, request_id, name, qualifier, payload, enqueued_ms,"
			       " failed_ms, attempts, condition, error_type, error_message"
			       " FROM failed_events WHERE name = ?1 AND (?2 = 0 OR id = ?2)"
			       " ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK)
		return fail(e, "reading failed events");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct evfailed f = {
			.id = sqlite3_column_int64(st, 0),
			.request_id = (const char *)sqlite3_column_text(st, 1),
			.name = (const char *)sqlite3_column_text(st, 2),
			.qualifier = (const char *)sqlite3_column_text(st, 3),
			.payload = sqlite3_column_blob(st, 4),
			.payload_len = (size_t)sqlite3_column_bytes(st, 4),
			.enqueued_ms = sqlite3_column_int64(st, 5),
			.failed_ms = sqlite3_column_int64(st, 6),
			.attempts = (unsigned)sqlite3_column_int64(st, 7),
			.condition = (const char *)sqlite3_column_text(st, 8),
			.error_type = (const char *)sqlite3_column_text(st, 9),
			.error_message = (const char *)sqlite3_column_text(st, 10),
		};

		if (f.request_id == NULL || f.name == NULL || f.qualifier == NULL ||
		    f.condition == NULL || f.error_type == NULL || f.error_message == NULL)
			continue;
		cb(arg, &f);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : fail(e, "reading failed events");
}

int evdb_replay(struct evdb *e, const char *name, int64_t failed_id, int64_t now_ms,
		struct evrow *row)
{
	sqlite3_stmt *st;
	int ret, changes = 0;

	ret = exec(e, "BEGIN IMMEDIATE");
	if (ret < 0)
		return ret;
	if (sqlite3_prepare_v2(
		    e->h,
		    "INSERT INTO events (request_id, name, qualifier, payload,"
		    " enqueued_ms, next_ms, attempts) SELECT request_id, name, qualifier,"
		    " payload, ?3, ?3, 0 FROM failed_events WHERE id = ?1 AND name = ?2",
		    -1, &st, NULL) != SQLITE_OK) {
		ret = fail(e, "replaying an event");
		goto err;
	}
	sqlite3_bind_int64(st, 1, failed_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now_ms);
	ret = once(e, st, "replaying an event", &changes);
	if (ret == 0 && changes != 1)
		ret = -ENOENT;
	if (ret < 0)
		goto err;
	row->id = sqlite3_last_insert_rowid(e->h);
	if (sqlite3_prepare_v2(e->h,
			       "DELETE FROM failed_events WHERE id = ?1 RETURNING request_id,"
			       " qualifier",
			       -1, &st, NULL) != SQLITE_OK) {
		ret = fail(e, "replaying an event");
		goto err;
	}
	sqlite3_bind_int64(st, 1, failed_id);
	if (sqlite3_step(st) != SQLITE_ROW ||
	    !col_text(st, 0, row->request_id, sizeof(row->request_id)) ||
	    !col_text(st, 1, row->qualifier, sizeof(row->qualifier))) {
		sqlite3_finalize(st);
		ret = fail(e, "replaying an event");
		goto err;
	}
	sqlite3_step(st);
	sqlite3_finalize(st);
	snprintf(row->name, sizeof(row->name), "%s", name);
	row->enqueued_ms = row->next_ms = now_ms;
	row->attempts = 0;
	return commit(e);

err:
	rollback(e);
	return ret;
}

static int delete_named(struct evdb *e, const char *s, const char *name)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(e->h, s, -1, &st, NULL) != SQLITE_OK)
		return fail(e, "forgetting a function's events");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return once(e, st, "forgetting a function's events", NULL);
}

int evdb_forget(struct evdb *e, const char *name)
{
	int ret = exec(e, "BEGIN IMMEDIATE");

	if (ret < 0)
		return ret;
	ret = delete_named(e, "DELETE FROM events WHERE name = ?1", name);
	if (ret == 0)
		ret = delete_named(e, "DELETE FROM failed_events WHERE name = ?1", name);
	if (ret == 0)
		ret = delete_named(e, "DELETE FROM event_configs WHERE name = ?1", name);
	if (ret < 0) {
		rollback(e);
		return ret;
	}
	return commit(e);
}

int evdb_config_put(struct evdb *e, const struct evconfig *c)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(e->h,
			       "INSERT OR REPLACE INTO event_configs (name, qualifier, max_retries,"
			       " max_age_s, last_modified) VALUES (?1, ?2, ?3, ?4, ?5)",
			       -1, &st, NULL) != SQLITE_OK)
		return fail(e, "writing an event invoke config");
	sqlite3_bind_text(st, 1, c->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->qualifier, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, c->max_retries);
	sqlite3_bind_int64(st, 4, c->max_age_s);
	sqlite3_bind_double(st, 5, c->last_modified);
	return once(e, st, "writing an event invoke config", NULL);
}

int evdb_config_delete(struct evdb *e, const char *name, const char *qualifier)
{
	sqlite3_stmt *st;
	int changes = 0, ret;

	if (sqlite3_prepare_v2(e->h, "DELETE FROM event_configs WHERE name = ?1 AND qualifier = ?2",
			       -1, &st, NULL) != SQLITE_OK)
		return fail(e, "deleting an event invoke config");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, qualifier, -1, SQLITE_STATIC);
	ret = once(e, st, "deleting an event invoke config", &changes);
	return ret < 0 ? ret : changes == 1 ? 0 : -ENOENT;
}

int evdb_config_load(struct evdb *e, int (*cb)(void *arg, const struct evconfig *c), void *arg)
{
	sqlite3_stmt *st;
	int rc, ret = 0;

	if (sqlite3_prepare_v2(e->h,
			       "SELECT name, qualifier, max_retries, max_age_s, last_modified"
			       " FROM event_configs",
			       -1, &st, NULL) != SQLITE_OK)
		return fail(e, "reading event invoke configs");
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct evconfig c = { 0 };

		if (!col_text(st, 0, c.name, sizeof(c.name)) ||
		    !col_text(st, 1, c.qualifier, sizeof(c.qualifier)))
			continue;
		c.max_retries = (unsigned)sqlite3_column_int64(st, 2);
		c.max_age_s = (unsigned)sqlite3_column_int64(st, 3);
		c.last_modified = sqlite3_column_double(st, 4);
		ret = cb(arg, &c);
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = fail(e, "reading event invoke configs");
	sqlite3_finalize(st);
	return ret;
}
