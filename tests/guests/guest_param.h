/* guest_param: key=value parameters for guest test programs.
 *
 * Programs started by ember-init's ember.run= get no argv, so they take their
 * parameters from the kernel command line. guest_param_load() reads
 * /proc/cmdline once; guest_param() returns a key's value (a fresh copy, at
 * most 255 bytes) or the default. Header-only: each guest program is one
 * static binary built from one .c file. */
#ifndef EMBER_GUEST_PARAM_H
#define EMBER_GUEST_PARAM_H

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char guest_cmdline[4096];

/* Returns 0, or -1 if /proc/cmdline cannot be read. */
static inline int guest_param_load(void)
{
	int fd = open("/proc/cmdline", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, guest_cmdline, sizeof(guest_cmdline) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n < 0)
		return -1;
	guest_cmdline[n] = '\0';
	return 0;
}

static inline const char *guest_param(const char *key, const char *def)
{
	char val[256];
	size_t klen = strlen(key);

	for (char *p = guest_cmdline; (p = strstr(p, key)) != NULL; p += klen) {
		if ((p != guest_cmdline && p[-1] != ' ') || p[klen] != '=')
			continue;
		p += klen + 1;
		size_t n = strcspn(p, " \n");
		if (n >= sizeof(val))
			n = sizeof(val) - 1;
		memcpy(val, p, n);
		val[n] = '\0';
		return strdup(val);
	}
	return def;
}

#endif
