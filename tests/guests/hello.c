/* hello: a guest test program. It proves ember.run= starts a program from the
 * initramfs and reports its exit status: it prints a line and exits with 3. */
#include <stdio.h>

int main(void)
{
	printf("hello from the guest\n");
	return 3;
}
