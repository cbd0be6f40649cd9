/* ops_functions: Get/List/UpdateConfiguration/Delete functions, PublishVersion, ListVersionsByFunction. */
#include "api/lambda/ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/async/async.h"
#include "api/lambda/shape.h"
#include "api/lambda/spec.h"
#include "lib/util/log.h"

#define PAGE_MAX     50	   /* Lambda's page size cap */
#define MAXITEMS_MAX 10000 /* the model's MaxItems bound */

void op_get_function(struct lreq *r)
{
	const struct store_func *sf;
	struct fn *f = ops_find(r, &sf, false);
	char location[512];

	if (f == NULL)
		return;
	ops_code_location(r, f, location, sizeof(location));
	lreq_reply_json(r, 200, shape_function(f, sf->reserved, location));
}

void op_get_configuration(struct lreq *r)
{
	struct fn *f = ops_find(r, NULL, false);

	if (f != NULL)
		lreq_reply_json(r, 200, shape_config(f, false));
}

/* MaxItems as a page size (1..PAGE_MAX); false after replying. */
static bool page_size(struct lreq *r, unsigned *out)
{
	const char *s = lreq_query(r, "MaxItems");
	char *end;
	long v;

	*out = PAGE_MAX;
	if (s == NULL)
		return true;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 1 || v > MAXITEMS_MAX) {
		lreq_error(r, LEXC_INVALID_PARAMETER,
			   "1 validation error detected: Value '%.16s' at 'maxItems' failed to "
			   "satisfy constraint: Member must have value between 1 and %d",
			   s, MAXITEMS_MAX);
		return false;
	}
	*out = v < PAGE_MAX ? (unsigned)v : PAGE_MAX;
	return true;
}

static bool add_config(cJSON *arr, const struct fn *f, bool qualify)
{
	cJSON *c = shape_config(f, qualify);

	return c != NULL && cJSON_AddItemToArray(arr, c);
}

/* Positions in a function: 0 is $LATEST, v is versions[v - 1]. The first
 * position after `version` (which may have been deleted since). */
static unsigned after_version(const struct store_func *sf, const char *version)
{
	unsigned long m;
	unsigned pos = 1;

	if (strcmp(version, FN_LATEST) == 0)
		return 1;
	m = strtoul(version, NULL, 10);
	for (unsigned v = 0; v < sf->nversions; v++) {
		if (strtoul(sf->versions[v]->version, NULL, 10) <= m)
			pos = v + 2;
	}
	return pos;
}

static const struct fn *at_pos(const struct store_func *sf, unsigned pos)
{
	return pos == 0 ? sf->latest : sf->versions[pos - 1];
}

static void reply_page(struct lreq *r, cJSON *o, bool ok, const struct fn *last, bool more,
		       bool with_version)
{
	char next[FN_NAME_MAX + FN_VERSION_MAX + 2];

	if (ok && more && last != NULL) {
		if (with_version)
			snprintf(next, sizeof(next), "%s:%s", last->name, last->version);
		else
			snprintf(next, sizeof(next), "%s", last->version);
		ok = cJSON_AddStringToObject(o, "NextMarker", next) != NULL;
	}
	if (!ok) {
		cJSON_Delete(o);
		lreq_error(r, LEXC_SERVICE, "out of memory");
		return;
	}
	lreq_reply_json(r, 200, o);
}

/* A marker names the last item of the previous page, "<name>:<version>": a
 * position in name order, not an index, so functions may come and go
 * between pages. */
