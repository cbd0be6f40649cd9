/* flood: a guest test program that writes console lines as fast as it can, forever.
 *
 * Each line is "flood N" padded to 80 bytes. A host whose console reader
 * stalls must drop lines, never stop the guest or the VMM (issue 19). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	char line[81];

	for (unsigned long n = 0;; n++) {
		int len = snprintf(line, sizeof(line), "flood %lu ", n);

		memset(line + len, '.', sizeof(line) - 1 - (size_t)len);
		line[sizeof(line) - 2] = '\n';
		if (write(STDOUT_FILENO, line, sizeof(line) - 1) < 0)
			return 1;
	}
}
