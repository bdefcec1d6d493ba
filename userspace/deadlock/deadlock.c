// Lesson 1.2b: run twice with the two lock files swapped ("deadlock a b" and "deadlock b a").
// Each process holds one flock and sleeps waiting for the other's: neither can go on, and the
// kernel does not detect it. SIGKILL to one releases its lock and lets the other finish.
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int first, second;

	if (argc != 3) {
		fprintf(stderr, "usage: %s FIRST-LOCK-FILE SECOND-LOCK-FILE\n", argv[0]);
		return 2;
	}
	first = open(argv[1], O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	second = open(argv[2], O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (first < 0 || second < 0) {
		perror("deadlock: open");
		return 1;
	}
	/* TODO(1.2b) BEGIN: flock(LOCK_EX) the first file, sleep a second so the other process takes its own first lock, then flock(LOCK_EX) the second */
	if (flock(first, LOCK_EX)) {
		perror("deadlock: flock first");
		return 1;
	}
	printf("deadlock %d: holding %s, now waiting for %s\n", getpid(), argv[1], argv[2]);
	fflush(stdout);
	sleep(1);
	if (flock(second, LOCK_EX)) {
		perror("deadlock: flock second");
		return 1;
	}
	/* TODO(1.2b) END */
	printf("deadlock %d: done\n", getpid());
	return 0;
}
