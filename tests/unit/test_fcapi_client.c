/* Unit tests for lib/fcapi/client.c, against an evhttp server that parses what it gets with lib/fcapi's own schema parsers. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "lib/fcapi/client.h"
#include "lib/fcapi/schema.h"
#include "lib/util/uds.h"

/* What the server saw, by endpoint. */
struct seen {
	char methods[16][8], paths[16][64];
	unsigned n;
	struct boot_source_config boot;
	struct machine_config machine;
	struct drive_config drives[CONFIG_MAX_DRIVES];
	unsigned ndrives;
	struct vsock_config vsock;
	struct entropy_config entropy;
	enum schema_action action;
	enum schema_vm_state vm;
	struct schema_snapshot_create create;
	struct schema_snapshot_load load;
	bool expect_header;
};

static struct {
	char path[108];
	struct event_base *base;
	struct evhttp *http;
	struct event *stop;
	int stop_pipe[2];
	pthread_t thread;
	struct seen seen;
} srv;

static void reply(struct evhttp_request *req, int status, const char *json)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	if (json != NULL) {
		evbuffer_add(out, json, strlen(json));
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  "application/json");
	}
	evhttp_send_reply(req, status, status < 300 ? "OK" : "Bad Request", json ? out : NULL);
}

static void fault(struct evhttp_request *req, const char *msg)
{
	char json[512];

	snprintf(json, sizeof(json), "{\"fault_message\":\"%s\"}", msg);
	reply(req, 400, json);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *path = evhttp_request_get_uri(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *method = cmd == EVHTTP_REQ_GET     ? "GET"
			     : cmd == EVHTTP_REQ_PUT   ? "PUT"
			     : cmd == EVHTTP_REQ_PATCH ? "PATCH"
						       : "OTHER";
	size_t len = evbuffer_get_length(in);
	char *body = calloc(1, len + 1);
	char err[SCHEMA_ERR_LEN] = "";
	struct seen *s = &srv.seen;
	int ret = 0;

	(void)arg;
	evbuffer_copyout(in, body, len);
	if (s->n < 16) {
		snprintf(s->methods[s->n], sizeof(s->methods[0]), "%s", method);
		snprintf(s->paths[s->n], sizeof(s->paths[0]), "%s", path);
		s->n++;
	}
	if (evhttp_find_header(evhttp_request_get_input_headers(req), "Expect") != NULL)
		s->expect_header = true;
	if (strcmp(path, "/") == 0 && cmd == EVHTTP_REQ_GET) {
		reply(req, 200, "{\"id\":\"t\",\"state\":\"Paused\",\"vmm_version\":\"0\"}");
	} else if (strcmp(path, "/big") == 0) {
		char *big = malloc(FCAPI_REPLY_MAX + 100);

		memset(big, ' ', FCAPI_REPLY_MAX + 99);
		big[0] = '[';
		big[FCAPI_REPLY_MAX + 98] = ']';
		big[FCAPI_REPLY_MAX + 99] = '\0';
		reply(req, 200, big);
		free(big);
	} else if (strcmp(path, "/notjson") == 0) {
		reply(req, 200, "this is not json");
	} else if (strcmp(path, "/plain-error") == 0) {
		reply(req, 500, NULL);
	} else if (strcmp(path, "/slow") == 0) {
		/* Never answered: the client's timeout must end the call. */
	} else {
		if (strcmp(path, "/boot-source") == 0)
			ret = schema_boot_source_put(body, &s->boot, err, sizeof(err));
		else if (strcmp(path, "/machine-config") == 0)
			ret = schema_machine_config_put(body, &s->machine, err, sizeof(err));
		else if (strncmp(path, "/drives/", 8) == 0 && s->ndrives < CONFIG_MAX_DRIVES)
			ret = schema_drive_put(body, path + 8, &s->drives[s->ndrives++], err,
					       sizeof(err));
		else if (strcmp(path, "/vsock") == 0)
			ret = schema_vsock_put(body, &s->vsock, err, sizeof(err));
		else if (strcmp(path, "/entropy") == 0)
			ret = schema_entropy_put(body, &s->entropy, err, sizeof(err));
		else if (strcmp(path, "/actions") == 0)
			ret = schema_actions_put(body, &s->action, err, sizeof(err));
		else if (strcmp(path, "/vm") == 0 && cmd == EVHTTP_REQ_PATCH)
			ret = schema_vm_patch(body, &s->vm, err, sizeof(err));
		else if (strcmp(path, "/snapshot/create") == 0)
			ret = schema_snapshot_create_put(body, &s->create, err, sizeof(err));
		else if (strcmp(path, "/snapshot/load") == 0)
			ret = schema_snapshot_load_put(body, &s->load, err, sizeof(err));
		else
			ret = -ENOENT, snprintf(err, sizeof(err), "no such path");
		if (ret < 0)
			fault(req, err);
		else
			reply(req, 204, NULL);
	}
	free(body);
}

/* libevent here has no thread support: teardown wakes the loop through a pipe. */
static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	event_base_loopbreak(srv.base);
}

