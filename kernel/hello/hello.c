// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson 2.1: the first kernel module. module_init runs in the insmod process's context,
 * module_exit in rmmod's; both write to the kernel log with printk (pr_info).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>

static int __init hello_init(void)
{
	/* TODO(2.1) BEGIN: print "Hello world." and a newline with pr_info() */
	pr_info("Hello world.\n");
	/* TODO(2.1) END */
	return 0;
}

static void __exit hello_exit(void)
{
	/* TODO(2.1) BEGIN: print "Goodbye world." and a newline with pr_info() */
	pr_info("Goodbye world.\n");
	/* TODO(2.1) END */
}

module_init(hello_init);
module_exit(hello_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Lesson 2.1: printk from module_init and module_exit");
