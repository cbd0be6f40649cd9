/* ops_code: CreateFunction and UpdateFunctionCode (the body is parsed, decoded, unzipped and imaged by ember-intake from a worker, then committed on the loop), and the kept zip that GetFunction's Code.Location names. */
#include "api/lambda/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/code/digest.h"
#include "api/code/intake.h"
#include "api/lambda/shape.h"
#include "api/lambda/spec.h"
#include "api/store/codedir.h"

struct code_job {
	struct work w;
	struct lambda *l;
	struct lreq *r; /* NULL once the request was released */
	bool create;
	/* in (the worker only reads these) */
	char *body;
	size_t body_len;
	const struct runtimes *rt;
	const char *home;
	const char *intake;
	char name[FN_NAME_MAX + 1]; /* update: the path's; create: the body's */
	/* out */
	struct fn *f; /* create: the new function's fields */
	bool failed, publish, dry_run, has_revision;
	char revision[FN_REVISION_MAX + 1];
	struct lerror err;
	uint8_t *zip;
	struct intake in;
};

/* Worker: JSON -> fields -> zip bytes -> image. Touches only the job. */
static void code_run(struct work *w)
{
	struct code_job *j = (struct code_job *)w;
	struct spec_code code;
	cJSON *body = NULL;
	int ret;

	ret = spec_parse(j->body, j->body_len, &body, &j->err);
	if (ret == 0 && j->create) {
		j->f = fn_new();
		if (j->f == NULL)
			ret = lerror_set(&j->err, LEXC_SERVICE, "out of memory");
		else
			ret = spec_create(body, j->rt, j->f, &code, &j->err);
		if (ret == 0)
			snprintf(j->name, sizeof(j->name), "%s", j->f->name);
	} else if (ret == 0) {
		ret = spec_update_code(body, &code, &j->err);
	}
	if (ret == 0) {
		j->publish = code.publish;
		j->dry_run = code.dry_run;
		j->has_revision = code.revision_id != NULL;
		if (j->has_revision)
			snprintf(j->revision, sizeof(j->revision), "%s", code.revision_id);
		ret = digest_b64_decode(code.zip_b64, code.zip_b64_len, &j->zip, &j->in.zip_len);
		if (ret == -EINVAL)
			lerror_set(&j->err, LEXC_INVALID_PARAMETER,
				   "Could not decode ZipFile: it is not valid base64");
		else if (ret < 0)
			lerror_set(&j->err, LEXC_SERVICE, "out of memory");
	}
	/* The JSON and its base64 are the bulk of the memory: drop them now. */
	cJSON_Delete(body);
	free(j->body);
	j->body = NULL;
	if (ret == 0) {
		ret = codedir_new_path(j->home, j->name, j->in.image_path,
				       sizeof(j->in.image_path));
		if (ret < 0)
			lerror_set(&j->err, LEXC_SERVICE, "creating the code folder: %s",
				   strerror(-ret));
	}
	if (ret < 0) {
		j->failed = true;
		return;
	}
	j->in.home = j->home;
	j->in.zip = j->zip;
	intake_in_child(&j->in, j->intake);
	free(j->zip);
	j->zip = NULL;
	j->in.zip = NULL;
}

static void job_free(struct code_job *j)
{
	fn_unref(j->f);
	free(j->zip);
	free(j->body);
	free(j);
}

static void code_cancel(struct lreq *r)
{
	struct code_job *j = r->op;

	j->r = NULL;
}

/* Replies with the intake's fault; true if there was one. */
static bool intake_failed(struct lreq *r, const struct intake *in)
{
	switch (in->fault) {
	case INTAKE_OK:
		return false;
	case INTAKE_TOO_LARGE:
		lreq_error(r, LEXC_TOO_LARGE, "%s", in->msg);
		return true;
	case INTAKE_BAD_ZIP:
		lreq_error(r, LEXC_INVALID_PARAMETER, "%s", in->msg);
		return true;
	case INTAKE_SERVICE:
	default:
		lreq_error(r, LEXC_SERVICE, "Building the code image failed: %s", in->msg);
		return true;
	}
}

