/* lambda_fn: a static `provided`-style bootstrap for the Lambda tests (a Runtime API client).
 *
 * Its behaviour comes from _HANDLER:
 *   echo       answers each event with its payload, byte for byte
 *   empty      answers {} (the benchmark's empty handler)
 *   initerror  posts /runtime/init/error and exits 1
 *   initexit   exits 4 before its first /next, without a word
 *   initsegv   dies of SIGSEGV before its first /next
 *              (both first print "lambda_fn: start N", N counting the starts
 *              in this VM in /tmp, which outlives the runtime)
 *   multi      the payload is a command: "error" posts /error, "exit" exits 3
 *              mid-invoke, "exit0" exits 0 mid-invoke, "kill" dies of
 *              SIGKILL mid-invoke, "env" answers with the environment and
 *              the event's headers, "fs" answers with checks of /tmp,
 *              /var/task and the uid, "log" prints a line on stdout and one
 *              on stderr, "rand" answers 16 bytes from getrandom() as a hex
 *              string (snapshot clones must differ), "ioport" answers whether
 *              a child can read the boot-timer I/O port without ioperm() and
 *              whether ioperm() is refused, "forkbomb" forks children that
 *              wait for ever until fork() fails and answers how many it made,
 *              fork()'s errno and its RLIMIT_NPROC; any other payload is answered
 *              with itself, byte for byte
 * It prints "lambda_fn: init" on stdout at start, and (except for empty) each
 * POST's status. Each HTTP call uses a new
 * connection with "Connection: close" and reads the answer to EOF. */
#include "lib/util/boot_timer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define BUF_MAX (8u << 20)
#define STARTS	"/tmp/lambda_fn.starts"

extern char **environ;
static char *resp; /* the last answer: headers, then body */
static size_t resp_len;
static int quiet; /* the empty handler logs nothing per invoke, as an empty function */

static void die(const char *what)
{
	fprintf(stderr, "lambda_fn: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* The request in one writev, as HTTP clients do: a second small write would
 * wait for the server's (delayed) ACK of the first under Nagle's rule. */
static void send_request(int fd, const char *head, const void *body, size_t len)
{
	struct iovec iov[2] = { { (void *)head, strlen(head) }, { (void *)body, len } };
	unsigned i = 0;

	while (i < 2) {
		ssize_t w = writev(fd, iov + i, (int)(2 - i));

		if (w <= 0)
			die("write");
		for (; i < 2 && (size_t)w >= iov[i].iov_len; i++)
			w -= (ssize_t)iov[i].iov_len;
		if (i < 2) {
			iov[i].iov_base = (char *)iov[i].iov_base + w;
			iov[i].iov_len -= (size_t)w;
		}
	}
}

/* Returns the body; the status code in *code. */
static char *http(const char *method, const char *path, const char *extra, const void *body,
		  size_t len, int *code, size_t *body_len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9001) };
	char head[1024];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;
	char *p;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect 127.0.0.1:9001");
	snprintf(head, sizeof(head),
		 "%s /2018-06-01/runtime/%s HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n"
		 "Connection: close\r\nContent-Length: %zu\r\n%s\r\n",
		 method, path, len, extra ? extra : "");
	send_request(fd, head, body, len);
	resp_len = 0;
	while ((n = read(fd, resp + resp_len, BUF_MAX - 1 - resp_len)) > 0)
		resp_len += (size_t)n;
	close(fd);
	resp[resp_len] = '\0';
	*code = atoi(resp + 9);
	p = strstr(resp, "\r\n\r\n");
	if (p == NULL)
		die("bad answer");
	*p = '\0';
	*body_len = resp_len - (size_t)(p + 4 - resp);
	return p + 4;
}

/* A header of the last answer (case-insensitive name), or "". */
static const char *header(const char *name, char *out, size_t len)
{
	for (char *l = strstr(resp, "\r\n"); l != NULL; l = strstr(l + 2, "\r\n")) {
		size_t n = strlen(name);

		if (strncasecmp(l + 2, name, n) == 0 && l[2 + n] == ':') {
			const char *v = l + 3 + n + strspn(l + 3 + n, " ");
			size_t k = strcspn(v, "\r");

			snprintf(out, len, "%.*s", (int)k, v);
			return out;
		}
	}
	out[0] = '\0';
	return out;
}

