/* console: the guest console's way out: the UART's output ring, drained by the event loop without blocking.
 *
 * Contract:
 * - console_open() takes the fd the console goes to (stdout, or the
 *   --console file; `owned` if console_destroy() must close it) and makes
 *   writes to it non-blocking without touching anybody else's file: a
 *   regular file is written as it is (writes to it do not wait on a
 *   reader); a socket is written with MSG_DONTWAIT; a pipe, FIFO or
 *   terminal is reopened through /proc/self/fd (a file description of our
 *   own, O_NONBLOCK), or, where that is impossible (no /proc in a jail), the
 *   fd itself is switched to O_NONBLOCK. It also makes the wake-up eventfd.
 * - console_attach() (once the UART exists) adds the wake-up eventfd to the
 *   loop; console_out_ready() is the UART's out_ready hook (serial.h): any
 *   thread, async-signal-safe, it only writes the eventfd.
 * - The loop then takes what the UART holds and writes it until the fd
 *   would block; it then waits for EPOLLOUT and holds at most
 *   CONSOLE_BUF bytes itself. While it waits, the UART's ring fills and
 *   drops whole lines (serial.h): nothing the guest does ever waits on the
 *   console's reader. Dropped lines are counted and logged: a warning at
 *   most once a second while it happens (a CONSOLE_TICK_S timer collects the
 *   count while the fd takes nothing), the total at console_finish(). A reader that
 *   went away (EPIPE) ends console output; the VM runs on.
 * - console_drain() (loop thread: after a pause) writes what it can now;
 *   console_finish() (the VM stopped) does one last non-blocking drain and
 *   logs what could not be written. Neither ever waits.
 * - Threads: everything but console_out_ready() on the loop thread. */
#ifndef EMBER_CONSOLE_H
#define EMBER_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/core/evloop.h"
#include "vmm/devices/serial.h"

#define CONSOLE_BUF    4096u
#define CONSOLE_TICK_S 1 /* while blocked: how often drops are collected */

struct console {
	int fd;	      /* where output goes; -1: nowhere (reader gone) */
	int close_fd; /* the fd console_destroy() closes, or -1 */
	bool sock;    /* fd is a socket: send(MSG_DONTWAIT) */
	int wake_fd;  /* eventfd: the UART has output */
	int tick_fd;  /* timerfd, running while the fd takes nothing */
	bool polled;  /* fd is in the loop (waiting for EPOLLOUT) */
	struct serial *uart;
	struct evloop *ev;
	char buf[CONSOLE_BUF]; /* taken from the UART, not yet written */
	size_t off, len;
	uint64_t dropped;   /* lines the UART dropped, in all */
	uint64_t unlogged;  /* of those, not yet in a log line */
	uint64_t logged_ns; /* when drops were last logged */
	uint64_t written;   /* bytes written */
};

/* Marks everything closed: console_destroy() is safe from here on. */
void console_init(struct console *c);
/* -errno (the wake-up eventfd could not be made). On failure nothing is
 * left open except fd, which stays the caller's. A closed fd (stdout) is
 * fine: the output goes nowhere. */
int console_open(struct console *c, int fd, bool owned);
int console_attach(struct console *c, struct serial *uart, struct evloop *ev);
void console_out_ready(void *opaque);
void console_drain(struct console *c);
void console_finish(struct console *c);
void console_destroy(struct console *c);

#endif
