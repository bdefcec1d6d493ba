// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson 2.4: an integer division by zero in the kernel. In chapter 1 it cost one process a
 * SIGFPE. In kernel mode the CPU's divide error (#DE) becomes an oops; the task is killed
 * (with SIGSEGV here, not SIGFPE), and panic_on_oops decides whether the machine goes on.
 *
 * The divisor is a module parameter, so the compiler cannot see it is zero: divisor=4 works.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>

static int dividend = 100;
module_param(dividend, int, 0444);
MODULE_PARM_DESC(dividend, "the number to divide");

static int divisor;
module_param(divisor, int, 0444);
MODULE_PARM_DESC(divisor, "the number to divide by (0 by default: the bug)");

static int __init divzero_init(void)
{
	/* TODO(2.4) BEGIN: pr_info() dividend / divisor ("%d / %d = %d\n"), divisor unchecked */
	pr_info("%d / %d = %d\n", dividend, divisor, dividend / divisor);
	/* TODO(2.4) END */
	return 0;
}

static void __exit divzero_exit(void)
{
	pr_info("unloaded\n");
}

module_init(divzero_init);
module_exit(divzero_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Lesson 2.4: an integer division by zero in module_init");