static void post(const char *id, const char *what, const char *extra, const void *body, size_t len)
{
	char path[256];
	int code;
	size_t bl;

	snprintf(path, sizeof(path), "invocation/%s/%s", id, what);
	http("POST", path, extra, body, len, &code, &bl);
	if (quiet)
		return;
	printf("lambda_fn: %s -> %d\n", what, code);
	fflush(stdout);
}

/* "key":"value", with the value's quotes and backslashes escaped. */
static size_t json_kv(char *out, size_t cap, const char *k, const char *v)
{
	size_t n = (size_t)snprintf(out, cap, "\"%s\":\"", k);

	for (; *v != '\0' && n + 4 < cap; v++) {
		if (*v == '"' || *v == '\\')
			out[n++] = '\\';
		out[n++] = *v;
	}
	return n + (size_t)snprintf(out + n, cap - n, "\",");
}

static size_t env_json(char *out, size_t cap)
{
	static const char *const keys[] = {
		"AWS_LAMBDA_FUNCTION_NAME",
		"AWS_LAMBDA_FUNCTION_VERSION",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
		"AWS_LAMBDA_RUNTIME_API",
		"_HANDLER",
		"LAMBDA_TASK_ROOT",
		"LAMBDA_RUNTIME_DIR",
		"AWS_REGION",
		"AWS_DEFAULT_REGION",
		"TZ",
		"LANG",
		"PATH",
		"LD_LIBRARY_PATH",
		"AWS_LAMBDA_LOG_GROUP_NAME",
		"AWS_LAMBDA_LOG_STREAM_NAME",
		"AWS_EXECUTION_ENV",
		"MY_VAR",
		"HOME",
	};
	size_t n = (size_t)snprintf(out, cap, "{");

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = getenv(keys[i]);

		if (v != NULL)
			n += json_kv(out + n, cap - n, keys[i], v);
	}
	return n;
}

/* How many times a bootstrap started in this VM, this one included. */
static int count_start(void)
{
	FILE *f = fopen(STARTS, "r");
	int n = 0;

	if (f != NULL) {
		if (fscanf(f, "%d", &n) != 1)
			n = 0;
		fclose(f);
	}
	f = fopen(STARTS, "w");
	if (f == NULL || fprintf(f, "%d\n", n + 1) < 0 || fclose(f) != 0)
		die("write " STARTS);
	return n + 1;
}

/* The boot-timer port is ember-init's: a child that reads it without
 * ioperm() must die of SIGSEGV (#GP), and ioperm() must be refused (EPERM:
 * no CAP_SYS_RAWIO). A child that survives means the port was inherited. */
static void port_report(char *out, size_t cap)
{
	int status = 0, e;
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		(void)inb(BOOT_TIMER_PORT);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	e = ioperm(BOOT_TIMER_PORT, 1, 1) == 0 ? 0 : errno;
	snprintf(out, cap, "{\"inb\":\"%s\",\"signal\":%d,\"ioperm_errno\":%d}",
		 WIFSIGNALED(status) ? "refused" : "allowed",
		 WIFSIGNALED(status) ? WTERMSIG(status) : 0, e);
}

/* Forks until fork() fails; each child waits for ever (a kill ends it). */
static void fork_bomb(char *out, size_t cap)
{
	struct rlimit rl;
	unsigned n = 0;
	pid_t pid;
	int e;

	fflush(stdout);
	while ((pid = fork()) >= 0) {
		if (pid == 0)
			for (;;)
				pause();
		n++;
	}
	e = errno;
	getrlimit(RLIMIT_NPROC, &rl);
	snprintf(out, cap, "{\"forks\":%u,\"errno\":%d,\"nproc\":%lld}", n, e,
		 rl.rlim_cur == RLIM_INFINITY ? -1LL : (long long)rl.rlim_cur);
}