static void set_code(struct fn *f, const struct code_job *j)
{
	snprintf(f->code_sha256, sizeof(f->code_sha256), "%s", j->in.sha256);
	snprintf(f->code_image, sizeof(f->code_image), "%s", j->in.image_path);
	f->code_size = j->in.zip_len;
}

/* After a commit: publish if asked, then reply with what was made. */
static void reply_committed(struct lreq *r, struct lambda *l, const struct code_job *j,
			    struct fn *latest, int status)
{
	struct fn *v = latest;
	bool created;
	int ret;

	if (j->publish) {
		ret = store_publish(l->store, latest->name, NULL, &v, &created);
		if (ret < 0) {
			lreq_error(r, LEXC_SERVICE, "publishing failed: %s", strerror(-ret));
			return;
		}
	}
	lreq_reply_json(r, status, shape_config(v, false));
}

static void create_done(struct lambda *l, struct lreq *r, struct code_job *j)
{
	struct fn *f = j->f;
	int ret;

	set_code(f, j);
	ret = store_create(l->store, f);
	if (ret < 0) {
		store_discard_image(l->store, j->name, j->in.image_path);
		if (ret == -EEXIST)
			lreq_error(r, LEXC_RESOURCE_CONFLICT, "Function already exist: %s",
				   j->name);
		else
			lreq_error(r, LEXC_SERVICE, "saving the function failed: %s",
				   strerror(-ret));
		return;
	}
	j->f = NULL; /* the store's now */
	/* Its runtime image copied for the jails now, not by its first start. */
	invoker_prestage(l->inv, f->runtime_image);
	reply_committed(r, l, j, f, 201);
}

static void update_done(struct lambda *l, struct lreq *r, struct code_job *j)
{
	const struct store_func *sf = store_find(l->store, j->name);
	struct fn *f;
	char arn[FN_ARN_MAX + 1];
	int ret;

	if (sf == NULL) { /* cannot happen while busy; be safe */
		store_discard_image(l->store, j->name, j->in.image_path);
		ops_arn(r, j->name, NULL, arn, sizeof(arn));
		lreq_error(r, LEXC_RESOURCE_NOT_FOUND, "Function not found: %s", arn);
		return;
	}
	if (j->has_revision && strcmp(j->revision, sf->latest->revision_id) != 0) {
		store_discard_image(l->store, j->name, j->in.image_path);
		lreq_error(r, LEXC_PRECONDITION_FAILED,
			   "The Revision Id provided does not match the latest Revision Id. Call "
			   "the GetFunction/GetAlias API to retrieve the latest Revision Id");
		return;
	}
	if (j->dry_run) {
		store_discard_image(l->store, j->name, j->in.image_path);
		lreq_reply_json(r, 200, shape_config(sf->latest, false));
		return;
	}
	f = fn_dup(sf->latest);
	if (f == NULL) {
		store_discard_image(l->store, j->name, j->in.image_path);
		lreq_error(r, LEXC_SERVICE, "out of memory");
		return;
	}
	set_code(f, j);
	ret = store_replace_latest(l->store, f);
	if (ret < 0) {
		fn_unref(f);
		store_discard_image(l->store, j->name, j->in.image_path);
		lreq_error(r, LEXC_SERVICE, "saving the function failed: %s", strerror(-ret));
		return;
	}
	invoker_drain(l->inv, f->name, FN_LATEST, f->key);
	reply_committed(r, l, j, f, 200);
}

static void code_done(struct work *w)
{
	struct code_job *j = (struct code_job *)w;
	struct lreq *r = j->r;
	struct lambda *l = j->l;
	bool built = !w->cancelled && !j->failed && j->in.fault == INTAKE_OK;

	if (r == NULL) { /* emberd is stopping: the server (and l) may be gone */
		if (built)
			unlink(j->in.image_path);
		job_free(j);
		return;
	}
	if (!j->create)
		ops_busy_remove(l, j->name);
	r->op = NULL;
	r->cancel = NULL;
	if (w->cancelled)
		lreq_error(r, LEXC_SERVICE, "emberd is stopping");
	else if (j->failed)
		lreq_fail(r, &j->err);
	else if (intake_failed(r, &j->in))
		; /* replied */
	else if (j->create)
		create_done(l, r, j);
	else
		update_done(l, r, j);
	job_free(j);
}