void op_list_functions(struct lreq *r)
{
	struct lambda *l = ops_lambda(r);
	const char *marker = lreq_query(r, "Marker"), *fv = lreq_query(r, "FunctionVersion");
	bool all = fv != NULL && strcmp(fv, "ALL") == 0;
	const struct fn *last = NULL;
	unsigned max, n = 0, i = 0, pos = 0, count = store_count(l->store);
	cJSON *o, *arr;
	bool ok;

	if (fv != NULL && !all) {
		lreq_error(r, LEXC_INVALID_PARAMETER, "FunctionVersion must be ALL");
		return;
	}
	if (!page_size(r, &max))
		return;
	if (marker != NULL) {
		char mname[FN_NAME_MAX + 1];
		const char *colon = strchr(marker, ':');
		size_t nl = colon != NULL ? (size_t)(colon - marker) : strlen(marker);
		const struct store_func *sf;

		if (nl == 0 || nl > FN_NAME_MAX || colon == NULL) {
			lreq_error(r, LEXC_INVALID_PARAMETER, "Invalid Marker: %.100s", marker);
			return;
		}
		memcpy(mname, marker, nl);
		mname[nl] = '\0';
		i = store_index_after(l->store, mname);
		sf = i > 0 ? store_at(l->store, i - 1) : NULL;
		if (all && sf != NULL && strcmp(sf->latest->name, mname) == 0) {
			i--;
			pos = after_version(sf, colon + 1);
		}
	}
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "Functions");
	ok = o != NULL && arr != NULL;
	while (ok && i < count) {
		const struct store_func *sf = store_at(l->store, i);
		unsigned npos = all ? sf->nversions + 1 : 1;

		if (pos >= npos) {
			i++;
			pos = 0;
			continue;
		}
		if (n == max)
			break;
		last = at_pos(sf, pos++);
		ok = add_config(arr, last, all);
		n++;
	}
	reply_page(r, o, ok, last, i < count, true);
}

void op_list_versions(struct lreq *r)
{
	const struct store_func *sf = ops_func(r);
	const char *marker = lreq_query(r, "Marker");
	const struct fn *last = NULL;
	unsigned max, n = 0, pos = 0;
	cJSON *o, *arr;
	bool ok;

	if (sf == NULL || !page_size(r, &max))
		return;
	if (marker != NULL)
		pos = after_version(sf, marker);
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "Versions");
	ok = o != NULL && arr != NULL;
	for (; ok && pos < sf->nversions + 1 && n < max; pos++, n++) {
		last = at_pos(sf, pos);
		ok = add_config(arr, last, true);
	}
	reply_page(r, o, ok, last, pos < sf->nversions + 1, false);
}

static bool revision_matches(struct lreq *r, const char *given, const struct fn *f)
{
	if (given == NULL || strcmp(given, f->revision_id) == 0)
		return true;
	lreq_error(r, LEXC_PRECONDITION_FAILED,
		   "The Revision Id provided does not match the latest Revision Id. Call the "
		   "GetFunction/GetAlias API to retrieve the latest Revision Id");
	return false;
}

void op_update_configuration(struct lreq *r)
{
	struct lambda *l = ops_lambda(r);
	const struct store_func *sf = ops_func(r);
	const char *revision = NULL;
	struct lerror err;
	struct fn *f;
	cJSON *body;
	int ret;

	if (sf == NULL || ops_refuse_if_busy(r, r->fn.name))
		return;
	if (r->fn.qualifier[0] != '\0' && strcmp(r->fn.qualifier, FN_LATEST) != 0) {
		lreq_error(r, LEXC_INVALID_PARAMETER,
			   "Only the $LATEST version of a function can be updated");
		return;
	}
	body = ops_body(r);
	if (body == NULL)
		return;
	f = fn_dup(sf->latest);
	if (f == NULL) {
		cJSON_Delete(body);
		lreq_error(r, LEXC_SERVICE, "out of memory");
		return;
	}
	ret = spec_update_config(body, l->rt, f, &revision, &err);
	if (ret == 0 && !revision_matches(r, revision, sf->latest)) {
		cJSON_Delete(body);
		fn_unref(f);
		return;
	}
	cJSON_Delete(body);
	if (ret < 0) {
		fn_unref(f);
		lreq_fail(r, &err);
		return;
	}
	ret = store_replace_latest(l->store, f);
	if (ret < 0) {
		fn_unref(f);
		lreq_error(r, LEXC_SERVICE, "saving the function failed: %s", strerror(-ret));
		return;
	}
	/* Instances of the old configuration finish what they run, then stop. */
	invoker_drain(l->inv, f->name, FN_LATEST, f->key);
	invoker_prestage(l->inv, f->runtime_image); /* a new runtime, maybe */
	lreq_reply_json(r, 200, shape_config(f, false));
}

