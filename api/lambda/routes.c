/* routes: the route table and its matcher (see routes.h). */
#include "api/lambda/routes.h"

#include <string.h>

#include "api/invoke/invoke.h"
#include "api/lambda/ops.h"

#define GET    EVHTTP_REQ_GET
#define POST   EVHTTP_REQ_POST
#define PUT    EVHTTP_REQ_PUT
#define DELETE EVHTTP_REQ_DELETE
#define SMALL  ROUTE_SMALL_BODY_MAX
#define CODE   ROUTE_CODE_BODY_MAX

static const struct route table[] = {
	{ POST, "/2015-03-31/functions", "CreateFunction", CODE, op_create_function },
	{ GET, "/2015-03-31/functions", "ListFunctions", SMALL, op_list_functions },
	{ GET, "/2015-03-31/functions/{name}", "GetFunction", SMALL, op_get_function },
	{ DELETE, "/2015-03-31/functions/{name}", "DeleteFunction", SMALL, op_delete_function },
	{ GET, "/2015-03-31/functions/{name}/configuration", "GetFunctionConfiguration", SMALL,
	  op_get_configuration },
	{ PUT, "/2015-03-31/functions/{name}/configuration", "UpdateFunctionConfiguration", SMALL,
	  op_update_configuration },
	{ PUT, "/2015-03-31/functions/{name}/code", "UpdateFunctionCode", CODE, op_update_code },
	{ POST, "/2015-03-31/functions/{name}/invocations", "InvokeFunction", INVOKE_PAYLOAD_MAX,
	  op_invoke },
	{ POST, "/2015-03-31/functions/{name}/versions", "PublishVersion", SMALL,
	  op_publish_version },
	{ GET, "/2015-03-31/functions/{name}/versions", "ListVersionsByFunction", SMALL,
	  op_list_versions },
	{ PUT, "/2017-10-31/functions/{name}/concurrency", "PutFunctionConcurrency", SMALL,
	  op_put_concurrency },
	{ GET, "/2019-09-30/functions/{name}/concurrency", "GetFunctionConcurrency", SMALL,
	  op_get_concurrency },
	{ DELETE, "/2017-10-31/functions/{name}/concurrency", "DeleteFunctionConcurrency", SMALL,
	  op_delete_concurrency },
	{ PUT, "/2019-09-25/functions/{name}/event-invoke-config", "PutFunctionEventInvokeConfig",
	  SMALL, op_put_event_config },
	{ POST, "/2019-09-25/functions/{name}/event-invoke-config",
	  "UpdateFunctionEventInvokeConfig", SMALL, op_update_event_config },
	{ GET, "/2019-09-25/functions/{name}/event-invoke-config", "GetFunctionEventInvokeConfig",
	  SMALL, op_get_event_config },
	{ DELETE, "/2019-09-25/functions/{name}/event-invoke-config",
	  "DeleteFunctionEventInvokeConfig", SMALL, op_delete_event_config },
	{ GET, "/2016-08-19/account-settings", "GetAccountSettings", SMALL, op_account_settings },
	{ GET, "/ember/status", "EmberStatus", SMALL, op_ember_status },
	{ GET, "/ember/functions/{name}/logs", "EmberLogs", SMALL, op_ember_logs },
	{ GET, "/ember/functions/{name}/code", "EmberGetCode", SMALL, op_get_code },
	{ DELETE, "/ember/functions/{name}/instances", "EmberStopIdle", SMALL, op_ember_stop_idle },
	{ GET, "/ember/functions/{name}/failed", "EmberFailed", SMALL, op_ember_failed },
	{ POST, "/ember/functions/{name}/replay", "EmberReplay", SMALL, op_ember_replay },
	{ GET, "/metrics", "Metrics", SMALL, op_metrics },
};

/* Does path match pattern? Captures the {name} segment. */
static bool match(const char *pattern, const char *path, const char **seg, size_t *seg_len)
{
	const char *p = pattern, *s = path;

	for (;;) {
		size_t plen, slen;

		if (*p == '/')
			p++;
		if (*s == '/')
			s++;
		if (*p == '\0')
			return *s == '\0'; /* a trailing '/' was skipped above */
		if (*s == '\0')
			return false;
		plen = strcspn(p, "/");
		slen = strcspn(s, "/");
		if (plen == 6 && strncmp(p, "{name}", 6) == 0) {
			if (slen == 0)
				return false;
			*seg = s;
			*seg_len = slen;
		} else if (plen != slen || strncmp(p, s, plen) != 0) {
			return false;
		}
		p += plen;
		s += slen;
	}
}

const struct route *routes_match(enum evhttp_cmd_type method, const char *path, const char **seg,
				 size_t *seg_len, bool *path_known)
{
	*path_known = false;
	*seg = NULL;
	*seg_len = 0;
	if (path == NULL || path[0] != '/')
		return NULL;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (!match(table[i].pattern, path, seg, seg_len))
			continue;
		if (table[i].method == method)
			return &table[i];
		*path_known = true;
	}
	*seg = NULL;
	*seg_len = 0;
	return NULL;
}

size_t routes_body_max(void)
{
	size_t max = 0;

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (table[i].body_max > max)
			max = table[i].body_max;
	}
	return max;
}
