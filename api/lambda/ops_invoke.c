/* ops_invoke: Invoke: checks the request as Lambda does, hands it to the invoker, and turns its outcome into Lambda's response. */
#include "api/lambda/ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/code/digest.h"

#define CLIENT_CONTEXT_B64_MAX 3583 /* Lambda's X-Amz-Client-Context limit */
#define SERVICE_MSG_MAX	       512

struct invocation {
	struct lreq *r; /* NULL once the request was released */
	char version[FN_VERSION_MAX + 1];
};

/* Lambda wants the payload to be JSON (empty is fine). */
static bool payload_is_json(const struct lreq *r, size_t *bad_at)
{
	const char *end = NULL;
	cJSON *j;
	size_t i;

	for (i = 0; i < r->body_len; i++) {
		char c = r->body[i];

		if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			break;
	}
	if (i == r->body_len)
		return true;
	if (strlen(r->body) != r->body_len) {
		*bad_at = strlen(r->body);
		return false;
	}
	j = cJSON_ParseWithOpts(r->body, &end, 1);
	if (j == NULL) {
		*bad_at = end != NULL && end >= r->body ? (size_t)(end - r->body) : 0;
		return false;
	}
	cJSON_Delete(j);
	return true;
}

static void invoke_cancel(struct lreq *r)
{
	struct invocation *inv = r->op;

	inv->r = NULL;
}

/* X-Ember-Start-Phases on the first answer of a new instance: where its start
 * went, in ms (api/pool/phases.h), e.g. "restore spawn=0.91 vm=1.80 connect=0.20
 * init=0.35 total=3.26". Not Lambda's: the SDKs ignore it; ember bench reads it. */
static void add_phases(struct lreq *r, enum invoke_start start, const struct pool_phases *ph)
{
	char v[160];

	snprintf(v, sizeof(v), "%s%s spawn=%.2f vm=%.2f connect=%.2f init=%.2f total=%.2f",
		 start == INVOKE_START_RESTORE ? "restore" : "cold", ph->standby ? " standby" : "",
		 ph->spawn_ms, ph->vm_ms, ph->connect_ms, ph->init_ms, ph->total_ms);
	lreq_add_header(r, "X-Ember-Start-Phases", v);
}

static void reply_result(struct lreq *r, const char *version, const struct invoke_result *res)
{
	char *tail;

	switch (res->outcome) {
	case INVOKE_THROTTLED:
		lreq_throttle(r,
			      res->reason != NULL
				      ? res->reason
				      : "ReservedFunctionConcurrentInvocationLimitExceeded",
			      "Rate Exceeded.");
		return;
	case INVOKE_SERVICE_ERROR:
		lreq_error(r, LEXC_SERVICE, "%.*s",
			   (int)(res->body_len < SERVICE_MSG_MAX ? res->body_len : SERVICE_MSG_MAX),
			   res->body != NULL ? (const char *)res->body : "");
		return;
	case INVOKE_FUNCTION_ERROR:
		lreq_add_header(r, "X-Amz-Function-Error", "Unhandled");
		break;
	case INVOKE_OK:
	default:
		break;
	}
	lreq_add_header(r, "X-Amz-Executed-Version", version);
	if (res->phases != NULL)
		add_phases(r, res->start, res->phases);
	if (res->tail != NULL) {
		tail = digest_b64_encode(res->tail, strlen(res->tail));
		if (tail != NULL)
			lreq_add_header(r, "X-Amz-Log-Result", tail);
		free(tail);
	}
	lreq_reply_raw(r, 200, "application/json", res->body, res->body_len);
}

static void invoke_done(void *arg, const struct invoke_result *res)
{
	struct invocation *inv = arg;
	struct lreq *r = inv->r;

	if (r != NULL) {
		r->op = NULL;
		r->cancel = NULL;
		reply_result(r, inv->version, res);
	}
	free(inv);
}

/* X-Amz-Client-Context: base64 of JSON; the runtime gets it decoded. */
static bool client_context(struct lreq *r, char **out)
{
	const char *b64 = lreq_header(r, "X-Amz-Client-Context");
	uint8_t *raw = NULL;
	size_t len;
	char *s;

	*out = NULL;
	if (b64 == NULL || b64[0] == '\0')
		return true;
	if (strlen(b64) > CLIENT_CONTEXT_B64_MAX) {
		lreq_error(r, LEXC_INVALID_PARAMETER,
			   "Client context must be at most %d bytes of base64",
			   CLIENT_CONTEXT_B64_MAX);
		return false;
	}
	if (digest_b64_decode(b64, strlen(b64), &raw, &len) < 0 || memchr(raw, '\0', len) != NULL) {
		free(raw);
		lreq_error(r, LEXC_INVALID_PARAMETER,
			   "Client context must be a valid Base64-encoded JSON object.");
		return false;
	}
	s = realloc(raw, len + 1);
	if (s == NULL) {
		free(raw);
		lreq_error(r, LEXC_SERVICE, "out of memory");
		return false;
	}
	s[len] = '\0';
	*out = s;
	return true;
}

