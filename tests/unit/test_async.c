/* Unit tests for api/async/evdb.c and failrec.c: the queue's rows across a restart, failure and replay, configs, forgetting a function, the failed record's JSON. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "api/async/evdb.h"
#include "api/async/failrec.h"
#include "api/store/db.h"
#include "lib/util/log.h"

static char home[] = "/tmp/ember-async-XXXXXX";

struct open_db {
	struct db *db;
	struct evdb *e;
};

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_ERR);
	strcpy(home, "/tmp/ember-async-XXXXXX");
	assert_non_null(mkdtemp(home));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", home);
	return system(cmd) == 0 ? 0 : -1;
}

static void open_db(struct open_db *o)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/" DB_FILE, home);
	assert_int_equal(db_open(path, &o->db), 0);
	assert_int_equal(evdb_open(db_sqlite(o->db), &o->e), 0);
}

static void close_db(struct open_db *o)
{
	evdb_close(o->e);
	db_close(o->db);
}

static struct evrow row(const char *id, const char *name, int64_t t)
{
	struct evrow r = { .enqueued_ms = t, .next_ms = t };

	snprintf(r.request_id, sizeof(r.request_id), "%s", id);
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.qualifier, sizeof(r.qualifier), "$LATEST");
	return r;
}

struct loaded {
	struct evrow rows[8];
	unsigned n;
};

static int collect(void *arg, const struct evrow *r)
{
	struct loaded *l = arg;

	assert_true(l->n < 8);
	l->rows[l->n++] = *r;
	return 0;
}

static void test_queue_survives_reopen_and_running_comes_back(void **state)
{
	struct open_db o;
	struct evrow a = row("11111111-1111-4111-8111-111111111111", "f", 1000);
	struct evrow b = row("22222222-2222-4222-8222-222222222222", "g", 2000);
	struct loaded l = { .n = 0 };
	unsigned requeued = 99;
	uint8_t *p = NULL;
	size_t len = 0;

	(void)state;
	open_db(&o);
	/* Two events in one group commit, one alone. */
	assert_int_equal(evdb_begin(o.e), 0);
	assert_int_equal(evdb_enqueue(o.e, &a, "{\"x\":1}", 7), 0);
	assert_int_equal(evdb_enqueue(o.e, &b, "", 0), 0);
	assert_int_equal(evdb_commit(o.e), 0);
	assert_true(b.id > a.id);
	assert_int_equal(evdb_set_running(o.e, a.id, true), 0);
	close_db(&o);

	open_db(&o);
	assert_int_equal(evdb_load(o.e, &requeued, collect, &l), 0);
	assert_int_equal(requeued, 1); /* a was running when "emberd died" */
	assert_int_equal(l.n, 2);
	assert_int_equal(l.rows[0].id, a.id);
	assert_string_equal(l.rows[0].request_id, a.request_id);
	assert_string_equal(l.rows[0].name, "f");
	assert_string_equal(l.rows[0].qualifier, "$LATEST");
	assert_int_equal(l.rows[0].enqueued_ms, 1000);
	assert_int_equal(l.rows[1].id, b.id);
	assert_int_equal(evdb_payload(o.e, a.id, &p, &len), 0);
	assert_int_equal(len, 7);
	assert_memory_equal(p, "{\"x\":1}", 7);
	free(p);
	assert_int_equal(evdb_payload(o.e, b.id, &p, &len), 0);
	assert_int_equal(len, 0);
	free(p);
	/* Done: gone for good. */
	assert_int_equal(evdb_done(o.e, a.id), 0);
	assert_int_equal(evdb_payload(o.e, a.id, &p, &len), -ENOENT);
	close_db(&o);
	open_db(&o);
	l.n = 0;
	assert_int_equal(evdb_load(o.e, &requeued, collect, &l), 0);
	assert_int_equal(requeued, 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.rows[0].id, b.id);
	close_db(&o);
}

