/* uffdmsg: encode, check, send and receive the Uffd backend's region message (see uffdmsg.h). */
#include "lib/uffdmsg/uffdmsg.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Integers up to 2^53 are exact in a JSON number (a double). */
#define JSON_INT_MAX (1ull << 53)

static const char *const fields[] = { "base_host_virt_addr", "size", "offset", "page_size" };

int uffdmsg_encode(const struct uffdmsg_region *r, unsigned n, char *buf, size_t cap)
{
	size_t len = 0;

	for (unsigned i = 0; i <= n; i++) {
		int w = i == n ? snprintf(buf + len, cap - len, "]")
			       : snprintf(buf + len, cap - len,
					  "%s{\"%s\": %llu, \"%s\": %llu, \"%s\": %llu, \"%s\": "
					  "%llu}",
					  i == 0 ? "[" : ", ", fields[0],
					  (unsigned long long)r[i].base_host_virt_addr, fields[1],
					  (unsigned long long)r[i].size, fields[2],
					  (unsigned long long)r[i].offset, fields[3],
					  (unsigned long long)r[i].page_size);

		if (w < 0 || (size_t)w >= cap - len)
			return -ENOSPC;
		len += (size_t)w;
	}
	return n == 0 ? -EINVAL : (int)len;
}

static bool get_u64(const cJSON *obj, const char *key, uint64_t *v)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsNumber(item) || item->valuedouble < 0 ||
	    item->valuedouble >= (double)JSON_INT_MAX ||
	    item->valuedouble != (double)(uint64_t)item->valuedouble)
		return false;
	*v = (uint64_t)item->valuedouble;
	return true;
}

static int check_region(const cJSON *o, struct uffdmsg_region *r, unsigned i, char *err,
			size_t errlen)
{
	uint64_t *v[] = { &r->base_host_virt_addr, &r->size, &r->offset, &r->page_size };
	int nfields = 0;
	const cJSON *f;

	if (!cJSON_IsObject(o)) {
		snprintf(err, errlen, "region %u is not an object", i);
		return -EINVAL;
	}
	cJSON_ArrayForEach(f, o) nfields++;
	for (unsigned k = 0; k < 4; k++) {
		if (!get_u64(o, fields[k], v[k])) {
			snprintf(err, errlen, "region %u: %s is missing or not an integer", i,
				 fields[k]);
			return -EINVAL;
		}
	}
	if (nfields != 4) {
		snprintf(err, errlen, "region %u: unknown fields", i);
		return -EINVAL;
	}
	if (r->page_size != UFFDMSG_PAGE_SIZE || r->size == 0 ||
	    r->base_host_virt_addr % r->page_size || r->size % r->page_size ||
	    r->offset % r->page_size) {
		snprintf(err, errlen, "region %u: not whole %d-byte pages", i, UFFDMSG_PAGE_SIZE);
		return -EINVAL;
	}
	return 0;
}

int uffdmsg_decode(const char *json, struct uffdmsg_region *out, unsigned *n, char *err,
		   size_t errlen)
{
	cJSON *root = cJSON_Parse(json);
	const cJSON *item;
	unsigned i = 0;
	int ret = 0;

	if (!cJSON_IsArray(root) || cJSON_GetArraySize(root) < 1 ||
	    cJSON_GetArraySize(root) > UFFDMSG_MAX_REGIONS) {
		snprintf(err, errlen, "not a JSON array of 1 to %d regions", UFFDMSG_MAX_REGIONS);
		ret = -EINVAL;
	}
	cJSON_ArrayForEach(item, root)
	{
		if (ret < 0)
			break;
		ret = check_region(item, &out[i], i, err, errlen);
		i++;
	}
	cJSON_Delete(root);
	if (ret == 0)
		*n = i;
	return ret;
}

int uffdmsg_send(const char *sock_path, const char *json, size_t len, int uffd, char *err,
		 size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)json, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c;
	ssize_t sent;
	int fd, ret;

	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "too long for a Unix socket");
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return ret;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		snprintf(err, errlen, "no page-fault handler listening (%s)", strerror(errno));
		goto out;
	}
	memset(ctl.buf, 0, sizeof(ctl.buf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &uffd, sizeof(int));
	/* MSG_NOSIGNAL: a handler that already closed is an error, not SIGPIPE. */
	sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
	if (sent < 0 || (size_t)sent != len) {
		ret = sent < 0 ? -errno : -EPIPE;
		snprintf(err, errlen, "the page-fault handler closed the connection (%s)",
			 strerror(-ret));
		goto out;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

/* The sender closes after its one sendmsg(), so read to EOF. */
int uffdmsg_recv(int conn, char *json, size_t cap, int *uffd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	size_t len = 0;

	*uffd = -1;
	if (cap == 0)
		return -EINVAL;
	for (;;) {
		struct iovec iov = { .iov_base = json + len, .iov_len = cap - 1 - len };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (*uffd < 0) {
			msg.msg_control = ctl.buf;
			msg.msg_controllen = sizeof(ctl.buf);
		}
		n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail_errno;
		len += (size_t)n;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
			    c->cmsg_len == CMSG_LEN(sizeof(int)) && *uffd < 0)
				memcpy(uffd, CMSG_DATA(c), sizeof(int));
		if (msg.msg_flags & MSG_CTRUNC) {
			errno = EPROTO;
			goto fail_errno;
		}
		if (n == 0)
			break;
		if (len == cap - 1) {
			errno = EMSGSIZE;
			goto fail_errno;
		}
	}
	json[len] = '\0';
	if (*uffd < 0)
		return -EPROTO; /* no userfaultfd came with the message */
	return 0;

fail_errno : {
	int ret = -errno;

	if (*uffd >= 0)
		close(*uffd);
	*uffd = -1;
	return ret;
}
}
