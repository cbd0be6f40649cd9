/* Unit tests for vmm/snapshot/uffd.c: the region JSON, no handler, and one fault served through the sent userfaultfd. */
#include <errno.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/skip.h"
#include "vmm/core/gmem_priv.h"
#include "vmm/core/gmem_uffd.h"

#define MIB	  (1ull << 20)
#define GIB	  (1ull << 30)
#define GAP_START (3 * GIB)
#define GAP_END	  (4 * GIB)

/* gmem_uffd_send() failed for want of userfaultfd itself: skip, or fail in CI. */
static __attribute__((noreturn)) void no_userfaultfd(int ret)
{
	if (ret == -ENOSYS)
		test_skip_tool("userfaultfd(2) is ENOSYS: valgrind does not emulate it, or the "
			       "kernel lacks CONFIG_USERFAULTFD");
	test_skip_or_fail("userfaultfd(2) is refused (EPERM): vm.unprivileged_userfaultfd=0 "
			  "and this process lacks CAP_SYS_PTRACE");
}

static void sock_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "/tmp/ember-test-uffd-%d-%s.sock", (int)getpid(), name);
	unlink(buf);
}

static void test_json_has_firecrackers_fields_and_file_offsets(void **state)
{
	char json[1024], want[1024];
	struct gmem *gm;

	(void)state;
	assert_int_equal(gmem_create(3 * GIB + 512 * MIB, GAP_START, GAP_END, &gm), 0);
	assert_int_equal(gm->nregions, 2);
	snprintf(want, sizeof(want),
		 "[{\"base_host_virt_addr\": %llu, \"size\": %llu, \"offset\": 0, \"page_size\": "
		 "4096}, {\"base_host_virt_addr\": %llu, \"size\": %llu, \"offset\": %llu, "
		 "\"page_size\": 4096}]",
		 (unsigned long long)(uintptr_t)gm->regions[0].host, 3 * GIB,
		 (unsigned long long)(uintptr_t)gm->regions[1].host, 512 * MIB, 3 * GIB);
	assert_int_equal(gmem_uffd_regions_json(gm, json, sizeof(json)), (int)strlen(want));
	assert_string_equal(json, want);
	assert_int_equal(gmem_uffd_regions_json(gm, json, 40), -ENOSPC);
	gmem_destroy(gm);
}

static void test_no_handler_listening(void **state)
{
	char path[108];
	struct gmem *gm;
	int uffd = -1, ret;

	(void)state;
	sock_path(path, sizeof(path), "nobody");
	assert_int_equal(gmem_create(2 * MIB, GAP_START, GAP_END, &gm), 0);
	ret = gmem_uffd_send(gm, path, &uffd);
	if (ret == -ENOSYS || ret == -EPERM) {
		gmem_destroy(gm);
		no_userfaultfd(ret);
	}
	assert_int_equal(ret, -ENOENT);
	assert_int_equal(uffd, -1);
	gmem_destroy(gm);
}

struct fault_server {
	int uffd;
	const uint8_t *page; /* what every fault gets */
	int ret;
};

/* The handler's job, in miniature: one fault, one UFFDIO_COPY. */
static void *serve_one(void *opaque)
{
	struct fault_server *s = opaque;
	struct uffd_msg msg;
	fd_set rd;

	FD_ZERO(&rd);
	FD_SET(s->uffd, &rd);
	s->ret = -1;
	if (select(s->uffd + 1, &rd, NULL, NULL, NULL) == 1 &&
	    read(s->uffd, &msg, sizeof(msg)) == sizeof(msg) && msg.event == UFFD_EVENT_PAGEFAULT) {
		struct uffdio_copy c = {
			.dst = msg.arg.pagefault.address & ~(GMEM_PAGE_SIZE - 1),
			.src = (uintptr_t)s->page,
			.len = GMEM_PAGE_SIZE,
		};

		s->ret = ioctl(s->uffd, UFFDIO_COPY, &c);
	}
	return NULL;
}

static void test_handler_gets_regions_and_serves_a_fault(void **state)
{
	static uint8_t page[GMEM_PAGE_SIZE];
	char path[108], json[512], want[512];
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = json, .iov_len = sizeof(json) - 1 };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct fault_server srv = { .page = page };
	struct cmsghdr *c;
	pthread_t t;
	struct gmem *gm;
	int lfd, conn, uffd = -1, ret;
	ssize_t n;

	(void)state;
	memset(page, 0x5a, sizeof(page));
	sock_path(path, sizeof(path), "handler");
	memcpy(sa.sun_path, path, strlen(path) + 1);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(gmem_create(2 * MIB, GAP_START, GAP_END, &gm), 0);
	/* The connection waits in the backlog, so this returns before accept(). */
	ret = gmem_uffd_send(gm, path, &uffd);
	if (ret == -ENOSYS || ret == -EPERM) {
		gmem_destroy(gm);
		close(lfd);
		unlink(path);
		no_userfaultfd(ret);
	}
	assert_int_equal(ret, 0);
	conn = accept(lfd, NULL, NULL);
	assert_true(conn >= 0);
	n = recvmsg(conn, &msg, 0);
	assert_true(n > 0);
	json[n] = '\0';
	snprintf(want, sizeof(want),
		 "[{\"base_host_virt_addr\": %llu, \"size\": %llu, \"offset\": 0, \"page_size\": "
		 "4096}]",
		 (unsigned long long)(uintptr_t)gm->regions[0].host, 2 * MIB);
	assert_string_equal(json, want);
	c = CMSG_FIRSTHDR(&msg);
	assert_non_null(c);
	assert_int_equal(c->cmsg_type, SCM_RIGHTS);
	memcpy(&srv.uffd, CMSG_DATA(c), sizeof(int));
	/* Nothing more on the connection: the VMM closed its end. */
	assert_int_equal(read(conn, json, 1), 0);

	/* A touch of guest memory waits for the handler, and reads its page. */
	assert_int_equal(pthread_create(&t, NULL, serve_one, &srv), 0);
	assert_int_equal(gm->regions[0].host[GMEM_PAGE_SIZE + 7], 0x5a);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(srv.ret, 0);

	close(srv.uffd);
	close(conn);
	close(lfd);
	unlink(path);
	gmem_destroy(gm);
	close(uffd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_has_firecrackers_fields_and_file_offsets),
		cmocka_unit_test(test_no_handler_listening),
		cmocka_unit_test(test_handler_gets_regions_and_serves_a_fault),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
