// SPDX-License-Identifier: GPL-2.0
/*
 * exit-with: the smallest program the exec benchmarks run. No C library (-nostdlib): it exits
 * with the number given as its first argument, so the loop can tell that this very exec ran,
 * and nothing but the exec itself is timed. About 10 KB, one page of code.
 */

static __attribute__((noreturn)) void exit_now(long status)
{
	for (;;)
		__asm__ volatile("syscall" : : "a"(231L /* exit_group */), "D"(status) : "rcx", "r11", "memory");
}

/* Called by _start with the initial stack: argc, then argv[]. */
__attribute__((used, noreturn)) void start_c(long *stack)
{
	long argc = stack[0];
	char **argv = (char **)(stack + 1);
	long status = 0;

	if (argc > 1)
		for (const char *p = argv[1]; *p >= '0' && *p <= '9'; p++)
			status = status * 10 + (*p - '0');
	exit_now(status);
}

__asm__(".text\n"
	".globl _start\n"
	"_start:\n"
	"	xor %rbp, %rbp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call start_c\n");
