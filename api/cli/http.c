/* http: libcurl requests to emberd for the ember CLI (see http.h). */
#include "api/cli/http.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#define CONNECT_TIMEOUT_S 10

int cli_conn_init(struct cli_conn *c, const char *endpoint, const char *home)
{
	memset(c, 0, sizeof(*c));
	if (endpoint == NULL || endpoint[0] == '\0')
		endpoint = getenv("EMBER_ENDPOINT");
	if (endpoint != NULL && endpoint[0] != '\0') {
		size_t n = strlen(endpoint);

		if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0) {
			fprintf(stderr, "ember: --endpoint %s: expected http://HOST:PORT\n",
				endpoint);
			return -EINVAL;
		}
		while (n > 0 && endpoint[n - 1] == '/')
			n--;
		if (n >= sizeof(c->endpoint)) {
			fprintf(stderr, "ember: --endpoint: too long\n");
			return -EINVAL;
		}
		memcpy(c->endpoint, endpoint, n);
		return 0;
	}
	if (home == NULL || home[0] == '\0')
		home = getenv("EMBER_HOME");
	if (home == NULL || home[0] == '\0')
		home = CLI_DEFAULT_HOME;
	if (snprintf(c->socket, sizeof(c->socket), "%s/ember.sock", home) >=
	    (int)sizeof(c->socket)) {
		fprintf(stderr, "ember: --home %s: too long\n", home);
		return -EINVAL;
	}
	return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct cli_resp *r = arg;
	size_t len = size * n;
	char *grown;

	if (r->len + len > CLI_BODY_MAX)
		return 0; /* curl fails the transfer */
	grown = realloc(r->body, r->len + len + 1);
	if (grown == NULL)
		return 0;
	r->body = grown;
	memcpy(r->body + r->len, p, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

/* Copies a header's value if its name is `name`. */
static void header_value(const char *line, size_t len, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name), vl;

	if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	line += nl + 1;
	len -= nl + 1;
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)line[len - 1]))
		len--;
	vl = len < cap - 1 ? len : cap - 1;
	memcpy(out, line, vl);
	out[vl] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct cli_resp *r = arg;
	size_t len = size * n;

	header_value(p, len, "x-amzn-ErrorType", r->error_type, sizeof(r->error_type));
	header_value(p, len, "X-Amz-Function-Error", r->function_error, sizeof(r->function_error));
	header_value(p, len, "X-Amz-Log-Result", r->log_result, sizeof(r->log_result));
	header_value(p, len, "X-Amz-Executed-Version", r->executed_version,
		     sizeof(r->executed_version));
	header_value(p, len, "X-Ember-Log-Offset", r->log_offset, sizeof(r->log_offset));
	header_value(p, len, "X-Ember-Log-Inode", r->log_inode, sizeof(r->log_inode));
	header_value(p, len, "X-Ember-Start-Phases", r->start_phases, sizeof(r->start_phases));
	return len;
}

int cli_request(const struct cli_conn *c, const char *method, const char *path, const char *body,
		size_t body_len, const char *const *headers, struct cli_resp *out)
{
	char url[2048];
	struct curl_slist *hl = NULL;
	CURL *curl;
	CURLcode rc;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (snprintf(url, sizeof(url), "%s%s", c->endpoint[0] ? c->endpoint : "http://localhost",
		     path) >= (int)sizeof(url)) {
		fprintf(stderr, "ember: the request path is too long\n");
		return -EINVAL;
	}
	curl = curl_easy_init();
	if (curl == NULL)
		return -ENOMEM;
	if (c->endpoint[0] == '\0')
		curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, c->socket);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, out);
	if (body != NULL) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
		hl = curl_slist_append(hl, "Content-Type: application/json");
	}
	/* Large uploads: no "Expect: 100-continue" round trip. */
	hl = curl_slist_append(hl, "Expect:");
	for (unsigned i = 0; headers != NULL && headers[i] != NULL; i++)
		hl = curl_slist_append(hl, headers[i]);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hl);
	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		fprintf(stderr, "ember: cannot reach emberd at %s: %s\n",
			c->endpoint[0] ? c->endpoint : c->socket, curl_easy_strerror(rc));
		ret = -EIO;
		cli_resp_free(out);
	} else {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
		if (out->body == NULL) {
			out->body = calloc(1, 1);
			if (out->body == NULL)
				ret = -ENOMEM;
		}
	}
	curl_slist_free_all(hl);
	curl_easy_cleanup(curl);
	return ret;
}

void cli_resp_free(struct cli_resp *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

char *cli_escape(const char *segment)
{
	CURL *curl = curl_easy_init();
	char *e, *copy = NULL;

	if (curl == NULL)
		return NULL;
	e = curl_easy_escape(curl, segment, 0);
	if (e != NULL)
		copy = strdup(e);
	curl_free(e);
	curl_easy_cleanup(curl);
	return copy;
}

int cli_api_error(const struct cli_resp *r)
{
	cJSON *j = cJSON_ParseWithLength(r->body, r->len);
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");

	if (!cJSON_IsString(m))
		m = cJSON_GetObjectItemCaseSensitive(j, "Message");
	fprintf(stderr, "ember: %s: %s\n", r->error_type[0] ? r->error_type : "error",
		cJSON_IsString(m) ? m->valuestring : (r->len > 0 ? r->body : "(no message)"));
	if (r->error_type[0] == '\0')
		fprintf(stderr, "ember: (HTTP status %ld)\n", r->status);
	cJSON_Delete(j);
	return 1;
}
