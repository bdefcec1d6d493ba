// Lesson 1.1b/1.1c: three ways to print a line. printf and fwrite are C library functions that
// collect text in stdout's buffer; write is the system call that every one of them ends in.
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	static const char raw[] = "write: Hello world.\n";

	/* TODO(1.1b) BEGIN: print one line each with printf, with fwrite to stdout, and with write(2) to fd 1 */
	printf("printf: Hello world.\n");
	fwrite("fwrite: Hello world.\n", 1, strlen("fwrite: Hello world.\n"), stdout);
	if (write(STDOUT_FILENO, raw, sizeof(raw) - 1) != (ssize_t)(sizeof(raw) - 1))
		return 1;
	/* TODO(1.1b) END */
	return 0;
}
