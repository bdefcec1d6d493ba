// Lesson 1.2: a program that never ends on its own. It keeps the CPU busy (state R) until
// someone finds it with pidof and ends it with SIGKILL (kill -9).
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	printf("busyloop %d: find me with \"pidof busyloop\", end me with \"kill -9\"\n", getpid());
	fflush(stdout);
	/* TODO(1.2) BEGIN: loop forever, counting in a volatile variable so the compiler keeps the loop */
	volatile unsigned long spins = 0;

	for (;;)
		spins++;
	/* TODO(1.2) END */
	return 0;
}
