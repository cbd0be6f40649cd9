/* ops_async: Event invocations (accepted once durable), the event invoke configs, and ember's failed-event routes for the CLI. */
#include "api/lambda/ops.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/async/async.h"
#include "api/async/failrec.h"

/* A request waiting for its event's commit; r NULL once it was released. */
struct accepting {
	struct lreq *r;
};

static void accept_cancel(struct lreq *r)
{
	struct accepting *acc = r->op;

	acc->r = NULL;
}

static void accept_done(void *arg, int ret)
{
	struct accepting *acc = arg;
	struct lreq *r = acc->r;

	free(acc);
	if (r == NULL) /* the client left; the event stands if it committed */
		return;
	r->op = NULL;
	r->cancel = NULL;
	if (ret < 0) {
		lreq_error(r, LEXC_SERVICE, "the event could not be queued: %s", strerror(-ret));
		return;
	}
	/* On disk now: the promise can be made. */
	lreq_reply_empty(r, 202);
}

void ops_invoke_event(struct lreq *r, const struct fn *f)
{
	struct lambda *l = ops_lambda(r);
	struct accepting *acc;
	struct async_accept a;
	int ret;

	if (r->body_len > ASYNC_PAYLOAD_MAX) {
		lreq_error(r, LEXC_TOO_LARGE,
			   "Request must be smaller than %u bytes for the InvokeFunction operation",
			   ASYNC_PAYLOAD_MAX);
		return;
	}
	if (l->async == NULL) {
		lreq_error(r, LEXC_SERVICE, "Event invocations are not available");
		return;
	}
	acc = calloc(1, sizeof(*acc));
	if (acc == NULL) {
		lreq_error(r, LEXC_SERVICE, "out of memory");
		return;
	}
	acc->r = r;
	a = (struct async_accept){
		.name = f->name,
		.qualifier = f->version,
		.request_id = r->id,
		.payload = (uint8_t *)r->body, /* the queue's now */
		.len = r->body_len,
		.done = accept_done,
		.arg = acc,
	};
	r->body = NULL;
	r->body_len = 0;
	r->op = acc;
	r->cancel = accept_cancel;
	ret = async_accept(l->async, &a);
	if (ret < 0) {
		r->op = NULL;
		r->cancel = NULL;
		free(acc);
		lreq_error(r, LEXC_SERVICE, "the event could not be queued: %s", strerror(-ret));
	}
}

/* ---- Put/Get/Update/DeleteFunctionEventInvokeConfig ---- */

static cJSON *config_json(const struct fn *f, const struct evconfig *c)
{
	cJSON *o = cJSON_CreateObject(), *d;
	char arn[FN_ARN_MAX + FN_VERSION_MAX + 2];

	snprintf(arn, sizeof(arn), "%s:%s", f->arn, c->qualifier);
	if (o == NULL || !cJSON_AddNumberToObject(o, "LastModified", c->last_modified) ||
	    !cJSON_AddStringToObject(o, "FunctionArn", arn) ||
	    !cJSON_AddNumberToObject(o, "MaximumRetryAttempts", c->max_retries) ||
	    !cJSON_AddNumberToObject(o, "MaximumEventAgeInSeconds", c->max_age_s) ||
	    (d = cJSON_AddObjectToObject(o, "DestinationConfig")) == NULL ||
	    !cJSON_AddObjectToObject(d, "OnSuccess") || !cJSON_AddObjectToObject(d, "OnFailure")) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* An integer field in [lo, hi]; absent leaves *out. False after replying. */
static bool int_field(struct lreq *r, const cJSON *body, const char *key, unsigned lo, unsigned hi,
		      unsigned *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);

	if (v == NULL || cJSON_IsNull(v))
		return true;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
	    v->valuedouble > hi) {
		lreq_error(r, LEXC_VALIDATION,
			   "1 validation error detected: Value at '%s' failed to satisfy "
			   "constraint: Member must be an integer between %u and %u",
			   key, lo, hi);
		return false;
	}
	*out = (unsigned)v->valuedouble;
	return true;
}

