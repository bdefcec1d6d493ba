// Lesson 1.1: the first user-space program. It runs in the guest and prints one line.
#include <stdio.h>

int main(void)
{
	printf("Hello world.\n");
	return 0;
}
