/* Unit tests for api/invoke/fnlog.c: function logs, rotation, lines dropped on a full disk, watches. */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/invoke/fnlog.h"

static char home[64];

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static int setup(void **state)
{
	(void)state;
	snprintf(home, sizeof(home), "/tmp/ember-test-fnlog-XXXXXX");
	return mkdtemp(home) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(home, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static char *slurp(const char *name, const char *suffix)
{
	char path[256];
	FILE *f;
	char *buf = calloc(1, 1 << 20);
	size_t n;

	snprintf(path, sizeof(path), "%s/logs/%s/current.log%s", home, name, suffix);
	f = fopen(path, "r");
	if (f == NULL) {
		free(buf);
		return NULL;
	}
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void write_str(struct fnlog_set *s, const char *name, const char *text)
{
	struct iovec iov = { (void *)text, strlen(text) };

	fnlog_write(s, name, &iov, 1);
}

static void test_append(void **state)
{
	struct fnlog_set *s = NULL;
	struct iovec two[2] = { { "line", 4 }, { "\n", 1 } };
	char *text;

	(void)state;
	assert_int_equal(fnlog_set_new(home, &s), 0);
	write_str(s, "fa", "START RequestId: x Version: $LATEST\n");
	fnlog_write(s, "fa", two, 2);
	write_str(s, "fb", "other function\n");
	text = slurp("fa", "");
	assert_non_null(text);
	assert_string_equal(text, "START RequestId: x Version: $LATEST\nline\n");
	free(text);
	text = slurp("fb", "");
	assert_string_equal(text, "other function\n");
	free(text);
	assert_int_equal(fnlog_dropped(s, "fa"), 0);
	fnlog_set_free(s);
	/* A new set appends to what is there. */
	assert_int_equal(fnlog_set_new(home, &s), 0);
	write_str(s, "fa", "again\n");
	text = slurp("fa", "");
	assert_string_equal(text, "START RequestId: x Version: $LATEST\nline\nagain\n");
	free(text);
	fnlog_set_free(s);
}

static void test_rotation(void **state)
{
	struct fnlog_set *s = NULL;
	static char chunk[1 << 20];
	struct iovec iov = { chunk, sizeof(chunk) };
	char *text;

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	chunk[sizeof(chunk) - 1] = '\n';
	assert_int_equal(fnlog_set_new(home, &s), 0);
	/* Fill current.log to the limit: nothing rotates yet. */
	for (unsigned i = 0; i < FNLOG_ROTATE_BYTES / sizeof(chunk); i++)
		fnlog_write(s, "big", &iov, 1);
	text = slurp("big", ".1");
	assert_null(text);
	/* The next line would pass it: .1 holds the old file, current.log the line. */
	write_str(s, "big", "first of the new file\n");
	text = slurp("big", "");
	assert_string_equal(text, "first of the new file\n");
	free(text);
	text = slurp("big", ".1");
	assert_non_null(text);
	free(text);
	/* Older ones shift, and only FNLOG_KEEP are kept. */
	for (unsigned r = 0; r < FNLOG_KEEP + 1; r++) {
		for (unsigned i = 0; i < FNLOG_ROTATE_BYTES / sizeof(chunk); i++)
			fnlog_write(s, "big", &iov, 1);
	}
	for (unsigned k = 1; k <= FNLOG_KEEP; k++) {
		char suffix[8];

		snprintf(suffix, sizeof(suffix), ".%u", k);
		text = slurp("big", suffix);
		assert_non_null(text);
		free(text);
	}
	text = slurp("big", ".4");
	assert_null(text);
	fnlog_set_free(s);
}

static void test_full_disk(void **state)
{
	struct fnlog_set *s = NULL;
	struct rlimit old, rl;
	char *text;

	(void)state;
	assert_int_equal(fnlog_set_new(home, &s), 0);
	write_str(s, "full", "before\n");
	/* RLIMIT_FSIZE makes writes past the current size fail (EFBIG), as a
	 * full disk does (ENOSPC): the lines are dropped, never waited for. */
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	rl = old;
	rl.rlim_cur = 7;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
	write_str(s, "full", "lost 1\nlost 2\n");
	write_str(s, "full", "lost 3\n");
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(fnlog_dropped(s, "full"), 3);
	write_str(s, "full", "after\n");
	text = slurp("full", "");
	assert_non_null(text);
	assert_non_null(strstr(text, "before\n[ember] 3 log lines dropped ("));
	assert_non_null(strstr(text, ")\nafter\n"));
	assert_null(strstr(text, "lost"));
	free(text);
	fnlog_set_free(s);
}

static void test_open_fails(void **state)
{
	struct fnlog_set *s = NULL;
	char path[256];
	FILE *f;

	(void)state;
	assert_int_equal(fnlog_set_new(home, &s), 0);
	/* The function's log folder cannot be made: a file is in its place. */
	snprintf(path, sizeof(path), "%s/logs/blocked", home);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	write_str(s, "blocked", "one\n");
	write_str(s, "blocked", "two\nthree\n");
	assert_int_equal(fnlog_dropped(s, "blocked"), 3);
	fnlog_set_free(s);
}

struct counter {
	int n;
	struct fnlog_set *s;
	struct fnlog_watch *other;
	bool rewatch;
};

static void bump(void *arg)
{
	struct counter *c = arg;

	c->n++;
	if (c->other != NULL) {
		fnlog_unwatch(c->other);
		c->other = NULL;
	}
	if (c->rewatch) {
		c->rewatch = false;
		assert_non_null(fnlog_watch(c->s, "w", bump, c));
	}
}

static void test_watch(void **state)
{
	struct fnlog_set *s = NULL;
	struct counter a = { 0 }, b = { 0 }, d = { 0 };
	struct fnlog_watch *wb;

	(void)state;
	assert_int_equal(fnlog_set_new(home, &s), 0);
	a.s = s;
	a.rewatch = true;
	assert_non_null(fnlog_watch(s, "w", bump, &a));
	wb = fnlog_watch(s, "w", bump, &b);
	assert_non_null(wb);
	assert_non_null(fnlog_watch(s, "other", bump, &d));
	fnlog_unwatch(wb); /* cancelled before anything was written */
	write_str(s, "w", "1\n");
	assert_int_equal(a.n, 1);
	assert_int_equal(b.n, 0);
	assert_int_equal(d.n, 0); /* another function's log */
	/* a watched again from its callback: it fires once more, then never. */
	write_str(s, "w", "2\n");
	write_str(s, "w", "3\n");
	assert_int_equal(a.n, 2);
	/* A callback may cancel another pending watch. */
	a = (struct counter){ .s = s };
	b = (struct counter){ 0 };
	assert_non_null(fnlog_watch(s, "w", bump, &b));
	a.other = fnlog_watch(s, "w", bump, &d); /* fires after a, unless a cancels it */
	assert_non_null(fnlog_watch(s, "w", bump, &a));
	write_str(s, "w", "4\n");
	assert_int_equal(a.n, 1);
	assert_int_equal(b.n, 1);
	assert_int_equal(d.n, 0);
	write_str(s, "other", "x\n");
	assert_int_equal(d.n, 1);
	fnlog_set_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
