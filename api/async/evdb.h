/* evdb: the rows of asynchronous invocations in emberd's SQLite database: the queue, the failed record and the event invoke configs.
 *
 * Contract:
 * - The tables live in ember.db (schema version 2, api/store/db.c); evdb
 *   shares the store's connection (db_sqlite), which runs in WAL mode with
 *   synchronous=FULL: when a call here returns 0 its change is on disk.
 * - evdb_enqueue() inserts one queued event; row->id gets its row id,
 *   increasing in acceptance order. Alone it is one transaction; between
 *   evdb_begin() and evdb_commit() many go to disk with one sync (group
 *   commit: the accept path batches the events of one loop turn).
 * - The dispatcher's bookkeeping (evdb_set_running, evdb_retry, evdb_done,
 *   evdb_fail) commits with synchronous=NORMAL: it survives a
 *   crash of emberd (the WAL is in the page cache) but not of the host, where
 *   the worst case is an event that runs again. Accepting an event
 *   (evdb_enqueue, evdb_commit), a replay and configs stay synchronous=FULL.
 * - evdb_load() first puts every event marked running back in the queue
 *   (emberd died while they ran; *requeued counts them), then calls cb for
 *   every queued event in id order. Payloads stay on disk: evdb_payload()
 *   reads one when it is about to run.
 * - evdb_fail() moves an event to failed_events in one transaction (the
 *   payload is copied by SQL), with the last error; evdb_replay() moves a
 *   failed event back to the queue (same request id, attempts 0) in one
 *   transaction and fills *row.
 * - Strings are copied in; rows handed to callbacks are valid during the
 *   call only.
 * Errors: negative errno: -ENOENT (no such row), -ENOMEM, -ENOSPC (the disk
 * is full), -EIO (SQLite's message logged). Thread: the loop thread (the connection's owner). */
#ifndef EMBER_API_EVDB_H
#define EMBER_API_EVDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/store/fn.h"
#include "api/store/uuid.h"

struct sqlite3;
struct evdb;

#define EVDB_ERROR_TYPE_MAX 128
#define EVDB_ERROR_MSG_MAX  1024

/* One queued event, without its payload. */
struct evrow {
	int64_t id;
	char request_id[UUID_STR_LEN + 1];
	char name[FN_NAME_MAX + 1];
	char qualifier[FN_VERSION_MAX + 1];
	int64_t enqueued_ms, next_ms; /* wall clock, ms since the epoch */
	unsigned attempts;	      /* finished attempts that failed */
};

/* One failed event, with its payload. */
struct evfailed {
	int64_t id;
	const char *request_id, *name, *qualifier, *condition, *error_type, *error_message;
	const uint8_t *payload;
	size_t payload_len;
	int64_t enqueued_ms, failed_ms;
	unsigned attempts;
};

struct evconfig {
	char name[FN_NAME_MAX + 1];
	char qualifier[FN_VERSION_MAX + 1];
	unsigned max_retries; /* 0..2 */
	unsigned max_age_s;   /* 60..21600 */
	double last_modified; /* epoch seconds */
};

int evdb_open(struct sqlite3 *h, struct evdb **out);
void evdb_close(struct evdb *e);

int evdb_begin(struct evdb *e);
int evdb_commit(struct evdb *e);
void evdb_rollback(struct evdb *e);
int evdb_enqueue(struct evdb *e, struct evrow *row, const void *payload, size_t len);
int evdb_load(struct evdb *e, unsigned *requeued, int (*cb)(void *arg, const struct evrow *row),
	      void *arg);
/* *out is malloc'd (the caller frees it; at least one byte even when empty). */
int evdb_payload(struct evdb *e, int64_t id, uint8_t **out, size_t *len);
int evdb_set_running(struct evdb *e, int64_t id, bool running);
int evdb_retry(struct evdb *e, const struct evrow *row, const char *error_type,
	       const char *error_message);
int evdb_done(struct evdb *e, int64_t id);
/* error_type/message NULL: the last ones recorded by evdb_retry(). */
int evdb_fail(struct evdb *e, const struct evrow *row, const char *condition,
	      const char *error_type, const char *error_message, int64_t failed_ms,
	      int64_t *failed_id);
int evdb_failed_each(struct evdb *e, const char *name, int64_t id,
		     void (*cb)(void *arg, const struct evfailed *f), void *arg);
int evdb_replay(struct evdb *e, const char *name, int64_t failed_id, int64_t now_ms,
		struct evrow *row);
/* Deletes name's queued events, failed events and configs (DeleteFunction). */
int evdb_forget(struct evdb *e, const char *name);

int evdb_config_put(struct evdb *e, const struct evconfig *c);
int evdb_config_delete(struct evdb *e, const char *name, const char *qualifier);
int evdb_config_load(struct evdb *e, int (*cb)(void *arg, const struct evconfig *c), void *arg);

#endif
