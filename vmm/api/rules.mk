# vmm/api: the Control API (issue 6). For now only the JSON schema layer, not linked into
# ember-vmm yet; the unit test and the fuzz harness link it with libcjson.

API_SCHEMA_SRCS := vmm/api/schema.c vmm/api/schema_ops.c vmm/api/schema_config.c

UNIT_DEPS_test_api_schema := $(API_SCHEMA_SRCS) vmm/config.c
UNIT_LIBS_test_api_schema := -lcjson
FUZZ_DEPS_api_schema := $(API_SCHEMA_SRCS) vmm/config.c
FUZZ_LIBS_api_schema := -lcjson
