/* snapstate: a guest test program whose state a snapshot must carry.
 * It keeps a counter in memory and a file in tmpfs, and listens on vsock
 * port SNAPSTATE_PORT. Each connection sends command lines and gets one line
 * back per command:
 *   inc   -> the counter goes up by one and the file gets a '+';
 *   get   -> no change;
 *   rand  -> 16 bytes from getrandom(), in hex;
 * every answer but rand is "counter=N file=CONTENT". It prints
 * "snapstate: ready" once it listens. The listening socket lives across a
 * snapshot; connections do not (the device resets them). */
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define SNAPSTATE_PORT 5000
#define STATE_FILE     "/tmp/snapstate"

static unsigned long counter;

static int answer(int c, const char *cmd)
{
	char buf[512], file[256] = "";
	unsigned char r[16];
	int fd, n = 0;
	ssize_t got;

	if (strcmp(cmd, "rand") == 0) {
		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
			return -1;
		for (unsigned i = 0; i < sizeof(r); i++)
			n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%02x", r[i]);
		buf[n++] = '\n';
		return write(c, buf, (size_t)n) == n ? 0 : -1;
	}
	if (strcmp(cmd, "inc") == 0) {
		counter++;
		fd = open(STATE_FILE, O_WRONLY | O_APPEND);
		if (fd < 0 || write(fd, "+", 1) != 1)
			return -1;
		close(fd);
	} else if (strcmp(cmd, "get") != 0) {
		return -1;
	}
	fd = open(STATE_FILE, O_RDONLY);
	got = fd >= 0 ? read(fd, file, sizeof(file) - 1) : -1;
	if (fd >= 0)
		close(fd);
	file[got > 0 ? got : 0] = '\0';
	n = snprintf(buf, sizeof(buf), "counter=%lu file=%s\n", counter, file);
	return write(c, buf, (size_t)n) == n ? 0 : -1;
}

static void serve(int c)
{
	char line[64];
	size_t len = 0;
	char ch;

	while (read(c, &ch, 1) == 1) {
		if (ch != '\n') {
			if (len + 1 < sizeof(line))
				line[len++] = ch;
			continue;
		}
		line[len] = '\0';
		len = 0;
		if (answer(c, line) < 0)
			break;
	}
	close(c);
}

int main(void)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK,
				 .svm_cid = VMADDR_CID_ANY,
				 .svm_port = SNAPSTATE_PORT };
	int fd = open(STATE_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (fd < 0 || write(fd, "base", 4) != 4 || s < 0 ||
	    bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 4) < 0) {
		printf("snapstate: setup failed: %s\n", strerror(errno));
		return 1;
	}
	close(fd);
	printf("snapstate: ready\n");
	for (;;) {
		int c = accept(s, NULL, NULL);

		if (c >= 0)
			serve(c);
	}
}
