/* ops_account: reserved concurrency (Put/Get/DeleteFunctionConcurrency) and GetAccountSettings. */
#include "api/lambda/ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/code/zip.h"
#include "api/lambda/shape.h"

/* Concurrency belongs to the function, not to a version. */
static bool unqualified(struct lreq *r)
{
	if (r->fn.qualifier[0] == '\0')
		return true;
	lreq_error(r, LEXC_INVALID_PARAMETER,
		   "Reserved concurrency is set on a function, not on a version: drop the "
		   "qualifier %s",
		   r->fn.qualifier);
	return false;
}

void op_put_concurrency(struct lreq *r)
{
	struct lambda *l = ops_lambda(r);
	const struct store_func *sf = ops_func(r);
	const cJSON *v;
	uint64_t others, limit;
	cJSON *body;
	double d;
	int ret;

	if (sf == NULL || !unqualified(r))
		return;
	body = ops_body(r);
	if (body == NULL)
		return;
	v = cJSON_GetObjectItemCaseSensitive(body, "ReservedConcurrentExecutions");
	d = cJSON_IsNumber(v) ? v->valuedouble : -1;
	if (d != floor(d) || d < 0 || d > 1e9) {
		cJSON_Delete(body);
		lreq_error(r, LEXC_INVALID_PARAMETER,
			   "ReservedConcurrentExecutions is required: an integer, 0 or more");
		return;
	}
	cJSON_Delete(body);
	others = store_reserved_total(l->store) - (sf->reserved > 0 ? (uint64_t)sf->reserved : 0);
	limit = SHAPE_ACCOUNT_CONCURRENCY - SHAPE_UNRESERVED_MIN;
	if (others + (uint64_t)d > limit) {
		lreq_error(
			r, LEXC_INVALID_PARAMETER,
			"Specified ReservedConcurrentExecutions for function decreases account's "
			"UnreservedConcurrentExecution below its minimum value of [%u].",
			SHAPE_UNRESERVED_MIN);
		return;
	}
	ret = store_set_reserved(l->store, r->fn.name, (int64_t)d);
	if (ret < 0) {
		lreq_error(r, LEXC_SERVICE, "saving the concurrency failed");
		return;
	}
	invoker_set_concurrency(l->inv, r->fn.name, (uint32_t)d);
	lreq_reply_json(r, 200, shape_concurrency((int64_t)d));
}

void op_get_concurrency(struct lreq *r)
{
	const struct store_func *sf = ops_func(r);

	if (sf != NULL && unqualified(r))
		lreq_reply_json(r, 200, shape_concurrency(sf->reserved));
}

void op_delete_concurrency(struct lreq *r)
{
	struct lambda *l = ops_lambda(r);
	const struct store_func *sf = ops_func(r);

	if (sf == NULL || !unqualified(r))
		return;
	if (store_set_reserved(l->store, r->fn.name, STORE_NO_RESERVED) < 0) {
		lreq_error(r, LEXC_SERVICE, "saving the concurrency failed");
		return;
	}
	invoker_set_concurrency(l->inv, r->fn.name, UINT32_MAX);
	lreq_reply_empty(r, 204);
}

void op_account_settings(struct lreq *r)
{
	struct lambda *l = ops_lambda(r);
	struct shape_account a = {
		.code_bytes = store_code_bytes(l->store),
		.function_count = store_count(l->store),
		.reserved_total = store_reserved_total(l->store),
		.zipped_max = ZIP_ZIPPED_MAX,
		.unzipped_max = ZIP_UNZIPPED_MAX,
	};

	lreq_reply_json(r, 200, shape_account(&a));
}