static void submit(struct lreq *r, bool create)
{
	struct lambda *l = ops_lambda(r);
	struct code_job *j = calloc(1, sizeof(*j));
	int ret;

	if (j == NULL) {
		lreq_error(r, LEXC_SERVICE, "out of memory");
		return;
	}
	j->w.run = code_run;
	j->w.done = code_done;
	j->l = l;
	j->r = r;
	j->create = create;
	j->rt = l->rt;
	j->home = l->home;
	j->intake = l->intake;
	j->body = r->body;
	j->body_len = r->body_len;
	if (!create) {
		snprintf(j->name, sizeof(j->name), "%s", r->fn.name);
		if (ops_busy_add(l, j->name) < 0) {
			free(j);
			lreq_error(r, LEXC_SERVICE, "out of memory");
			return;
		}
	}
	ret = work_submit(l->work, &j->w);
	if (ret < 0) {
		if (!create)
			ops_busy_remove(l, j->name);
		free(j);
		lreq_throttle(r, "CallerRateLimitExceeded",
			      "Rate Exceeded. (too many code uploads are being processed)");
		return;
	}
	r->body = NULL; /* the job's now */
	r->op = j;
	r->cancel = code_cancel;
}

void op_create_function(struct lreq *r)
{
	submit(r, true);
}

void op_update_code(struct lreq *r)
{
	if (ops_func(r) == NULL || ops_refuse_if_busy(r, r->fn.name))
		return;
	if (r->fn.qualifier[0] != '\0' && strcmp(r->fn.qualifier, FN_LATEST) != 0) {
		lreq_error(r, LEXC_INVALID_PARAMETER,
			   "Only the $LATEST version of a function can be updated");
		return;
	}
	submit(r, false);
}

void ops_code_location(struct lreq *r, const struct fn *f, char *out, size_t cap)
{
	const char *host = lreq_header(r, "Host");
	char zip[PATH_MAX];

	out[0] = '\0';
	if (codedir_zip_path(f->code_image, zip, sizeof(zip)) < 0 || access(zip, R_OK) < 0)
		return;
	/* The address the client reached emberd at; a Host that is no host[:port]
	 * (or none, from an HTTP/1.0 client) gives localhost. */
	if (host == NULL || host[0] == '\0' || strlen(host) > 255 ||
	    strpbrk(host, "/?#@\\ \t\"'<>") != NULL)
		host = "localhost";
	snprintf(out, cap, "http://%s/ember/functions/%s/code?Qualifier=%s", host, f->name,
		 strcmp(f->version, FN_LATEST) == 0 ? "%24LATEST" : f->version);
}

/* GET /ember/functions/{name}/code[?Qualifier=]: the version's zip, as uploaded. */
void op_get_code(struct lreq *r)
{
	struct fn *f = ops_find(r, NULL, false);
	char zip[PATH_MAX];
	struct stat st;
	int fd;

	if (f == NULL)
		return;
	fd = codedir_zip_path(f->code_image, zip, sizeof(zip)) == 0
		     ? open(zip, O_RDONLY | O_CLOEXEC)
		     : -1;
	if (fd < 0) {
		lreq_error(r, LEXC_RESOURCE_NOT_FOUND,
			   "No zip is kept for %s version %s: its code was uploaded to an emberd "
			   "that kept none",
			   f->name, f->version);
		return;
	}
	if (fstat(fd, &st) < 0) {
		close(fd);
		lreq_error(r, LEXC_SERVICE, "reading the zip: %s", strerror(errno));
		return;
	}
	lreq_reply_file(r, 200, "application/zip", fd, st.st_size);
}
