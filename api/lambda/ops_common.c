/* ops_common: what every operation needs: the busy set, finding a function or version, the body (see ops.h). */
#include "api/lambda/ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/lambda/spec.h"

struct lambda *ops_lambda(struct lreq *r)
{
	return r->ctx;
}

bool ops_busy(struct lambda *l, const char *name)
{
	for (struct busy *b = l->busy; b != NULL; b = b->next) {
		if (strcmp(b->name, name) == 0)
			return true;
	}
	return false;
}

int ops_busy_add(struct lambda *l, const char *name)
{
	struct busy *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return -ENOMEM;
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->next = l->busy;
	l->busy = b;
	return 0;
}

void ops_busy_remove(struct lambda *l, const char *name)
{
	for (struct busy **pp = &l->busy; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, name) == 0) {
			struct busy *b = *pp;

			*pp = b->next;
			free(b);
			return;
		}
	}
}

void ops_arn(struct lreq *r, const char *name, const char *qualifier, char *out, size_t cap)
{
	struct lambda *l = ops_lambda(r);

	snprintf(out, cap, "arn:aws:lambda:%s:%s:function:%s%s%s", store_region(l->store),
		 store_account(l->store), name, qualifier != NULL && qualifier[0] ? ":" : "",
		 qualifier != NULL ? qualifier : "");
}

bool ops_refuse_if_busy(struct lreq *r, const char *name)
{
	char arn[FN_ARN_MAX + 1];

	if (!ops_busy(ops_lambda(r), name))
		return false;
	ops_arn(r, name, NULL, arn, sizeof(arn));
	lreq_error(r, LEXC_RESOURCE_CONFLICT,
		   "The operation cannot be performed at this time. An update is in progress for "
		   "resource: %s",
		   arn);
	return true;
}

const struct store_func *ops_func(struct lreq *r)
{
	const struct store_func *sf = store_find(ops_lambda(r)->store, r->fn.name);
	char arn[FN_ARN_MAX + 1];

	if (sf == NULL) {
		ops_arn(r, r->fn.name, NULL, arn, sizeof(arn));
		lreq_error(r, LEXC_RESOURCE_NOT_FOUND, "Function not found: %s", arn);
	}
	return sf;
}

struct fn *ops_find(struct lreq *r, const struct store_func **sf_out, bool latest_in_msg)
{
	const char *q = lreq_query(r, "Qualifier");
	const struct store_func *sf;
	char arn[FN_ARN_MAX + NAMES_QUALIFIER_MAX + 2];
	struct fn *f;

	if (q != NULL) {
		if (!names_qualifier_valid(q)) {
			lreq_error(r, LEXC_VALIDATION,
				   "1 validation error detected: Value '%.128s' at 'qualifier' "
				   "failed to satisfy constraint: Member must satisfy regular "
				   "expression pattern: (|[a-zA-Z0-9$_-]+)",
				   q);
			return NULL;
		}
		if (r->fn.qualifier[0] != '\0' && strcmp(q, r->fn.qualifier) != 0) {
			lreq_error(r, LEXC_INVALID_PARAMETER,
				   "The derived qualifier from the function name does not match "
				   "the specified qualifier.");
			return NULL;
		}
	} else if (r->fn.qualifier[0] != '\0') {
		q = r->fn.qualifier;
	}
	sf = store_find(ops_lambda(r)->store, r->fn.name);
	f = store_version(sf, q);
	if (f == NULL) {
		ops_arn(r, r->fn.name, q == NULL && latest_in_msg ? FN_LATEST : q, arn,
			sizeof(arn));
		lreq_error(r, LEXC_RESOURCE_NOT_FOUND, "Function not found: %s", arn);
		return NULL;
	}
	if (sf_out != NULL)
		*sf_out = sf;
	return f;
}

cJSON *ops_body(struct lreq *r)
{
	struct lerror err;
	cJSON *j;

	if (spec_parse(r->body, r->body_len, &j, &err) < 0) {
		lreq_fail(r, &err);
		return NULL;
	}
	return j;
}
