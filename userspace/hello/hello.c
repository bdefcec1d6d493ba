// Lesson 1.1: the first user-space program. It runs in the guest and prints one line.
#include <stdio.h>

int main(void)
{
	/* TODO(1.1) BEGIN: print "Hello world." and a newline to standard output with printf */
	printf("Hello world.\n");
	/* TODO(1.1) END */
	return 0;
}
