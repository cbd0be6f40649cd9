/* report: a call's log: START, the function's lines, END and REPORT (Lambda's format), written to the function's log and kept as the call's tail. */
#include "api/invoke/invoke_priv.h"

#include <stdio.h>
#include <string.h>

#include "api/invoke/fnlog.h"

static void tail_add(struct tail *t, const void *data, size_t len)
{
	const char *p = data;

	for (size_t i = 0; i < len; i++) {
		/* The tail is handed on as a C string. */
		t->buf[t->pos++] = p[i] != '\0' ? p[i] : ' ';
		if (t->pos == sizeof(t->buf)) {
			t->pos = 0;
			t->wrapped = true;
		}
	}
}

void invoke_tail_string(const struct tail *t, char *out)
{
	size_t n = 0;

	if (t->wrapped) {
		memcpy(out, t->buf + t->pos, sizeof(t->buf) - t->pos);
		n = sizeof(t->buf) - t->pos;
	}
	memcpy(out + n, t->buf, t->pos);
	out[n + t->pos] = '\0';
}

/* Appends pieces that form whole lines to the function's log and the tail. */
void invoke_log_lines(struct call *c, const struct iovec *iov, int n)
{
	fnlog_write(c->inv->logs, c->job.fn->name, iov, n);
	for (int i = 0; c->tail != NULL && i < n; i++)
		tail_add(c->tail, iov[i].iov_base, iov[i].iov_len);
}

void invoke_log_text(struct call *c, const char *text, size_t len)
{
	struct iovec iov = { (void *)text, len };

	invoke_log_lines(c, &iov, 1);
}

void invoke_log_start(struct call *c)
{
	char line[160];
	int n = snprintf(line, sizeof(line), "START RequestId: %s Version: %s\n", c->request_id,
			 c->job.fn->version);

	c->started = true;
	invoke_log_text(c, line, (size_t)n);
}

/* "2026-11-27T06:33:56.842Z" */
void invoke_iso_now(char *out, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	char s[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, cap, "%s.%03ldZ", s, ts.tv_nsec / 1000000);
}

/* END and REPORT, Lambda's format (tabs, and a trailing tab). */
double invoke_log_end(struct call *c)
{
	const struct fn *fn = c->job.fn;
	double ms = c->t_start_ns ? (double)(now_ns() - c->t_start_ns) / 1e6 : 0;
	unsigned long long billed = (unsigned long long)ms + ((double)(unsigned long long)ms < ms);
	unsigned long long used = (c->peak_mem + (1u << 20) - 1) >> 20;
	char line[512];
	int n;

	if (!c->started)
		invoke_log_start(c);
	n = snprintf(line, sizeof(line),
		     "END RequestId: %s\nREPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: "
		     "%llu ms\tMemory Size: %u MB\tMax Memory Used: %llu MB\t",
		     c->request_id, c->request_id, ms, billed > 0 ? billed : 1, fn->memory_mib,
		     used);
	if (c->start == INVOKE_START_COLD)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "Init Duration: %.2f ms\t",
			      c->phases.total_ms);
	else if (c->start == INVOKE_START_RESTORE)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "Restore Duration: %.2f ms\t",
			      c->phases.total_ms);
	n += snprintf(line + n, sizeof(line) - (size_t)n, "\n");
	invoke_log_text(c, line, (size_t)n);
	return ms;
}