void ops_invoke_abort_all(struct lambda *l)
{
	struct lreq *r = l->live.head, *next;

	for (; r != NULL; r = next) {
		struct invocation *inv = r->op;

		next = r->next;
		if (r->cancel != invoke_cancel)
			continue;
		/* The invocation's own end, later, finds no request and drops. */
		inv->r = NULL;
		r->op = NULL;
		r->cancel = NULL;
		lreq_add_header(r, "Connection", "close");
		lreq_error(r, LEXC_SERVICE,
			   "emberd is stopping: the invocation did not finish "
			   "within the drain timeout");
	}
}

void op_invoke(struct lreq *r)
{
	struct lambda *l = ops_lambda(r);
	const char *type = lreq_header(r, "X-Amz-Invocation-Type");
	const char *log_type = lreq_header(r, "X-Amz-Log-Type");
	char arn[FN_ARN_MAX + NAMES_QUALIFIER_MAX + 2];
	struct invocation *inv;
	struct invoke_req req;
	char *ctx = NULL;
	size_t bad_at = 0;
	struct fn *f;
	int ret;

	f = ops_find(r, NULL, true);
	if (f == NULL)
		return;
	if (type == NULL)
		type = "RequestResponse";
	if (strcmp(type, "RequestResponse") != 0 && strcmp(type, "DryRun") != 0 &&
	    strcmp(type, "Event") != 0) {
		lreq_error(r, LEXC_INVALID_PARAMETER,
			   "1 validation error detected: Value '%.32s' at 'invocationType' failed "
			   "to satisfy constraint: Member must satisfy enum value set: [Event, "
			   "RequestResponse, DryRun]",
			   type);
		return;
	}
	if (log_type != NULL && strcmp(log_type, "Tail") != 0 && strcmp(log_type, "None") != 0) {
		lreq_error(r, LEXC_INVALID_PARAMETER,
			   "1 validation error detected: Value '%.32s' at 'logType' failed to "
			   "satisfy constraint: Member must satisfy enum value set: [None, Tail]",
			   log_type);
		return;
	}
	if (!payload_is_json(r, &bad_at)) {
		lreq_error(r, LEXC_INVALID_REQUEST_CONTENT,
			   "Could not parse request body into json: Could not parse payload into "
			   "json: unexpected input at byte %zu",
			   bad_at);
		return;
	}
	if (!client_context(r, &ctx))
		return;
	if (strcmp(type, "DryRun") == 0) {
		free(ctx);
		lreq_reply_empty(r, 204);
		return;
	}
	if (strcmp(type, "Event") == 0) {
		free(ctx); /* Lambda passes no client context to Event invocations */
		ops_invoke_event(r, f);
		return;
	}
	inv = calloc(1, sizeof(*inv));
	if (inv == NULL) {
		free(ctx);
		lreq_error(r, LEXC_SERVICE, "out of memory");
		return;
	}
	inv->r = r;
	snprintf(inv->version, sizeof(inv->version), "%s", f->version);
	/* The ARN as the caller named it: qualified only if they qualified it. */
	if (r->fn.qualifier[0] != '\0' || lreq_query(r, "Qualifier") != NULL)
		snprintf(arn, sizeof(arn), "%s:%s", f->arn, f->version);
	else
		snprintf(arn, sizeof(arn), "%s", f->arn);
	req = (struct invoke_req){
		.fn = f,
		.request_id = r->id,
		.invoked_arn = arn,
		.payload = (const uint8_t *)r->body,
		.payload_len = r->body_len,
		.client_context = ctx,
		.want_tail = log_type != NULL && strcmp(log_type, "Tail") == 0,
		.done = invoke_done,
		.arg = inv,
	};
	r->op = inv;
	r->cancel = invoke_cancel;
	ret = invoker_submit(l->inv, &req);
	free(ctx); /* the invoker copied what it keeps */
	if (ret < 0) {
		r->op = NULL;
		r->cancel = NULL;
		free(inv);
		lreq_error(r, LEXC_SERVICE, "the invocation could not start: %s", strerror(-ret));
		return;
	}
	/* The payload was copied too: give the memory back while the function runs. */
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}
