/* hello (provided.al2023): a function that is its own runtime: a static C program speaking the Lambda Runtime API.
 *
 * Lambda starts $LAMBDA_TASK_ROOT/bootstrap and gives it AWS_LAMBDA_RUNTIME_API
 * (host:port). The loop: GET .../invocation/next blocks until an event comes;
 * the answer's Lambda-Runtime-Aws-Request-Id header names it; POST the result
 * to .../invocation/<id>/response. Each call is one HTTP/1.1 request on its
 * own connection (Connection: close), read to its end: the smallest client
 * that speaks the API, for an example with no libraries beyond libc.
 * The result: {"message": "Hello from C!", "calls_in_this_instance": N,
 * "event": <the event, as sent>}. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define ANSWER_MAX (6u << 20) /* Lambda's payload limit, plus headers */

static char answer[ANSWER_MAX + 4096];
static char result[ANSWER_MAX + 256];

/* One request; the answer (headers, then body) in `answer`, its body returned. */
static char *call(const char *method, const char *path, const char *body, size_t len,
		  size_t *body_len)
{
	const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
	struct sockaddr_in a = { .sin_family = AF_INET };
	char host[64], head[512];
	struct iovec iov[2];
	size_t n = 0;
	ssize_t r;
	char *colon, *end;
	int fd;

	snprintf(host, sizeof(host), "%s", api ? api : "127.0.0.1:9001");
	colon = strchr(host, ':');
	a.sin_port = htons(colon ? (unsigned short)atoi(colon + 1) : 9001);
	if (colon)
		*colon = '\0';
	inet_pton(AF_INET, host, &a.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("bootstrap: connect to the Runtime API");
		exit(1);
	}
	iov[0].iov_base = head;
	iov[0].iov_len = (size_t)snprintf(head, sizeof(head),
					  "%s /2018-06-01/runtime/%s HTTP/1.1\r\nHost: %s\r\n"
					  "Connection: close\r\nContent-Length: %zu\r\n\r\n",
					  method, path, api ? api : "127.0.0.1:9001", len);
	iov[1].iov_base = (void *)body;
	iov[1].iov_len = len;
	if (writev(fd, iov, 2) != (ssize_t)(iov[0].iov_len + len)) {
		perror("bootstrap: send");
		exit(1);
	}
	while (n < sizeof(answer) - 1 && (r = read(fd, answer + n, sizeof(answer) - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	answer[n] = '\0';
	end = strstr(answer, "\r\n\r\n");
	if (end == NULL) {
		fprintf(stderr, "bootstrap: no answer to %s %s\n", method, path);
		exit(1);
	}
	*end = '\0';
	*body_len = n - (size_t)(end + 4 - answer);
	return end + 4;
}

/* A header of the last answer, or NULL. */
static const char *header(const char *name, char *out, size_t cap)
{
	for (char *l = strstr(answer, "\r\n"); l != NULL; l = strstr(l + 2, "\r\n")) {
		size_t k = strlen(name);

		if (strncasecmp(l + 2, name, k) == 0 && l[2 + k] == ':') {
			const char *v = l + 3 + k + strspn(l + 3 + k, " ");

			snprintf(out, cap, "%.*s", (int)strcspn(v, "\r"), v);
			return out;
		}
	}
	return NULL;
}

int main(void)
{
	unsigned long calls = 0;

	printf("bootstrap: hello from C, waiting for events\n");
	fflush(stdout);
	for (;;) {
		char id[128], path[256];
		size_t len, n, ignored;
		char *event = call("GET", "invocation/next", "", 0, &len);

		if (header("Lambda-Runtime-Aws-Request-Id", id, sizeof(id)) == NULL) {
			fprintf(stderr, "bootstrap: an event without a request id\n");
			return 1;
		}
		calls++;
		printf("hello: event %lu, %zu bytes\n", calls, len);
		fflush(stdout);
		n = (size_t)snprintf(
			result, sizeof(result),
			"{\"message\":\"Hello from C!\",\"calls_in_this_instance\":%lu,"
			"\"event\":",
			calls);
		/* The event is JSON already (the Lambda API checked it). */
		if (len + n + 2 > sizeof(result))
			len = 0; /* cannot happen within Lambda's limits */
		memcpy(result + n, len ? event : "null", len ? len : 4);
		n += len ? len : 4;
		result[n++] = '}';
		snprintf(path, sizeof(path), "invocation/%s/response", id);
		call("POST", path, result, n, &ignored);
	}
}