static void put_config(struct lreq *r, bool merge)
{
	struct lambda *l = ops_lambda(r);
	struct fn *f = ops_find(r, NULL, false);
	struct evconfig c = {
		.max_retries = ASYNC_DEFAULT_RETRIES,
		.max_age_s = ASYNC_DEFAULT_MAX_AGE_S,
	};
	cJSON *body;
	bool ok;
	int ret;

	if (f == NULL)
		return;
	body = ops_body(r);
	if (body == NULL)
		return;
	if (merge)
		async_config_get(l->async, f->name, f->version, &c);
	snprintf(c.name, sizeof(c.name), "%s", f->name);
	snprintf(c.qualifier, sizeof(c.qualifier), "%s", f->version);
	/* DestinationConfig is accepted: failures always go to the local
	 * failed record (ember has no SQS, SNS or EventBridge). */
	ok = int_field(r, body, "MaximumRetryAttempts", 0, 2, &c.max_retries) &&
	     int_field(r, body, "MaximumEventAgeInSeconds", ASYNC_MIN_AGE_S,
		       ASYNC_DEFAULT_MAX_AGE_S, &c.max_age_s);
	cJSON_Delete(body);
	if (!ok)
		return;
	ret = async_config_put(l->async, &c);
	if (ret < 0) {
		lreq_error(r, LEXC_SERVICE, "saving the event invoke config failed: %s",
			   strerror(-ret));
		return;
	}
	lreq_reply_json(r, 200, config_json(f, &c));
}

void op_put_event_config(struct lreq *r)
{
	put_config(r, false);
}

void op_update_event_config(struct lreq *r)
{
	put_config(r, true);
}

static bool find_config(struct lreq *r, struct fn **f, struct evconfig *c)
{
	struct lambda *l = ops_lambda(r);
	char arn[FN_ARN_MAX + FN_VERSION_MAX + 2];

	*f = ops_find(r, NULL, false);
	if (*f == NULL)
		return false;
	if (async_config_get(l->async, (*f)->name, (*f)->version, c) == 0)
		return true;
	snprintf(arn, sizeof(arn), "%s:%s", (*f)->arn, (*f)->version);
	lreq_error(r, LEXC_RESOURCE_NOT_FOUND, "The function %s doesn't have an EventInvokeConfig",
		   arn);
	return false;
}

void op_get_event_config(struct lreq *r)
{
	struct evconfig c;
	struct fn *f;

	if (find_config(r, &f, &c))
		lreq_reply_json(r, 200, config_json(f, &c));
}

void op_delete_event_config(struct lreq *r)
{
	struct evconfig c;
	struct fn *f;
	int ret;

	if (!find_config(r, &f, &c))
		return;
	ret = async_config_delete(ops_lambda(r)->async, f->name, f->version);
	if (ret < 0) {
		lreq_error(r, LEXC_SERVICE, "deleting the event invoke config failed: %s",
			   strerror(-ret));
		return;
	}
	lreq_reply_empty(r, 204);
}

/* ---- ember's failed record routes ---- */

static void add_failed(void *arg, const struct evfailed *f)
{
	cJSON *o = failrec_json(f);

	if (o != NULL && !cJSON_AddItemToArray(arg, o))
		cJSON_Delete(o);
}

void op_ember_failed(struct lreq *r)
{
	struct lambda *l = ops_lambda(r);
	const struct store_func *sf = ops_func(r);
	cJSON *o, *arr;
	int ret;

	if (sf == NULL)
		return;
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "FailedEvents");
	if (arr == NULL) {
		cJSON_Delete(o);
		lreq_error(r, LEXC_SERVICE, "out of memory");
		return;
	}
	ret = async_failed_each(l->async, r->fn.name, 0, add_failed, arr);
	if (ret < 0) {
		cJSON_Delete(o);
		lreq_error(r, LEXC_SERVICE, "reading the failed record failed: %s", strerror(-ret));
		return;
	}
	lreq_reply_json(r, 200, o);
}

void op_ember_replay(struct lreq *r)
{
	struct lambda *l = ops_lambda(r);
	const struct store_func *sf = ops_func(r);
	const char *id_s = lreq_query(r, "id");
	char id[UUID_STR_LEN + 1], *end = NULL;
	long long n;
	cJSON *o;
	int ret;

	if (sf == NULL)
		return;
	n = id_s != NULL ? strtoll(id_s, &end, 10) : 0;
	if (id_s == NULL || end == id_s || *end != '\0' || n <= 0) {
		lreq_error(r, LEXC_INVALID_PARAMETER, "?id= must name a failed event's id");
		return;
	}
	ret = async_replay(l->async, r->fn.name, n, id);
	if (ret == -ENOENT) {
		lreq_error(r, LEXC_RESOURCE_NOT_FOUND, "%s has no failed event %lld", r->fn.name,
			   n);
		return;
	}
	if (ret < 0) {
		lreq_error(r, LEXC_SERVICE, "replaying failed: %s", strerror(-ret));
		return;
	}
	o = cJSON_CreateObject();
	if (o != NULL)
		cJSON_AddStringToObject(o, "RequestId", id);
	lreq_reply_json(r, 202, o);
}