void op_delete_function(struct lreq *r)
{
	struct lambda *l = ops_lambda(r);
	const char *q = lreq_query(r, "Qualifier");
	const struct store_func *sf = ops_func(r);
	char arn[FN_ARN_MAX + NAMES_QUALIFIER_MAX + 2];
	int ret;

	if (sf == NULL || ops_refuse_if_busy(r, r->fn.name))
		return;
	if (q == NULL && r->fn.qualifier[0] != '\0')
		q = r->fn.qualifier;
	if (q == NULL) {
		ret = store_delete(l->store, r->fn.name);
		if (ret == 0)
			invoker_forget(l->inv, r->fn.name);
		if (ret == 0 && l->async != NULL && async_forget(l->async, r->fn.name) < 0)
			log_warn("%s: its queued events stay on disk", r->fn.name);
	} else if (strcmp(q, FN_LATEST) == 0) {
		lreq_error(r, LEXC_INVALID_PARAMETER,
			   "$LATEST version cannot be deleted without deleting the function.");
		return;
	} else {
		ret = store_delete_version(l->store, r->fn.name, q);
		if (ret == -ENOENT) {
			ops_arn(r, r->fn.name, q, arn, sizeof(arn));
			lreq_error(r, LEXC_RESOURCE_NOT_FOUND, "Function not found: %s", arn);
			return;
		}
		/* Only the deleted version's instances go. */
		if (ret == 0)
			invoker_drain(l->inv, r->fn.name, q, NULL);
	}
	if (ret < 0) {
		lreq_error(r, LEXC_SERVICE, "deleting failed: %s", strerror(-ret));
		return;
	}
	lreq_reply_empty(r, 204);
}

void op_publish_version(struct lreq *r)
{
	struct lambda *l = ops_lambda(r);
	const struct store_func *sf = ops_func(r);
	const cJSON *sha, *desc, *rev;
	struct fn *v;
	cJSON *body = NULL;
	bool created;
	int ret;

	if (sf == NULL || ops_refuse_if_busy(r, r->fn.name))
		return;
	if (r->body_len > 0) {
		body = ops_body(r);
		if (body == NULL)
			return;
	}
	sha = cJSON_GetObjectItemCaseSensitive(body, "CodeSha256");
	desc = cJSON_GetObjectItemCaseSensitive(body, "Description");
	rev = cJSON_GetObjectItemCaseSensitive(body, "RevisionId");
	if ((sha != NULL && !cJSON_IsString(sha)) || (desc != NULL && !cJSON_IsString(desc)) ||
	    (rev != NULL && !cJSON_IsString(rev)) ||
	    (desc != NULL && strlen(desc->valuestring) > FN_DESC_MAX)) {
		cJSON_Delete(body);
		lreq_error(
			r, LEXC_INVALID_PARAMETER,
			"CodeSha256, Description (at most 256 characters) and RevisionId must be "
			"strings");
		return;
	}
	if (sha != NULL && strcmp(sha->valuestring, sf->latest->code_sha256) != 0) {
		lreq_error(
			r, LEXC_INVALID_PARAMETER,
			"CodeSHA256 (%.64s) is different from current CodeSHA256 in $LATEST (%s). "
			"Please try again",
			sha->valuestring, sf->latest->code_sha256);
		cJSON_Delete(body);
		return;
	}
	if (!revision_matches(r, rev != NULL ? rev->valuestring : NULL, sf->latest)) {
		cJSON_Delete(body);
		return;
	}
	ret = store_publish(l->store, r->fn.name, desc != NULL ? desc->valuestring : NULL, &v,
			    &created);
	cJSON_Delete(body);
	if (ret < 0) {
		lreq_error(r, LEXC_SERVICE, "publishing failed: %s", strerror(-ret));
		return;
	}
	lreq_reply_json(r, 201, shape_config(v, false));
}
