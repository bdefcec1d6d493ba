// SPDX-License-Identifier: GPL-2.0
/*
 * execloop: times execs inside the guest, where they happen. A host round trip through the
 * agent costs ~5 ms under TCG and would hide a sub-millisecond exec, so the loop runs here and
 * prints only its figures.
 *
 *   execloop [-j LOOPS] [-n PASSES] [-v] ENTRY...
 *
 * Each of LOOPS concurrent loops (forked processes) goes PASSES times through the ENTRY list.
 * One exec is fork + execve + waitpid, timed with CLOCK_MONOTONIC around all three. Every exec
 * gets one argument, a number from 0 to 99 that changes from exec to exec; ENTRY is
 *
 *   PATH     a program that must run and exit with that number (bench/guest/exit-with, or
 *            fixtures/lsm/hello-exec), or
 *   -PATH    a program that must be refused: execve fails with EPERM.
 *
 * So an answer that is lost (the exec waits until the module's timeout and fail_closed refuses
 * it) or given to the wrong exec (a clean program refused, the marker run) counts as wrong.
 * Output, one line (times in microseconds):
 *
 *   execloop loops=J execs=N ok=N wrong=W wall_us=W per_sec=R median_us=M p10_us=A p90_us=B min_us=C max_us=D
 *
 * then "wrong ..." lines for the first few wrong execs, and with -v "exec_us PATH T" for each.
 * Exit status 0 when every exec was as expected, 1 otherwise, 2 on a usage or system error.
 *
 * Build: gcc -O2 -static -Wall -Wextra -o execloop execloop.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What a child exits with when execve() failed: EPERM (the gate refused) or anything else. */
#define REFUSED 126
#define EXEC_FAILED 127
#define MAX_WRONG_SHOWN 5

struct shared {
	long ok;
	long wrong;
	double exec_us[];	/* loops * execs_per_loop, each loop writes its own slice */
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* One exec of path with argument `number`: its wait status, or -1 if fork failed. */
static int exec_once(const char *path, int number, int devnull)
{
	char arg[8];
	char *argv[] = { (char *)path, arg, NULL };
	char *envp[] = { NULL };
	int status;
	pid_t pid;

	snprintf(arg, sizeof(arg), "%d", number);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(devnull, STDOUT_FILENO);
		execve(path, argv, envp);
		_exit(errno == EPERM ? REFUSED : EXEC_FAILED);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

/* One loop: PASSES times through the entries; each exec's time into `times`. */
static void run_loop(int loop, int passes, int count, char **entries, struct shared *sh, double *times,
		     int verbose)
{
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int n = 0;

	for (int pass = 0; pass < passes; pass++) {
		for (int i = 0; i < count; i++, n++) {
			int refuse = entries[i][0] == '-';
			const char *path = entries[i] + refuse;
			int number = (loop * 37 + n) % 100;
			double t0 = now_us();
			int status = exec_once(path, number, devnull);
			int expected = refuse ? REFUSED : number;
			int got = status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;

			times[n] = now_us() - t0;
			if (got == expected) {
				__atomic_add_fetch(&sh->ok, 1, __ATOMIC_RELAXED);
			} else if (__atomic_add_fetch(&sh->wrong, 1, __ATOMIC_RELAXED) <= MAX_WRONG_SHOWN) {
				printf("wrong loop=%d path=%s expected=%d got=%d (wait status %d)\n", loop, path,
				       expected, got, status);
				fflush(stdout);
			}
			if (verbose) {
				printf("exec_us %s %.1f\n", path, times[n]);
				fflush(stdout);
			}
		}
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: execloop [-j LOOPS] [-n PASSES] [-v] [-]PATH...\n");
	return 2;
}

int main(int argc, char **argv)
{
	int loops = 1, passes = 1, verbose = 0, opt;
	long per_loop, total;
	struct shared *sh;
	size_t size;
	double t0, wall;

	while ((opt = getopt(argc, argv, "+j:n:v")) != -1) {
		if (opt == 'j')
			loops = atoi(optarg);
		else if (opt == 'n')
			passes = atoi(optarg);
		else if (opt == 'v')
			verbose = 1;
		else
			return usage();
	}
	if (loops < 1 || passes < 1 || optind == argc)
		return usage();
	per_loop = (long)passes * (argc - optind);
	total = per_loop * loops;
	size = sizeof(*sh) + sizeof(double) * (size_t)total;
	/* shared with the loops: they are processes, so their figures come back through memory */
	sh = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("execloop: mmap");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	t0 = now_us();
	if (loops == 1) {
		run_loop(0, passes, argc - optind, argv + optind, sh, sh->exec_us, verbose);
	} else {
		for (int loop = 0; loop < loops; loop++) {
			pid_t pid = fork();

			if (pid < 0) {
				perror("execloop: fork");
				return 2;
			}
			if (pid == 0) {
				run_loop(loop, passes, argc - optind, argv + optind, sh, sh->exec_us + loop * per_loop,
					 verbose);
				_exit(0);
			}
		}
		while (wait(NULL) > 0 || errno == EINTR)
			;
	}
	wall = now_us() - t0;

	qsort(sh->exec_us, (size_t)total, sizeof(double), compare);
	printf("execloop loops=%d execs=%ld ok=%ld wrong=%ld wall_us=%.0f per_sec=%.1f median_us=%.1f p10_us=%.1f "
	       "p90_us=%.1f min_us=%.1f max_us=%.1f\n",
	       loops, total, sh->ok, sh->wrong, wall, total / (wall / 1e6), sh->exec_us[total / 2],
	       sh->exec_us[total / 10], sh->exec_us[total * 9 / 10], sh->exec_us[0], sh->exec_us[total - 1]);
	return sh->ok == total ? 0 : 1;
}
