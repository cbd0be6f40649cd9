/* Unit tests for vmm/machine/console.c: the UART's output reaches a pipe without blocking, and a stalled reader costs lines, never a wait.
 *
 * The UART is the real one (serial.c), written byte by byte as the guest's
 * driver would; the console runs on a real event loop; the reader is a pipe
 * whose other end the test reads, or not. Every wait is the loop itself,
 * bounded by a timerfd that stops it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/util/log.h"
#include "vmm/core/evloop.h"
#include "vmm/devices/serial.h"
#include "vmm/machine/console.h"

#define LINE 80 /* bytes per line, newline included */

struct fx {
	struct serial uart;
	struct console con;
	struct evloop *ev;
	int pipefd[2];
	int stop_fd;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(pipe2(f->pipefd, O_CLOEXEC), 0);
	assert_int_equal(evloop_create(&f->ev), 0);
	console_init(&f->con);
	assert_int_equal(console_open(&f->con, f->pipefd[1], false), 0);
	serial_init(&f->uart,
		    (struct serial_irq){ .out_ready = console_out_ready, .out_opaque = &f->con });
	assert_int_equal(console_attach(&f->con, &f->uart, f->ev), 0);
	f->stop_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	assert_true(f->stop_fd >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	console_destroy(&f->con);
	serial_destroy(&f->uart);
	evloop_destroy(f->ev);
	close(f->stop_fd);
	close(f->pipefd[0]);
	close(f->pipefd[1]);
	free(f);
	return 0;
}

/* The guest's driver writes line n, one THR write per byte. */
static void guest_line(struct fx *f, unsigned n)
{
	char line[LINE + 1];

	snprintf(line, sizeof(line), "line %08u ", n);
	memset(line + 14, '.', LINE - 15);
	line[LINE - 1] = '\n';
	for (unsigned i = 0; i < LINE; i++)
		serial_ops.write(&f->uart, 0, (const uint8_t *)&line[i], 1);
}

static void on_stop(void *opaque, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	evloop_stop(opaque);
}

/* Runs the loop for ms milliseconds. A stopped loop stays stopped (its
 * stop eventfd stays readable): the test re-opens it for the next run. */
static void run_for(struct fx *f, unsigned ms)
{
	struct itimerspec its = { .it_value = { .tv_sec = ms / 1000,
						.tv_nsec = (long)(ms % 1000) * 1000000L } };
	uint64_t v;

	assert_int_equal(timerfd_settime(f->stop_fd, 0, &its, NULL), 0);
	assert_int_equal(evloop_add(f->ev, f->stop_fd, EPOLLIN, on_stop, f->ev), 0);
	assert_int_equal(evloop_run(f->ev), 0);
	assert_int_equal(evloop_del(f->ev, f->stop_fd), 0);
	assert_int_equal(read(f->ev->stopfd, &v, sizeof(v)), sizeof(v));
	(void)!read(f->stop_fd, &v, sizeof(v));
	f->ev->stop = false;
}

/* Reads what the pipe holds; returns the byte count and checks whole lines. */
static size_t read_pipe(struct fx *f, unsigned *first, unsigned *last)
{
	static char buf[1 << 20];
	size_t n = 0;
	ssize_t r;

	assert_int_equal(fcntl(f->pipefd[0], F_SETFL, O_NONBLOCK), 0);
	while ((r = read(f->pipefd[0], buf + n, sizeof(buf) - n)) > 0)
		n += (size_t)r;
	for (size_t off = 0; off + LINE <= n; off += LINE) {
		unsigned k;

		assert_int_equal(sscanf(buf + off, "line %u", &k), 1);
		assert_int_equal(buf[off + LINE - 1], '\n');
		if (off == 0)
			*first = k;
		*last = k;
	}
	return n;
}

static void test_output_reaches_a_reader(void **state)
{
	struct fx *f = *state;
	unsigned first = ~0u, last = 0;

	for (unsigned i = 0; i < 100; i++)
		guest_line(f, i);
	run_for(f, 200);
	assert_int_equal(read_pipe(f, &first, &last), 100 * LINE);
	assert_int_equal(first, 0);
	assert_int_equal(last, 99);
	assert_int_equal(f->con.dropped, 0);
}

/* Nobody reads: the guest writes 5 MiB and never waits; lines are dropped
 * and counted while it happens (not only when the reader comes back). */
static void test_stalled_reader_drops_and_counts(void **state)
{
	struct fx *f = *state;
	unsigned lines = (5u << 20) / LINE, first = ~0u, last = 0;
	size_t got;

	f->uart.rate_bps = 0; /* this test is about the reader, not the rate */
	f->uart.tokens = INT64_MAX / 2;
	run_for(f, 10);
	for (unsigned i = 0; i < lines; i++) {
		guest_line(f, i);
		if (i % 4096 == 0)
			run_for(f, 1); /* the loop writes while the guest goes on */
	}
	run_for(f, 1500); /* a tick collects the count while the pipe is full */
	assert_true(f->con.dropped > lines / 2);
	assert_true(f->con.polled); /* waiting for the pipe, not writing into it */
	/* The reader comes back: what was kept arrives whole, then new lines. */
	got = read_pipe(f, &first, &last);
	assert_true(got > 0 && got % LINE == 0);
	assert_int_equal(first, 0);
	/* The backlog the ring kept goes out first... */
	for (int round = 0; round < 50 && (got > 0 || f->con.polled); round++) {
		run_for(f, 20);
		got = read_pipe(f, &first, &last);
	}
	assert_false(f->con.polled);
	/* ...then the guest's new lines, none dropped. */
	f->con.dropped = 0;
	for (unsigned i = 0; i < 10; i++)
		guest_line(f, lines + i);
	for (int round = 0; round < 50 && last != lines + 9; round++) {
		run_for(f, 20);
		got = read_pipe(f, &first, &last);
	}
	assert_int_equal(last, lines + 9);
	assert_int_equal(f->con.dropped, 0);
}

/* A reader that closes: output is dropped from then on, the guest goes on. */
static void test_reader_gone(void **state)
{
	struct fx *f = *state;

	close(f->pipefd[0]);
	f->pipefd[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (unsigned i = 0; i < 10; i++)
		guest_line(f, i);
	run_for(f, 100);
	assert_int_equal(f->con.fd, -1);
	for (unsigned i = 0; i < 10; i++)
		guest_line(f, i);
	run_for(f, 100);
	console_finish(&f->con);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_output_reaches_a_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stalled_reader_drops_and_counts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reader_gone, setup, teardown),
	};

	log_set_level(LOG_ERR);
	signal(SIGPIPE, SIG_IGN); /* as in ember-vmm: a gone reader is EPIPE */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
