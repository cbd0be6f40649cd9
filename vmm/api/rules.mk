# vmm/api: Firecracker's control API (issue 6): JSON schemas (cJSON), routes, and the
# HTTP server (libevent's evhttp). ember-vmm links them with cJSON and libevent (VMM_LIBS, vmm/rules.mk).

API_SCHEMA_SRCS := vmm/api/schema.c vmm/api/schema_ops.c vmm/api/schema_config.c
API_SRCS := $(API_SCHEMA_SRCS) vmm/api/routes.c vmm/api/server.c
$(BIN)/ember-vmm: $(API_SRCS:%.c=$(OBJ)/host/%.o)

UNIT_DEPS_test_api_schema := $(API_SCHEMA_SRCS) vmm/config.c
UNIT_LIBS_test_api_schema := -lcjson
FUZZ_DEPS_api_schema := $(API_SCHEMA_SRCS) vmm/config.c
FUZZ_LIBS_api_schema := -lcjson

# The HTTP request path: the real server and routes, no VM.
API_HTTP_SRCS := $(API_SRCS) vmm/control.c vmm/metrics.c vmm/config.c lib/log.c lib/uds.c
FUZZ_DEPS_api_http := $(API_HTTP_SRCS)
FUZZ_LIBS_api_http := -lcjson -levent -lpthread