int main(void)
{
	const char *handler = getenv("_HANDLER");
	static char id[128], tmp[4096];
	int code;
	size_t len;

	resp = malloc(BUF_MAX);
	if (resp == NULL || handler == NULL)
		die("setup");
	printf("lambda_fn: init\n");
	fflush(stdout);
	quiet = strcmp(handler, "empty") == 0;
	if (strcmp(handler, "initerror") == 0) {
		static const char e[] =
			"{\"errorMessage\":\"init failed\",\"errorType\":\"InitBoom\"}";

		http("POST", "init/error", "Lambda-Runtime-Function-Error-Type: InitBoom\r\n", e,
		     strlen(e), &code, &len);
		printf("lambda_fn: init/error -> %d\n", code);
		return 1;
	}
	if (strcmp(handler, "initexit") == 0 || strcmp(handler, "initsegv") == 0) {
		printf("lambda_fn: start %d\n", count_start());
		fflush(stdout);
		if (handler[4] == 'e')
			return 4;
		raise(SIGSEGV);
	}
	for (;;) {
		char *ev = http("GET", "invocation/next", NULL, "", 0, &code, &len);
		char *payload = malloc(len + 1);

		if (code != 200 || payload == NULL)
			die("next");
		memcpy(payload, ev, len);
		payload[len] = '\0';
		header("Lambda-Runtime-Aws-Request-Id", id, sizeof(id));
		if (strcmp(handler, "echo") == 0) {
			post(id, "response", NULL, payload, len);
		} else if (strcmp(handler, "empty") == 0) {
			post(id, "response", NULL, "{}", 2);
		} else if (strcmp(payload, "error") == 0) {
			static const char e[] =
				"{\"errorMessage\":\"boom\",\"errorType\":\"Boom\"}";

			post(id, "error", "Lambda-Runtime-Function-Error-Type: Unhandled\r\n", e,
			     strlen(e));
		} else if (strcmp(payload, "exit") == 0) {
			printf("lambda_fn: exiting\n");
			return 3;
		} else if (strcmp(payload, "exit0") == 0) {
			printf("lambda_fn: exiting with 0\n");
			return 0;
		} else if (strcmp(payload, "kill") == 0) {
			printf("lambda_fn: killing itself\n");
			fflush(stdout);
			raise(SIGKILL);
		} else if (strcmp(payload, "ioport") == 0) {
			port_report(tmp, sizeof(tmp));
			post(id, "response", NULL, tmp, strlen(tmp));
		} else if (strcmp(payload, "forkbomb") == 0) {
			fork_bomb(tmp, sizeof(tmp));
			post(id, "response", NULL, tmp, strlen(tmp));
		} else if (strcmp(payload, "rand") == 0) {
			unsigned char r[16];
			char hex[2 * sizeof(r) + 3] = "\"";

			if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
				die("getrandom");
			for (unsigned i = 0; i < sizeof(r); i++)
				snprintf(hex + 1 + 2 * i, 3, "%02x", r[i]);
			strcat(hex, "\"");
			post(id, "response", NULL, hex, strlen(hex));
		} else if (strcmp(payload, "log") == 0) {
			printf("to stdout %s\n", id);
			fprintf(stderr, "to stderr %s\n", id);
			fflush(stdout);
			post(id, "response", NULL, "\"logged\"", 8);
		} else if (strcmp(payload, "env") == 0) {
			static const char *const hs[] = {
				"Lambda-Runtime-Aws-Request-Id",
				"Lambda-Runtime-Deadline-Ms",
				"Lambda-Runtime-Invoked-Function-Arn",
				"Lambda-Runtime-Trace-Id",
				"Lambda-Runtime-Client-Context",
				"Lambda-Runtime-Cognito-Identity",
				"Content-Type",
			};
			size_t n = env_json(tmp, sizeof(tmp));
			char v[1024];

			n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "\"headers\":{");
			for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
				if (header(hs[i], v, sizeof(v))[0] != '\0')
					n += json_kv(tmp + n, sizeof(tmp) - n, hs[i], v);
			snprintf(tmp + n - 1, sizeof(tmp) - n + 1, "}}");
			post(id, "response", NULL, tmp, strlen(tmp));
		} else if (strcmp(payload, "fs") == 0) {
			int t = open("/tmp/x", O_WRONLY | O_CREAT | O_TRUNC, 0600);
			int v = open("/var/task/x", O_WRONLY | O_CREAT | O_TRUNC, 0600);
			int ve = errno;

			snprintf(tmp, sizeof(tmp),
				 "{\"uid\":%u,\"gid\":%u,\"euid\":%u,\"tmp_ok\":%s,"
				 "\"task_errno\":%d,\"cwd_task\":%s}",
				 getuid(), getgid(), geteuid(),
				 t >= 0 && write(t, "x", 1) == 1 ? "true" : "false",
				 v >= 0 ? 0 : ve,
				 access("bootstrap", X_OK) == 0 ? "true" : "false");
			post(id, "response", NULL, tmp, strlen(tmp));
		} else {
			post(id, "response", NULL, payload, len);
		}
		free(payload);
	}
}
