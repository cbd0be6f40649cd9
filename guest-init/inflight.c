/* inflight: INVOKE to /next, /response or /error to STATS + RESULT or ERROR (see inflight.h). */
#include "guest-init/inflight.h"

#include "guest-init/bootstrap.h"
#include "guest-init/link.h"
#include "guest-init/runtime_api.h"
#include "lib/gproto/gproto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void inflight_setup(struct inflight *f, struct rapi *api)
{
	*f = (struct inflight){ .api = api };
}

bool inflight_busy(const struct inflight *f)
{
	return f->cur != NULL;
}

bool inflight_delivered(const struct inflight *f)
{
	return f->cur != NULL && f->cur->delivered;
}

uint64_t inflight_req_id(const struct inflight *f)
{
	return f->cur != NULL ? f->cur->req_id : 0;
}

static void invocation_free(struct invocation *c)
{
	free(c->arn);
	free(c->trace);
	free(c->client_context);
	free(c->cognito);
	free(c->payload);
	free(c);
}

static char *dup_str(const struct gproto_str *s)
{
	return strndup(s->s != NULL ? s->s : "", s->len);
}

static struct invocation *invocation_copy(uint64_t req_id, const struct gproto_invoke *in)
{
	struct invocation *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->req_id = req_id;
	memcpy(c->request_id, in->request_id.s, in->request_id.len + 1);
	c->deadline_ms = in->deadline_ms;
	c->arn = dup_str(&in->invoked_arn);
	c->trace = dup_str(&in->trace_id);
	c->client_context = dup_str(&in->client_context);
	c->cognito = dup_str(&in->cognito_identity);
	c->len = in->payload.len;
	c->payload = malloc(c->len > 0 ? c->len : 1);
	if (!c->arn || !c->trace || !c->client_context || !c->cognito || !c->payload) {
		invocation_free(c);
		return NULL;
	}
	if (c->len > 0)
		memcpy(c->payload, in->payload.p, c->len);
	return c;
}

/* The invocation has ended (its last frame is sent). */
static void finish(struct inflight *f)
{
	invocation_free(f->cur);
	f->cur = NULL;
}

static void send_stats(struct inflight *f, struct link *k)
{
	struct gproto_msg m = { .type = GPROTO_STATS, .req_id = f->cur->req_id };

	m.stats.peak_mem_bytes = bootstrap_mem_peak();
	link_send(k, &m);
}

/* Answers the held /next with the pending invocation. */
static void deliver(struct inflight *f)
{
	struct invocation *c = f->cur;
	struct rapi_event ev = {
		.request_id = c->request_id,
		.deadline_ms = c->deadline_ms,
		.invoked_arn = c->arn,
		.trace_id = c->trace,
		.client_context = c->client_context,
		.cognito_identity = c->cognito,
		.payload = c->payload,
		.len = c->len,
	};

	c->delivered = true;
	bootstrap_mem_reset(); /* STATS reports this invocation's peak */
	rapi_send_event(f->api, f->held, &ev);
	f->held = NULL;
}

int inflight_invoke(struct inflight *f, struct link *k, uint64_t req_id,
		    const struct gproto_invoke *in)
{
	if (f->cur != NULL) {
		link_send_error_json(k, GPROTO_ERROR, req_id, "Ember.Busy",
				     "another invocation is in progress");
		return -EBUSY;
	}
	f->cur = invocation_copy(req_id, in);
	if (f->cur == NULL) {
		link_send_error_json(k, GPROTO_ERROR, req_id, "Ember.OutOfMemory",
				     "invocation copy");
		return -ENOMEM;
	}
	if (f->held == NULL)
		return 0;
	deliver(f);
	return 1;
}

int inflight_next(struct inflight *f, struct link *k, struct evhttp_request *req)
{
	if (f->held != NULL || inflight_delivered(f))
		return -EPERM;
	f->held = req;
	if (f->cur != NULL)
		deliver(f);
	else
		link_send_empty(k, GPROTO_READY, 0);
	return 0;
}

void inflight_next_gone(struct inflight *f, struct evhttp_request *req)
{
	if (f->held == req)
		f->held = NULL;
}

void inflight_release_next(struct inflight *f)
{
	if (f->held == NULL)
		return;
	rapi_send_status(f->api, f->held, -EPIPE);
	f->held = NULL;
}

void inflight_connected(struct inflight *f, struct link *k)
{
	if (f->held != NULL && f->cur == NULL)
		link_send_empty(k, GPROTO_READY, 0);
}

int inflight_finish(struct inflight *f, struct link *k, struct bootstrap *b, const char *id,
		    const char *etype, const uint8_t *body, size_t len, bool is_error)
{
	struct gproto_msg m = { .req_id = 0 };

	if (!inflight_delivered(f) || strcmp(id, f->cur->request_id) != 0)
		return -ENOENT;
	bootstrap_drain(b);
	send_stats(f, k);
	if (len > GPROTO_RESULT_MAX) {
		link_send_error_json(k, GPROTO_ERROR, f->cur->req_id,
				     "Function.ResponseSizeTooLarge",
				     "Response payload size exceeded maximum allowed payload size "
				     "(6291556 bytes).");
		finish(f);
		return -EMSGSIZE;
	}
	m.req_id = f->cur->req_id;
	if (is_error) {
		m.type = GPROTO_ERROR;
		m.error.error_type = (struct gproto_str){ etype, (uint32_t)strlen(etype) };
		m.error.body = (struct gproto_bytes){ body, (uint32_t)len };
	} else {
		m.type = GPROTO_RESULT;
		m.result.payload = (struct gproto_bytes){ body, (uint32_t)len };
	}
	link_send(k, &m);
	finish(f);
	return 0;
}

void inflight_fail(struct inflight *f, struct link *k, const char *etype, const char *text)
{
	char t[512];

	if (f->cur == NULL)
		return;
	snprintf(t, sizeof(t), "RequestId: %s Error: %s", f->cur->request_id, text);
	send_stats(f, k);
	link_send_error_json(k, GPROTO_ERROR, f->cur->req_id, etype, t);
	finish(f);
}

void inflight_fail_with(struct inflight *f, struct link *k, const char *etype, const uint8_t *body,
			size_t len)
{
	if (f->cur == NULL)
		return;
	send_stats(f, k);
	link_send_error(k, GPROTO_ERROR, f->cur->req_id, etype, body, len);
	finish(f);
}
