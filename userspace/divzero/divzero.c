// Lesson 1.4: integer division by zero. The CPU raises a divide error, the kernel sends SIGFPE
// and logs a "trap divide error" line; only this process dies.
#include <stdio.h>

int main(void)
{
	/* TODO(1.4) BEGIN: divide two ints kept in volatile variables, the divisor 0, and print the quotient */
	/* both volatile: gcc turns 1 / x into a comparison with no division in it */
	volatile int dividend = 42, divisor = 0;
	int quotient = dividend / divisor;

	printf("%d / %d = %d\n", dividend, divisor, quotient);
	/* TODO(1.4) END */
	return 0;
}
