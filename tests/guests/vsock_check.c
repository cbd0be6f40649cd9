/* vsock_check: a guest test program for virtio-vsock: echo, guest->host connect, bulk transfers.
 *
 * Parameters come from /proc/cmdline (no argv under ember.run=):
 *   vsockcheck.mode=echo-server|connect-host|sink|source
 *   vsockcheck.port=P   the guest port to listen on, or the host port to reach
 *   vsockcheck.count=N  echo-server: exit after N connections ended (0: never)
 *   vsockcheck.len=N    source: bytes to send
 *   vsockcheck.hash=0   sink/source: skip the SHA-256 (for throughput benchmarks)
 * Every line it prints starts with "vsockcheck: ". A server prints
 * "vsockcheck: listening port=P" once it listens. Bulk data is the pattern
 * byte(i) = ((i % 65536) * 131 + (i % 65536) / 256) & 0xff, and the
 * transfers print "bytes=N sha256=HEX". Exit status 0 on success. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/guests/guest_param.h"

#include <linux/vm_sockets.h>

#define BUF_SIZE     65536
#define HOST_CID     2u
#define LISTEN_QUEUE 256

/* --- SHA-256 (FIPS 180-4), enough for checking a transfer --- */

struct sha256 {
	uint32_t h[8];
	uint8_t block[64];
	size_t fill;
	uint64_t total;
};

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static uint32_t ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static void sha256_init(struct sha256 *s)
{
	static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

	memcpy(s->h, h0, sizeof(h0));
	s->fill = 0;
	s->total = 0;
}

static void sha256_block(struct sha256 *s, const uint8_t *p)
{
	uint32_t w[64], v[8];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++)
		w[i] = w[i - 16] + (ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3)) +
		       w[i - 7] + (ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10));
	memcpy(v, s->h, sizeof(v));
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = v[7] + (ror(v[4], 6) ^ ror(v[4], 11) ^ ror(v[4], 25)) +
			      ((v[4] & v[5]) ^ (~v[4] & v[6])) + K[i] + w[i];
		uint32_t t2 = (ror(v[0], 2) ^ ror(v[0], 13) ^ ror(v[0], 22)) +
			      ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));

		memmove(v + 1, v, 7 * sizeof(v[0]));
		v[4] += t1;
		v[0] = t1 + t2;
	}
	for (int i = 0; i < 8; i++)
		s->h[i] += v[i];
}

static void sha256_update(struct sha256 *s, const uint8_t *p, size_t n)
{
	s->total += n;
	while (n > 0) {
		size_t take = 64 - s->fill < n ? 64 - s->fill : n;

		memcpy(s->block + s->fill, p, take);
		s->fill += take;
		p += take;
		n -= take;
		if (s->fill == 64) {
			sha256_block(s, s->block);
			s->fill = 0;
		}
	}
}

static void sha256_hex(struct sha256 *s, char out[65])
{
	uint64_t bits = s->total * 8;
	uint8_t pad = 0x80, len[8];

	sha256_update(s, &pad, 1);
	pad = 0;
	while (s->fill != 56)
		sha256_update(s, &pad, 1);
	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_update(s, len, 8);
	for (int i = 0; i < 8; i++)
		snprintf(out + 8 * i, 9, "%08x", s->h[i]);
}

/* --- sockets --- */

static uint8_t pattern_block[BUF_SIZE];

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int listen_on(unsigned port)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK,
				  .svm_cid = VMADDR_CID_ANY,
				  .svm_port = port };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, LISTEN_QUEUE) < 0) {
		printf("vsockcheck: listen on port %u: %s\n", port, strerror(errno));
		exit(1);
	}
	printf("vsockcheck: listening port=%u\n", port);
	return fd;
}

static int accept_one(int lfd)
{
	int fd;

	do
		fd = accept(lfd, NULL, NULL);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		printf("vsockcheck: accept: %s\n", strerror(errno));
		exit(1);
	}
	return fd;
}

/* Echoes until the peer goes away (EOF, RST or any error). */
static void echo(int fd)
{
	static uint8_t buf[BUF_SIZE];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && write_all(fd, buf, (size_t)n) < 0)
			break;
	close(fd);
}

