// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson 2.3: a NULL pointer dereference in the kernel. In chapter 1 the same bug cost one
 * process a SIGSEGV. Here the CPU faults in kernel mode: the kernel prints an oops naming the
 * faulting function, kills the task it was running for (insmod), and then either goes on with
 * whatever state the dead code left behind (panic_on_oops=0) or stops the machine (=1).
 *
 * allocate=1 allocates the counter first, so the same code runs without a fault.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/slab.h>

static bool allocate;
module_param(allocate, bool, 0444);
MODULE_PARM_DESC(allocate, "allocate the counter before using it (no crash)");

struct hit_counter {
	unsigned long hits;
};

/* Stays NULL unless allocate=1: the bug is using it without checking. */
static struct hit_counter *counter;

static int __init nullderef_init(void)
{
	if (allocate) {
		counter = kzalloc(sizeof(*counter), GFP_KERNEL);
		if (!counter)
			return -ENOMEM;
	}

	/* TODO(2.3) BEGIN: counter->hits++ without checking counter, then pr_info() it */
	counter->hits++;
	pr_info("hits: %lu\n", counter->hits);
	/* TODO(2.3) END */
	return 0;
}

static void __exit nullderef_exit(void)
{
	kfree(counter);
}

module_init(nullderef_init);
module_exit(nullderef_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Lesson 2.3: a NULL pointer dereference in module_init");
