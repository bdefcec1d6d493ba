// Lesson 2.7's user-space side: innocent processes that hold memory, and the writer that makes
// kernel/kleak leak. Each renames itself (prctl PR_SET_NAME) so the OOM killer's report says
// who it killed.
//   kleak-driver hold MB              "innocent": touch MB of memory, then sleep for ever
//   kleak-driver leak FILE MAX_MB     "leaker": write 1 MB blocks to FILE, up to MAX_MB in all
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define MB (1024 * 1024)

// keeps the innocent's memory reachable, so the compiler cannot drop the malloc
static char *volatile held;

static int hold(long mb)
{
	prctl(PR_SET_NAME, "innocent");
	held = malloc(mb * MB);
	if (!held) {
		perror("malloc");
		return 1;
	}
	memset(held, 0x11, mb * MB);
	printf("holding %ld MB\n", mb);
	fflush(stdout);
	for (;;)
		pause();
}

static int leak(const char *file, long max_mb)
{
	static char block[MB];
	long mb;
	int fd;

	prctl(PR_SET_NAME, "leaker");
	fd = open(file, O_WRONLY);
	if (fd < 0) {
		perror(file);
		return 1;
	}
	memset(block, 0x22, sizeof(block));
	for (mb = 0; mb < max_mb; mb++) {
		if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block)) {
			printf("write %ld failed: %s\n", mb + 1, strerror(errno));
			return 1;
		}
		if ((mb + 1) % 64 == 0) {
			printf("wrote %ld MB\n", mb + 1);
			fflush(stdout);
		}
	}
	printf("wrote %ld MB, the kernel is still running\n", max_mb);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "hold"))
		return hold(atol(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "leak"))
		return leak(argv[2], atol(argv[3]));
	fprintf(stderr, "usage: %s hold MB | leak FILE MAX_MB\n", argv[0]);
	return 2;
}
