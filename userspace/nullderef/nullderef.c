// Lesson 1.3: a store through a NULL pointer. The CPU faults, the kernel sends SIGSEGV and logs
// a "segfault at 0" line; only this process dies.
#include <stddef.h>

int main(void)
{
	/* TODO(1.3) BEGIN: write an int through a NULL pointer (volatile int *volatile, or gcc deletes the store) */
	volatile int *volatile pointer = NULL;

	*pointer = 1;
	/* TODO(1.3) END */
	return 0;
}