static void *serve(void *arg)
{
	(void)arg;
	event_base_dispatch(srv.base);
	return NULL;
}

static int setup(void **state)
{
	int fd = -1;

	(void)state;
	memset(&srv.seen, 0, sizeof(srv.seen));
	snprintf(srv.path, sizeof(srv.path), "/tmp/ember-test-fcapi-%d.sock", (int)getpid());
	unlink(srv.path);
	srv.base = event_base_new();
	srv.http = evhttp_new(srv.base);
	assert_non_null(srv.http);
	assert_int_equal(uds_bind(srv.path, 16, &fd), 0);
	assert_int_equal(evhttp_accept_socket(srv.http, fd), 0);
	evhttp_set_allowed_methods(srv.http, EVHTTP_REQ_GET | EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(srv.http, on_request, NULL);
	assert_int_equal(pipe(srv.stop_pipe), 0);
	srv.stop = event_new(srv.base, srv.stop_pipe[0], EV_READ, on_stop, NULL);
	assert_int_equal(event_add(srv.stop, NULL), 0);
	return pthread_create(&srv.thread, NULL, serve, NULL);
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(write(srv.stop_pipe[1], "x", 1), 1);
	pthread_join(srv.thread, NULL);
	event_free(srv.stop);
	close(srv.stop_pipe[0]);
	close(srv.stop_pipe[1]);
	evhttp_free(srv.http);
	event_base_free(srv.base);
	unlink(srv.path);
	return 0;
}

static struct fcapi_client *client(long timeout_ms)
{
	struct fcapi_client *c = NULL;

	assert_int_equal(fcapi_client_new(srv.path, timeout_ms, &c), 0);
	return c;
}

static void test_configure(void **state)
{
	struct fcapi_client *c = client(5000);
	struct vm_config cfg;
	char err[256] = "";
	struct seen *s = &srv.seen;

	(void)state;
	config_init(&cfg);
	snprintf(cfg.boot_source.kernel_image_path, PATH_MAX, "/k/vmlinux");
	snprintf(cfg.boot_source.initrd_path, PATH_MAX, "/k/initramfs.cpio");
	snprintf(cfg.boot_source.boot_args, CONFIG_CMDLINE_MAX, "console=ttyS0 ember.lambda=1");
	cfg.machine.mem_size_mib = 256;
	assert_int_equal(config_add_drive(&cfg, "/img/python.erofs,ro", err, sizeof(err)), 0);
	assert_int_equal(config_add_drive(&cfg, "/img/code.erofs,ro", err, sizeof(err)), 0);
	assert_int_equal(config_set_vsock(&cfg, "3,vsock.sock", err, sizeof(err)), 0);
	assert_int_equal(fcapi_configure(c, &cfg, err, sizeof(err)), 0);
	assert_int_equal(fcapi_action(c, SCHEMA_ACTION_INSTANCE_START, err, sizeof(err)), 0);
	fcapi_client_free(c);

	assert_int_equal(s->n, 7);
	assert_string_equal(s->paths[0], "/boot-source");
	assert_string_equal(s->paths[1], "/machine-config");
	assert_string_equal(s->paths[2], "/drives/vda");
	assert_string_equal(s->paths[3], "/drives/vdb");
	assert_string_equal(s->paths[4], "/vsock");
	assert_string_equal(s->paths[5], "/entropy");
	assert_string_equal(s->paths[6], "/actions");
	for (unsigned i = 0; i < 7; i++)
		assert_string_equal(s->methods[i], "PUT");
	assert_string_equal(s->boot.kernel_image_path, "/k/vmlinux");
	assert_string_equal(s->boot.initrd_path, "/k/initramfs.cpio");
	assert_string_equal(s->boot.boot_args, "console=ttyS0 ember.lambda=1");
	assert_int_equal(s->machine.mem_size_mib, 256);
	assert_int_equal(s->machine.vcpu_count, 1);
	assert_int_equal(s->ndrives, 2);
	assert_string_equal(s->drives[0].path_on_host, "/img/python.erofs");
	assert_true(s->drives[0].is_read_only);
	assert_false(s->drives[0].is_root_device);
	assert_string_equal(s->drives[1].drive_id, "vdb");
	assert_true(s->vsock.enabled);
	assert_int_equal(s->vsock.guest_cid, 3);
	assert_string_equal(s->vsock.uds_path, "vsock.sock");
	assert_true(s->entropy.enabled);
	assert_int_equal(s->action, SCHEMA_ACTION_INSTANCE_START);
	assert_false(s->expect_header);
}

static void test_snapshot_calls(void **state)
{
	struct fcapi_client *c = client(5000);
	struct schema_snapshot_create cr = { .snapshot_path = "/s/state.tmp",
					     .mem_file_path = "/s/mem.tmp" };
	struct schema_snapshot_load ld = { .snapshot_path = "/s/state",
					   .backend_type = SCHEMA_MEM_BACKEND_FILE,
					   .backend_path = "/s/mem",
					   .resume_vm = true };
	char err[256] = "", st[32] = "";
	struct seen *s = &srv.seen;

	(void)state;
	assert_int_equal(fcapi_vm_state(c, SCHEMA_VM_PAUSED, err, sizeof(err)), 0);
	assert_int_equal(s->vm, SCHEMA_VM_PAUSED);
	assert_int_equal(fcapi_snapshot_create(c, &cr, err, sizeof(err)), 0);
	assert_string_equal(s->create.snapshot_path, "/s/state.tmp");
	assert_string_equal(s->create.mem_file_path, "/s/mem.tmp");
	assert_int_equal(s->create.snapshot_type, SCHEMA_SNAPSHOT_FULL);
	assert_int_equal(fcapi_vm_state(c, SCHEMA_VM_RESUMED, err, sizeof(err)), 0);
	assert_int_equal(s->vm, SCHEMA_VM_RESUMED);
	assert_int_equal(fcapi_snapshot_load(c, &ld, err, sizeof(err)), 0);
	assert_string_equal(s->load.snapshot_path, "/s/state");
	assert_string_equal(s->load.backend_path, "/s/mem");
	assert_int_equal(s->load.backend_type, SCHEMA_MEM_BACKEND_FILE);
	assert_true(s->load.resume_vm);
	assert_false(s->load.overrides.vsock);
	assert_int_equal(s->load.overrides.ndrives, 0);
	/* The overrides reach the server: the paths a state file may not choose. */
	ld.overrides.vsock = true;
	snprintf(ld.overrides.vsock_uds_path, sizeof(ld.overrides.vsock_uds_path), "v.sock");
	ld.overrides.ndrives = 2;
	snprintf(ld.overrides.drives[0].drive_id, CONFIG_DRIVE_ID_LEN, "runtime");
	snprintf(ld.overrides.drives[0].path_on_host, PATH_MAX, "/runtime.img");
	snprintf(ld.overrides.drives[1].drive_id, CONFIG_DRIVE_ID_LEN, "code");
	snprintf(ld.overrides.drives[1].path_on_host, PATH_MAX, "/code.img");
	assert_int_equal(fcapi_snapshot_load(c, &ld, err, sizeof(err)), 0);
	assert_true(s->load.overrides.vsock);
	assert_string_equal(s->load.overrides.vsock_uds_path, "v.sock");
	assert_int_equal(s->load.overrides.ndrives, 2);
	assert_string_equal(s->load.overrides.drives[0].drive_id, "runtime");
	assert_string_equal(s->load.overrides.drives[0].path_on_host, "/runtime.img");
	assert_string_equal(s->load.overrides.drives[1].drive_id, "code");
	assert_string_equal(s->load.overrides.drives[1].path_on_host, "/code.img");
	assert_int_equal(fcapi_get_state(c, st, sizeof(st), err, sizeof(err)), 0);
	assert_string_equal(st, "Paused");
	assert_string_equal(s->methods[0], "PATCH");
	assert_string_equal(s->methods[5], "GET");
	fcapi_client_free(c);
}

static void test_errors(void **state)
{
	struct fcapi_client *c = client(300);
	cJSON *bad = cJSON_Parse("{\"vcpu_count\": 2}");
	cJSON *reply = (cJSON *)1;
	char err[256] = "";

	(void)state;
	/* The server's fault_message comes back as the error text. */
	assert_int_equal(fcapi_call(c, "PUT", "/machine-config", bad, &reply, err, sizeof(err)),
			 -EREMOTEIO);
	assert_null(reply);
	assert_non_null(strstr(err, "mem_size_mib"));
	assert_int_equal(fcapi_call(c, "PUT", "/nowhere", bad, NULL, err, sizeof(err)), -EREMOTEIO);
	assert_string_equal(err, "no such path");
	assert_int_equal(fcapi_call(c, "GET", "/plain-error", NULL, NULL, err, sizeof(err)),
			 -EREMOTEIO);
	assert_string_equal(err, "HTTP 500");
	assert_int_equal(fcapi_call(c, "GET", "/big", NULL, NULL, err, sizeof(err)), -EMSGSIZE);
	assert_int_equal(fcapi_call(c, "GET", "/notjson", NULL, NULL, err, sizeof(err)), -EBADMSG);
	assert_int_equal(fcapi_call(c, "GET", "/slow", NULL, NULL, err, sizeof(err)), -ETIMEDOUT);
	/* The handle still works after all that. */
	assert_int_equal(fcapi_call(c, "GET", "/", NULL, &reply, err, sizeof(err)), 0);
	assert_non_null(reply);
	cJSON_Delete(reply);
	cJSON_Delete(bad);
	fcapi_client_free(c);
}

static void test_no_server(void **state)
{
	struct fcapi_client *c = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(fcapi_client_new("/nonexistent/ember/api.sock", 1000, &c), 0);
	assert_int_equal(fcapi_vm_state(c, SCHEMA_VM_PAUSED, err, sizeof(err)), -ECONNREFUSED);
	assert_true(strlen(err) > 0);
	fcapi_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_configure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test(test_no_server),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
