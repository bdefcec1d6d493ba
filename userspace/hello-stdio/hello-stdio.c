// Lesson 1.1b (strace and ltrace): three ways to print a line. printf and fwrite are C library functions
// that collect text in stdout's buffer; write is the library's thin wrapper around the write
// system call, which is where all three end up.
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	/* TODO(1.1b) BEGIN: print "printf: Hello world.\n" with printf, "fwrite: Hello world.\n" with fwrite to stdout, "write: Hello world.\n" with write to fd 1 */
	static const char with_fwrite[] = "fwrite: Hello world.\n";
	static const char with_write[] = "write: Hello world.\n";

	printf("printf: Hello world.\n");
	fwrite(with_fwrite, 1, sizeof(with_fwrite) - 1, stdout);
	if (write(STDOUT_FILENO, with_write, sizeof(with_write) - 1) < 0)
		return 1;
	/* TODO(1.1b) END */
	return 0;
}
