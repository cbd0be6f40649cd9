/* client: Firecracker API calls over a Unix socket with libcurl, errors as the VMM's fault_message (see client.h). */
#include "lib/fcapi/client.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

struct fcapi_client {
	CURL *curl;
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	/* The response body of the call in progress. */
	char *body;
	size_t len;
	bool overflow;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_NOTHING);
}

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct fcapi_client *c = arg;
	size_t add = size * n;
	char *p;

	if (c->len + add > FCAPI_REPLY_MAX) {
		c->overflow = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	p = realloc(c->body, c->len + add + 1);
	if (p == NULL)
		return 0;
	memcpy(p + c->len, data, add);
	c->len += add;
	p[c->len] = '\0';
	c->body = p;
	return add;
}

int fcapi_client_new(const char *sock_path, long timeout_ms, struct fcapi_client **out)
{
	struct fcapi_client *c;

	pthread_once(&curl_once, curl_init);
	if (curl_init_result != CURLE_OK)
		return -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->curl = curl_easy_init();
	c->headers = curl_slist_append(NULL, "Content-Type: application/json");
	/* No "Expect: 100-continue" round trip before a larger body. */
	if (c->headers != NULL && curl_slist_append(c->headers, "Expect:") == NULL)
		goto err_free;
	if (c->curl == NULL || c->headers == NULL)
		goto err_free;
	/* Every option that never changes between calls. */
	if (curl_easy_setopt(c->curl, CURLOPT_UNIX_SOCKET_PATH, sock_path) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http") != CURLE_OK)
		goto err_free;
	*out = c;
	return 0;

err_free:
	fcapi_client_free(c);
	return -ENOMEM;
}

void fcapi_client_free(struct fcapi_client *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->headers);
	free(c->body);
	free(c);
}

static int transport_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* The fault_message of an error body, else the raw body, else the status. */
static int api_error(long status, const cJSON *reply, const char *raw, char *err, size_t errlen)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(reply, "fault_message");

	if (cJSON_IsString(m))
		return fail(err, errlen, -EREMOTEIO, "%s", m->valuestring);
	if (raw != NULL && raw[0] != '\0')
		return fail(err, errlen, -EREMOTEIO, "HTTP %ld: %.200s", status, raw);
	return fail(err, errlen, -EREMOTEIO, "HTTP %ld", status);
}

