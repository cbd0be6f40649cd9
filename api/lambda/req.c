/* req: request context and the one place replies and errors are sent (see req.h). */
#include "api/lambda/req.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "lib/util/log.h"

int lreq_new(struct lreq_list *list, void *ctx, struct evhttp_request *req, struct lreq **out)
{
	struct lreq *r = calloc(1, sizeof(*r));
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *q = uri != NULL ? evhttp_uri_get_query(uri) : NULL;

	if (r == NULL)
		return -ENOMEM;
	TAILQ_INIT(&r->query);
	if (uuid_v4(r->id) < 0) {
		free(r);
		return -EIO;
	}
	/* A malformed query is answered by the dispatcher, in Lambda's shape. */
	if (q != NULL && evhttp_parse_query_str(q, &r->query) < 0) {
		evhttp_clear_headers(&r->query);
		r->bad_query = true;
	}
	r->ctx = ctx;
	r->req = req;
	r->list = list;
	r->next = list->head;
	if (list->head != NULL)
		list->head->prev = r;
	list->head = r;
	*out = r;
	return 0;
}

static void lreq_free(struct lreq *r)
{
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		r->list->head = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	evhttp_clear_headers(&r->query);
	free(r->body);
	free(r);
}

void lreq_release(struct lreq *r)
{
	if (r->cancel != NULL)
		r->cancel(r);
	lreq_free(r);
}

void lreq_release_all(struct lreq_list *list)
{
	while (list->head != NULL)
		lreq_release(list->head);
}

const char *lreq_query(struct lreq *r, const char *key)
{
	return evhttp_find_header(&r->query, key);
}

const char *lreq_header(struct lreq *r, const char *key)
{
	return evhttp_find_header(evhttp_request_get_input_headers(r->req), key);
}

void lreq_add_header(struct lreq *r, const char *key, const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(r->req), key, value);
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 409:
		return "Conflict";
	case 412:
		return "Precondition Failed";
	case 413:
		return "Request Entity Too Large";
	case 429:
		return "Too Many Requests";
	default:
		return status >= 500 ? "Internal Server Error" : "Error";
	}
}

void lreq_reply_raw(struct lreq *r, int status, const char *content_type, const void *body,
		    size_t len)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(r->req);

	lreq_add_header(r, "x-amzn-RequestId", r->id);
	if (content_type != NULL)
		lreq_add_header(r, "Content-Type", content_type);
	if (len > 0 && evbuffer_add(out, body, len) < 0) {
		log_err("request %s: out of memory for the reply", r->id);
		evbuffer_drain(out, evbuffer_get_length(out));
		status = 500;
	}
	log_debug("%s %s -> %d (%s)", r->method != NULL ? r->method : "?",
		  evhttp_request_get_uri(r->req), status, r->id);
	evhttp_send_reply(r->req, status, reason(status), out);
	lreq_free(r);
}

void lreq_reply_file(struct lreq *r, int status, const char *content_type, int fd, off_t len)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(r->req);

	lreq_add_header(r, "x-amzn-RequestId", r->id);
	lreq_add_header(r, "Content-Type", content_type);
	/* libevent sends it with sendfile (or maps it) and closes fd when done. */
	if (len > 0 && evbuffer_add_file(out, fd, 0, len) < 0) {
		log_err("request %s: cannot send the file", r->id);
		close(fd);
		status = 500;
	} else if (len == 0) {
		close(fd);
	}
	log_debug("%s %s -> %d (%s)", r->method != NULL ? r->method : "?",
		  evhttp_request_get_uri(r->req), status, r->id);
	evhttp_send_reply(r->req, status, reason(status), out);
	lreq_free(r);
}

void lreq_reply_empty(struct lreq *r, int status)
{
	lreq_reply_raw(r, status, NULL, NULL, 0);
}

void lreq_reply_json(struct lreq *r, int status, cJSON *json)
{
	char *text = json != NULL ? cJSON_PrintUnformatted(json) : NULL;

	cJSON_Delete(json);
	if (text == NULL) {
		lreq_error(r, LEXC_SERVICE, "out of memory");
		return;
	}
	lreq_reply_raw(r, status, "application/json", text, strlen(text));
	free(text);
}

static void send_error(struct lreq *r, enum lexc e, const char *reason_field, const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	char *text = NULL;

	if (lexc_is_service(e))
		log_warn("%s %s: %s: %s", r->method != NULL ? r->method : "?",
			 evhttp_request_get_uri(r->req), lexc_name(e), msg);
	if (o != NULL &&
	    cJSON_AddStringToObject(o, "Type", lexc_is_service(e) ? "Service" : "User") &&
	    cJSON_AddStringToObject(o, lexc_capital_message(e) ? "Message" : "message", msg) &&
	    (reason_field == NULL || cJSON_AddStringToObject(o, "Reason", reason_field)))
		text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	lreq_add_header(r, "x-amzn-ErrorType", lexc_name(e));
	if (text == NULL) {
		static const char oom[] = "{\"Type\":\"Service\",\"Message\":\"out of memory\"}";

		lreq_reply_raw(r, 500, "application/json", oom, sizeof(oom) - 1);
		return;
	}
	lreq_reply_raw(r, lexc_status(e), "application/json", text, strlen(text));
	free(text);
}

void lreq_error(struct lreq *r, enum lexc e, const char *fmt, ...)
{
	char msg[LERROR_MSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	send_error(r, e, NULL, msg);
}

void lreq_fail(struct lreq *r, const struct lerror *err)
{
	send_error(r, err->exc, NULL, err->msg);
}

void lreq_throttle(struct lreq *r, const char *reason_field, const char *msg)
{
	send_error(r, LEXC_TOO_MANY_REQUESTS, reason_field, msg);
}
