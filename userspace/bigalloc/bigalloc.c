// Lesson 1.6: "bigalloc MIB" asks malloc for MIB mebibytes in one contiguous block and writes to
// every page of it. Any size the machine can hold works; a request larger than all of memory is
// refused at once (malloc returns NULL), and the program must notice and say so.
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
	/* TODO(1.6) BEGIN: malloc `bytes`; on NULL print an error to stderr and return 1; else write to every page through a volatile pointer, then free */
	volatile char *block = malloc(bytes);

	if (block == NULL) {
		fprintf(stderr, "bigalloc: malloc of %lu MiB returned NULL\n", mib);
		return 1;
	}
	for (size_t offset = 0; offset < bytes; offset += PAGE)
		block[offset] = 1;
	free((void *)block);
	/* TODO(1.6) END */
	printf("bigalloc: %lu MiB (%zu bytes) in one block, every page written\n", mib, bytes);
	return 0;
}