/* One child per connection, so that many run at once. */
static int echo_server(unsigned port, unsigned long count)
{
	int lfd = listen_on(port);
	unsigned long served = 0;

	signal(SIGCHLD, SIG_IGN); /* no zombies; wait() returns once all are gone */
	while (count == 0 || served < count) {
		int fd = accept_one(lfd);
		pid_t pid = fork();

		if (pid == 0) {
			close(lfd);
			echo(fd);
			_exit(0);
		}
		if (pid < 0) {
			printf("vsockcheck: fork: %s\n", strerror(errno));
			echo(fd);
		} else {
			close(fd);
		}
		served++;
	}
	while (wait(NULL) > 0 || errno == EINTR)
		;
	printf("vsockcheck: served %lu\n", served);
	return 0;
}

static int connect_host(unsigned port)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = HOST_CID, .svm_port = port };
	static const char hello[] = "hello from the guest\n";
	char line[256];
	size_t got = 0;
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		printf("vsockcheck: connect to 2:%u: %s\n", port, strerror(errno));
		return 1;
	}
	printf("vsockcheck: connected to 2:%u\n", port);
	if (write_all(fd, (const uint8_t *)hello, strlen(hello)) < 0) {
		printf("vsockcheck: write: %s\n", strerror(errno));
		return 1;
	}
	while (got < sizeof(line) - 1 && memchr(line, '\n', got) == NULL) {
		ssize_t n = read(fd, line + got, sizeof(line) - 1 - got);

		if (n <= 0) {
			printf("vsockcheck: read: %s\n", n < 0 ? strerror(errno) : "EOF");
			return 1;
		}
		got += (size_t)n;
	}
	line[got] = '\0';
	line[strcspn(line, "\n")] = '\0';
	printf("vsockcheck: host said '%s'\n", line);
	close(fd);
	return 0;
}

/* Reads one connection to its end and prints its size and SHA-256. */
static int sink(unsigned port, bool hash)
{
	static uint8_t buf[BUF_SIZE];
	int lfd = listen_on(port), fd = accept_one(lfd);
	struct sha256 s;
	uint64_t total;
	char hex[65];
	ssize_t n;

	sha256_init(&s);
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && hash)
			sha256_update(&s, buf, (size_t)n);
		else if (n > 0)
			s.total += (uint64_t)n;
	if (n < 0) {
		printf("vsockcheck: sink read: %s\n", strerror(errno));
		return 1;
	}
	total = s.total; /* before sha256_hex() adds the padding */
	sha256_hex(&s, hex);
	printf("vsockcheck: sink bytes=%llu sha256=%s\n", (unsigned long long)total, hex);
	close(fd);
	return 0;
}

/* Sends len pattern bytes on one connection, then waits for the peer to
 * close, so the VM does not end before the host has read everything. */
static int source(unsigned port, unsigned long long len, bool hash)
{
	int lfd = listen_on(port), fd = accept_one(lfd);
	unsigned long long sent = 0;
	struct sha256 s;
	uint8_t c;
	char hex[65];

	sha256_init(&s);
	while (sent < len) {
		size_t n = len - sent < BUF_SIZE ? (size_t)(len - sent) : BUF_SIZE;

		if (write_all(fd, pattern_block, n) < 0) {
			printf("vsockcheck: source write: %s\n", strerror(errno));
			return 1;
		}
		if (hash)
			sha256_update(&s, pattern_block, n);
		sent += n;
	}
	sha256_hex(&s, hex);
	printf("vsockcheck: source bytes=%llu sha256=%s\n", sent, hex);
	shutdown(fd, SHUT_WR);
	while (read(fd, &c, 1) > 0)
		;
	close(fd);
	return 0;
}

int main(void)
{
	const char *mode;
	unsigned port;
	bool hash;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (guest_param_load() < 0) {
		printf("vsockcheck: cannot read /proc/cmdline\n");
		return 1;
	}
	for (size_t i = 0; i < BUF_SIZE; i++)
		pattern_block[i] = (uint8_t)((i * 131 + i / 256) & 0xff);
	mode = guest_param("vsockcheck.mode", "echo-server");
	port = (unsigned)strtoul(guest_param("vsockcheck.port", "1234"), NULL, 10);
	if (strcmp(mode, "echo-server") == 0)
		return echo_server(port, strtoul(guest_param("vsockcheck.count", "0"), NULL, 10));
	if (strcmp(mode, "connect-host") == 0)
		return connect_host(port);
	hash = strcmp(guest_param("vsockcheck.hash", "1"), "0") != 0;
	if (strcmp(mode, "sink") == 0)
		return sink(port, hash);
	if (strcmp(mode, "source") == 0)
		return source(port, strtoull(guest_param("vsockcheck.len", "1048576"), NULL, 10),
			      hash);
	printf("vsockcheck: unknown mode '%s'\n", mode);
	return 1;
}
