// Lesson 1.5: "bigstack MIB" puts an array of MIB mebibytes on the stack and writes to every
// page of it. The stack grows on demand up to the limit of "ulimit -s" (8 MiB by default);
// past it, the kernel refuses to grow the stack and the program dies by SIGSEGV.
#include <stdio.h>
#include <stdlib.h>

#define PAGE 4096

int main(int argc, char **argv)
{
	unsigned long mib;
	size_t bytes;
	char *end;

	if (argc != 2 || (mib = strtoul(argv[1], &end, 10)) == 0 || *end) {
		fprintf(stderr, "usage: %s MIB (a whole number of mebibytes, at least 1)\n", argv[0]);
		return 2;
	}
	bytes = mib << 20;
	/* TODO(1.5) BEGIN: declare a char array of `bytes` bytes on the stack and write to one byte in every page of it through a volatile pointer */
	char array[bytes];
	volatile char *page = array;

	for (size_t offset = 0; offset < bytes; offset += PAGE)
		page[offset] = 1;
	/* TODO(1.5) END */
	printf("bigstack: %lu MiB (%zu bytes) on the stack, every page written\n", mib, bytes);
	return 0;
}