struct failed_seen {
	unsigned n;
	int64_t id;
	char request_id[64], condition[32], type[64], message[128];
	unsigned attempts;
	size_t payload_len;
};

static void on_failed(void *arg, const struct evfailed *f)
{
	struct failed_seen *s = arg;

	s->n++;
	s->id = f->id;
	snprintf(s->request_id, sizeof(s->request_id), "%s", f->request_id);
	snprintf(s->condition, sizeof(s->condition), "%s", f->condition);
	snprintf(s->type, sizeof(s->type), "%s", f->error_type);
	snprintf(s->message, sizeof(s->message), "%s", f->error_message);
	s->attempts = f->attempts;
	s->payload_len = f->payload_len;
}

static void test_retry_fail_and_replay(void **state)
{
	struct open_db o;
	struct evrow a = row("33333333-3333-4333-8333-333333333333", "f", 5000), back;
	struct failed_seen s = { 0 };
	struct loaded l = { .n = 0 };
	unsigned requeued;
	int64_t fid = 0;

	(void)state;
	open_db(&o);
	assert_int_equal(evdb_enqueue(o.e, &a, "{\"n\":7}", 7), 0);
	/* Two failed attempts recorded, then the last one moves it. */
	a.attempts = 1;
	a.next_ms = 6000;
	assert_int_equal(evdb_retry(o.e, &a, "ValueError", "first"), 0);
	a.attempts = 3;
	assert_int_equal(evdb_fail(o.e, &a, "RetriesExhausted", "ValueError", "boom", 9000, &fid),
			 0);
	assert_true(fid > 0);
	assert_int_equal(evdb_load(o.e, &requeued, collect, &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(evdb_failed_each(o.e, "f", 0, on_failed, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.id, fid);
	assert_string_equal(s.request_id, a.request_id);
	assert_string_equal(s.condition, "RetriesExhausted");
	assert_string_equal(s.type, "ValueError");
	assert_string_equal(s.message, "boom");
	assert_int_equal(s.attempts, 3);
	assert_int_equal(s.payload_len, 7);
	/* An age failure keeps the last recorded error. */
	struct evrow b = row("44444444-4444-4444-8444-444444444444", "f", 5000);
	int64_t fid2 = 0;

	assert_int_equal(evdb_enqueue(o.e, &b, "{}", 2), 0);
	b.attempts = 1;
	assert_int_equal(evdb_retry(o.e, &b, "Sandbox.Timedout", "late"), 0);
	assert_int_equal(evdb_fail(o.e, &b, "EventAgeExceeded", NULL, NULL, 9500, &fid2), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(evdb_failed_each(o.e, "f", fid2, on_failed, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.type, "Sandbox.Timedout");
	assert_string_equal(s.message, "late");
	/* Replay: back in the queue, same request id, attempts 0; not failed any more. */
	assert_int_equal(evdb_replay(o.e, "g", fid, 10000, &back), -ENOENT); /* not g's */
	assert_int_equal(evdb_replay(o.e, "f", fid, 10000, &back), 0);
	assert_string_equal(back.request_id, a.request_id);
	assert_int_equal(back.attempts, 0);
	assert_int_equal(back.enqueued_ms, 10000);
	assert_int_equal(evdb_replay(o.e, "f", fid, 10000, &back), -ENOENT);
	memset(&s, 0, sizeof(s));
	assert_int_equal(evdb_failed_each(o.e, "f", 0, on_failed, &s), 0);
	assert_int_equal(s.n, 1); /* only b's */
	l.n = 0;
	assert_int_equal(evdb_load(o.e, &requeued, collect, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.rows[0].request_id, a.request_id);
	/* DeleteFunction: the queue, the record and the configs of f go. */
	struct evconfig c = { .name = "f", .qualifier = "$LATEST", .max_retries = 1 };

	c.max_age_s = 60;
	assert_int_equal(evdb_config_put(o.e, &c), 0);
	assert_int_equal(evdb_forget(o.e, "f"), 0);
	l.n = 0;
	assert_int_equal(evdb_load(o.e, &requeued, collect, &l), 0);
	assert_int_equal(l.n, 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(evdb_failed_each(o.e, "f", 0, on_failed, &s), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(evdb_config_delete(o.e, "f", "$LATEST"), -ENOENT);
	close_db(&o);
}

static int count_config(void *arg, const struct evconfig *c)
{
	struct evconfig *out = arg;

	*out = *c;
	return 0;
}

static void test_configs(void **state)
{
	struct open_db o;
	struct evconfig c = { .name = "f",
			      .qualifier = "3",
			      .max_retries = 0,
			      .max_age_s = 120,
			      .last_modified = 1.5 };
	struct evconfig got = { 0 };

	(void)state;
	open_db(&o);
	assert_int_equal(evdb_config_put(o.e, &c), 0);
	c.max_retries = 1;
	assert_int_equal(evdb_config_put(o.e, &c), 0); /* replaces */
	close_db(&o);
	open_db(&o);
	assert_int_equal(evdb_config_load(o.e, count_config, &got), 0);
	assert_string_equal(got.name, "f");
	assert_string_equal(got.qualifier, "3");
	assert_int_equal(got.max_retries, 1);
	assert_int_equal(got.max_age_s, 120);
	assert_true(got.last_modified == 1.5);
	assert_int_equal(evdb_config_delete(o.e, "f", "3"), 0);
	assert_int_equal(evdb_config_delete(o.e, "f", "3"), -ENOENT);
	close_db(&o);
}

static void test_failed_record_json_and_file(void **state)
{
	struct evfailed f = {
		.id = 4,
		.request_id = "55555555-5555-4555-8555-555555555555",
		.name = "fn",
		.qualifier = "$LATEST",
		.condition = "RetriesExhausted",
		.error_type = "ValueError",
		.error_message = "always \"fails\"",
		.payload = (const uint8_t *)"{\"n\":7}",
		.payload_len = 7,
		.enqueued_ms = 1765072800123,
		.failed_ms = 1765072801000,
		.attempts = 3,
	};
	char path[256], line[1024];
	cJSON *j, *p;
	FILE *in;

	(void)state;
	j = failrec_json(&f);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "requestId")->valuestring, f.request_id);
	assert_string_equal(cJSON_GetObjectItem(j, "errorMessage")->valuestring, f.error_message);
	assert_string_equal(cJSON_GetObjectItem(j, "enqueuedAt")->valuestring,
			    "2025-12-07T02:00:00.123Z");
	assert_int_equal(cJSON_GetObjectItem(j, "attempts")->valueint, 3);
	p = cJSON_GetObjectItem(j, "requestPayload");
	assert_int_equal(cJSON_GetObjectItem(p, "n")->valueint, 7);
	cJSON_Delete(j);
	/* Not JSON (never accepted, but a record must not lose it): a string. */
	f.payload = (const uint8_t *)"nope";
	f.payload_len = 4;
	j = failrec_json(&f);
	assert_string_equal(cJSON_GetObjectItem(j, "requestPayload")->valuestring, "nope");
	cJSON_Delete(j);
	/* Two lines appended to failed/<fn>/events.jsonl. */
	assert_int_equal(failrec_append(home, &f), 0);
	assert_int_equal(failrec_append(home, &f), 0);
	snprintf(path, sizeof(path), "%s/failed/fn/events.jsonl", home);
	in = fopen(path, "r");
	assert_non_null(in);
	for (int i = 0; i < 2; i++) {
		assert_non_null(fgets(line, sizeof(line), in));
		j = cJSON_Parse(line);
		assert_non_null(j);
		assert_int_equal(cJSON_GetObjectItem(j, "id")->valueint, 4);
		cJSON_Delete(j);
	}
	assert_null(fgets(line, sizeof(line), in));
	fclose(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_queue_survives_reopen_and_running_comes_back,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_fail_and_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_configs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_record_json_and_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
