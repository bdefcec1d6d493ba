// Lesson 1.7: a memory leak. It takes memory a mebibyte at a time, uses it and never frees it,
// until the machine runs out. The kernel's OOM killer then picks the biggest process, this one,
// and kills it; everything else keeps running.
#include <stdio.h>
#include <stdlib.h>

#define MIB (1UL << 20)
#define PAGE 4096

int main(void)
{
	/* TODO(1.7) BEGIN: forever: malloc 1 MiB, write to every page of it through a volatile pointer, never free it */
	for (unsigned long leaked = 1;; leaked++) {
		volatile char *block = malloc(MIB);

		if (block == NULL) {
			fprintf(stderr, "leak: malloc returned NULL after %lu MiB\n", leaked - 1);
			return 1;
		}
		for (size_t offset = 0; offset < MIB; offset += PAGE)
			block[offset] = 1;
		if (leaked % 32 == 0)
			fprintf(stderr, "leak: %lu MiB so far\n", leaked);
	}
	/* TODO(1.7) END */
	return 0;
}