int fcapi_call(struct fcapi_client *c, const char *method, const char *path, const cJSON *body,
	       cJSON **reply, char *err, size_t errlen)
{
	char url[512];
	char *text = NULL;
	cJSON *parsed = NULL;
	long status = 0;
	CURLcode rc;
	int ret;

	if (reply != NULL)
		*reply = NULL;
	if (snprintf(url, sizeof(url), "http://localhost%s", path) >= (int)sizeof(url))
		return fail(err, errlen, -ENAMETOOLONG, "%s: path too long", path);
	if (body != NULL) {
		text = cJSON_PrintUnformatted(body);
		if (text == NULL)
			return fail(err, errlen, -ENOMEM, "out of memory");
	}
	free(c->body);
	c->body = NULL;
	c->len = 0;
	c->overflow = false;
	c->errbuf[0] = '\0';
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	if (text != NULL) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
	} else {
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
	}
	/* After the two above, which set POST or GET: the method itself. */
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	rc = curl_easy_perform(c->curl);
	free(text);
	if (rc != CURLE_OK) {
		if (c->overflow)
			return fail(err, errlen, -EMSGSIZE, "%s %s: response over %u bytes", method,
				    path, FCAPI_REPLY_MAX);
		ret = transport_error(rc);
		return fail(err, errlen, ret, "%s %s: %s", method, path,
			    c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (c->len > 0) {
		parsed = cJSON_ParseWithLength(c->body, c->len);
		if (parsed == NULL && status >= 200 && status < 300)
			return fail(err, errlen, -EBADMSG, "%s %s: the response is not JSON",
				    method, path);
	}
	if (status < 200 || status >= 300) {
		ret = api_error(status, parsed, c->body, err, errlen);
		cJSON_Delete(parsed);
		return ret;
	}
	if (reply != NULL)
		*reply = parsed;
	else
		cJSON_Delete(parsed);
	return 0;
}

/* PUT path with the section `key` of a GET /vm/config document. */
static int put_section(struct fcapi_client *c, const char *path, const cJSON *section, char *err,
		       size_t errlen)
{
	if (section == NULL || cJSON_IsNull(section))
		return 0;
	return fcapi_call(c, "PUT", path, section, NULL, err, errlen);
}

int fcapi_configure(struct fcapi_client *c, const struct vm_config *cfg, char *err, size_t errlen)
{
	char *text = schema_vm_config_to_json(cfg);
	cJSON *doc = text != NULL ? cJSON_Parse(text) : NULL;
	const cJSON *d;
	int ret;

	free(text);
	if (doc == NULL)
		return fail(err, errlen, -ENOMEM, "out of memory");
	ret = put_section(c, "/boot-source", cJSON_GetObjectItem(doc, "boot-source"), err, errlen);
	if (ret == 0)
		ret = put_section(c, "/machine-config", cJSON_GetObjectItem(doc, "machine-config"),
				  err, errlen);
	cJSON_ArrayForEach(d, cJSON_GetObjectItem(doc, "drives"))
	{
		const cJSON *id = cJSON_GetObjectItem(d, "drive_id");
		char path[64];

		if (ret < 0)
			break;
		snprintf(path, sizeof(path), "/drives/%s", cJSON_GetStringValue(id));
		ret = put_section(c, path, d, err, errlen);
	}
	if (ret == 0)
		ret = put_section(c, "/vsock", cJSON_GetObjectItem(doc, "vsock"), err, errlen);
	if (ret == 0)
		ret = put_section(c, "/entropy", cJSON_GetObjectItem(doc, "entropy"), err, errlen);
	cJSON_Delete(doc);
	return ret;
}

/* Sends {key: value} (a string) with method to path. */
static int call_str(struct fcapi_client *c, const char *method, const char *path, const char *key,
		    const char *value, char *err, size_t errlen)
{
	cJSON *o = cJSON_CreateObject();
	int ret;

	if (o == NULL || cJSON_AddStringToObject(o, key, value) == NULL) {
		cJSON_Delete(o);
		return fail(err, errlen, -ENOMEM, "out of memory");
	}
	ret = fcapi_call(c, method, path, o, NULL, err, errlen);
	cJSON_Delete(o);
	return ret;
}

int fcapi_action(struct fcapi_client *c, enum schema_action action, char *err, size_t errlen)
{
	static const char *const names[] = {
		[SCHEMA_ACTION_INSTANCE_START] = "InstanceStart",
		[SCHEMA_ACTION_SEND_CTRL_ALT_DEL] = "SendCtrlAltDel",
		[SCHEMA_ACTION_FLUSH_METRICS] = "FlushMetrics",
	};

	if ((unsigned)action >= sizeof(names) / sizeof(names[0]))
		return fail(err, errlen, -EINVAL, "unknown action %d", (int)action);
	return call_str(c, "PUT", "/actions", "action_type", names[action], err, errlen);
}

int fcapi_vm_state(struct fcapi_client *c, enum schema_vm_state state, char *err, size_t errlen)
{
	return call_str(c, "PATCH", "/vm", "state",
			state == SCHEMA_VM_PAUSED ? "Paused" : "Resumed", err, errlen);
}

int fcapi_snapshot_create(struct fcapi_client *c, const struct schema_snapshot_create *req,
			  char *err, size_t errlen)
{
	cJSON *o = cJSON_CreateObject();
	int ret;

	if (o == NULL || cJSON_AddStringToObject(o, "snapshot_path", req->snapshot_path) == NULL ||
	    cJSON_AddStringToObject(o, "mem_file_path", req->mem_file_path) == NULL ||
	    cJSON_AddStringToObject(o, "snapshot_type",
				    req->snapshot_type == SCHEMA_SNAPSHOT_DIFF ? "Diff" : "Full") ==
		    NULL) {
		cJSON_Delete(o);
		return fail(err, errlen, -ENOMEM, "out of memory");
	}
	ret = fcapi_call(c, "PUT", "/snapshot/create", o, NULL, err, errlen);
	cJSON_Delete(o);
	return ret;
}

/* vsock_override {uds_path} and drive_overrides [{drive_id, path_on_host}],
 * when the request has them. */
static int add_load_overrides(cJSON *o, const struct schema_load_overrides *ov)
{
	cJSON *v, *drives;

	if (ov->vsock) {
		v = cJSON_AddObjectToObject(o, "vsock_override");
		if (v == NULL || cJSON_AddStringToObject(v, "uds_path", ov->vsock_uds_path) == NULL)
			return -ENOMEM;
	}
	if (ov->ndrives == 0)
		return 0;
	drives = cJSON_AddArrayToObject(o, "drive_overrides");
	if (drives == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < ov->ndrives; i++) {
		cJSON *d = cJSON_CreateObject();

		if (d == NULL || !cJSON_AddItemToArray(drives, d) ||
		    cJSON_AddStringToObject(d, "drive_id", ov->drives[i].drive_id) == NULL ||
		    cJSON_AddStringToObject(d, "path_on_host", ov->drives[i].path_on_host) == NULL)
			return -ENOMEM;
	}
	return 0;
}

int fcapi_snapshot_load(struct fcapi_client *c, const struct schema_snapshot_load *req, char *err,
			size_t errlen)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *b = cJSON_AddObjectToObject(o, "mem_backend");
	int ret;

	if (o == NULL || b == NULL ||
	    cJSON_AddStringToObject(o, "snapshot_path", req->snapshot_path) == NULL ||
	    cJSON_AddStringToObject(
		    b, "backend_type",
		    req->backend_type == SCHEMA_MEM_BACKEND_UFFD ? "Uffd" : "File") == NULL ||
	    cJSON_AddStringToObject(b, "backend_path", req->backend_path) == NULL ||
	    (req->enable_diff_snapshots &&
	     cJSON_AddBoolToObject(o, "enable_diff_snapshots", true) == NULL) ||
	    cJSON_AddBoolToObject(o, "resume_vm", req->resume_vm) == NULL) {
		cJSON_Delete(o);
		return fail(err, errlen, -ENOMEM, "out of memory");
	}
	if (add_load_overrides(o, &req->overrides) < 0) {
		cJSON_Delete(o);
		return fail(err, errlen, -ENOMEM, "out of memory");
	}
	ret = fcapi_call(c, "PUT", "/snapshot/load", o, NULL, err, errlen);
	cJSON_Delete(o);
	return ret;
}

int fcapi_get_state(struct fcapi_client *c, char *state, size_t cap, char *err, size_t errlen)
{
	cJSON *reply = NULL;
	const char *s;
	int ret = fcapi_call(c, "GET", "/", NULL, &reply, err, errlen);

	if (ret < 0)
		return ret;
	s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(reply, "state"));
	if (s == NULL)
		ret = fail(err, errlen, -EBADMSG, "GET /: no \"state\" in the answer");
	else if (snprintf(state, cap, "%s", s) >= (int)cap)
		ret = fail(err, errlen, -E2BIG, "GET /: state too long");
	cJSON_Delete(reply);
	return ret;
}
